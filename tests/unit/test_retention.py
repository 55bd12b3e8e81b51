"""Retention on a real Redis: every kind of key gets its own expiry, shared streams are trimmed by age,
unknown keys are listed, and events without an id get a dedup key of their own."""

from __future__ import annotations

import time

import pytest
import redis

from workers import retention
from workers.errors import ConfigError
from workers.incidents import IncidentStore
from workers.settings import RetentionSettings, Settings

DAY = 86_400


def _settings() -> RetentionSettings:
    return RetentionSettings(
        incident=1, messages=2, board=3, findings=4, egress=5, channel=6, postmortem=7, audit=8
    )


def test_each_kind_gets_its_own_retention(client: redis.Redis) -> None:
    keys = {
        "ic:incident:INC-1": "incident",
        "ic:incident:INC-1:messages": "messages",
        "ic:incident:INC-1:board": "board",
        "ic:incident:INC-1:timeline": "board",
        "ic:incident:INC-1:findings": "findings",
        "ic:incident:INC-1:egress": "egress",
        "ic:incident:INC-1:audit": "audit",
        "ic:incident:INC-1:something-new": "incident",
        "ic:channel:C1:incident": "channel",
        "ic:postmortem:INC-1": "postmortem",
    }
    for key in keys:
        client.set(key, "x")
    client.set("ic:kb:record:INC-OLD", "{}")
    client.set("ic:kept-by-nobody", "x")
    client.set("ic:channel:C2:incident", "x", ex=30)  # a shorter expiry of its own is left alone
    client.set("ic:event:Ev1", "1", ex=30 * DAY)  # a longer one is cut to its kind's retention
    done = retention.sweep(client, _settings())
    assert sum(v for k, v in done.items() if " " not in k) == len(keys) + 1  # and the event mark
    settings = _settings()
    for key, kind in keys.items():
        assert abs(client.ttl(key) - getattr(settings, kind) * DAY) <= 2, key
    assert client.ttl("ic:channel:C2:incident") <= 30
    assert abs(client.ttl("ic:event:Ev1") - settings.incident * DAY) <= 2
    assert client.ttl("ic:kb:record:INC-OLD") == -1  # the knowledge base is kept
    assert retention.unkept(client) == ["ic:kept-by-nobody"]


def test_shared_streams_and_logs_are_trimmed_by_age(client: redis.Redis) -> None:
    old_ms = int((time.time() - 10 * DAY) * 1000)
    for i in range(300):
        client.xadd("ic:audit", {"kind": "old"}, id=f"{old_ms + i}-0")
        client.xadd("ic:egress", {"kind": "old"}, id=f"{old_ms + i}-0")
    client.xadd("ic:audit", {"kind": "new"})
    client.xadd("ic:egress", {"kind": "new"})
    client.zadd("ic:executions:restart", {"old": time.time() - 3 * DAY, "new": time.time()})
    client.sadd("ic:incident_channels", "C1", "C2")
    client.set("ic:channel:C1:incident", "INC-1")
    retention.sweep(client, _settings())  # audit kept 8 days, egress 5, executions 1: all trimmed
    # XTRIM with `~` trims whole macro nodes (100 entries): what is left is at most one node.
    assert client.xlen("ic:audit") <= 101 and client.xlen("ic:egress") <= 101
    assert client.xrevrange("ic:audit", count=1)[0][1][b"kind"] == b"new"
    assert client.zrange("ic:executions:restart", 0, -1) == [b"new"]
    assert client.smembers("ic:incident_channels") == {b"C1"}


def test_audit_is_kept_longest() -> None:
    with pytest.raises(ValueError, match=r"RETENTION_AUDIT .* shorter than RETENTION_POSTMORTEM"):
        RetentionSettings(postmortem=500, audit=400)
    with pytest.raises(ConfigError, match="RETENTION_AUDIT"):
        Settings.load(env_file=None, overrides={"retention": {"audit": 1}})


def test_events_without_an_id_get_a_key_of_their_own(client: redis.Redis) -> None:
    store = IncidentStore(client, "inc-*")
    first = {"ts": "1.0", "user": "U1", "text": "db is down"}
    second = {"ts": "2.0", "user": "U1", "text": "still down"}
    assert store.record_message("INC-1", "", first)
    assert store.record_message("INC-1", "", second)
    assert not store.record_message("INC-1", "", first)  # a retried delivery is still one message
    assert [m["text"] for m in store.messages("INC-1")] == ["db is down", "still down"]
