"""The embedded Redis keeps what it was told: SIGKILL it, restart it, and nothing written more than
the AOF fsync interval (one second) before the kill is gone."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis

from tests.support.redis_crash import Ticker, content, lost, sigkill
from workers import audit
from workers.incidents import IncidentStore
from workers.knowledge.model import IncidentRecord
from workers.knowledge.store import KnowledgeStore, record_key
from workers.redisconn import EmbeddedRedis

FSYNC_INTERVAL_S = 1.0


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    embedded = EmbeddedRedis(tmp_path / "redis", persist=True)
    embedded.ensure_running()
    yield embedded
    embedded.stop()


def test_embedded_redis_runs_with_aof_everysec(server: EmbeddedRedis) -> None:
    with contextlib.closing(redis.Redis.from_url(server.url)) as client:
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        assert client.config_get("appendfsync") == {"appendfsync": "everysec"}
        assert client.config_get("save") == {"save": "60 1"}


def test_sigkill_loses_nothing_older_than_the_fsync_interval(server: EmbeddedRedis) -> None:
    client = redis.Redis.from_url(server.url)
    try:
        KnowledgeStore(client).upsert(
            IncidentRecord(id=f"INC-{n:04d}", title=f"pool exhausted {n}", root_causes=[f"cause {n}"])
            for n in range(200)
        )
        incidents = IncidentStore(client, "inc-*")
        now = datetime.now(UTC)
        for n in range(20):
            incident = incidents.open_or_get(f"C{n:05d}", f"inc-{n}", "U0ALICE", now)
            incidents.record_triage(incident.id, f"run-{n}", f"{n}.000100")
            audit.record(client, incident.id, "triaged", by="U0ALICE", run=f"run-{n}")
        time.sleep(FSYNC_INTERVAL_S * 1.5)  # older than the interval: these writes must survive
        before = content(client)
        ticker = Ticker(server.url)
        ticker.start()
        time.sleep(0.5)
        killed_at = time.time()
        sigkill(server)
        ticker.join()
    finally:
        client.close()

    server.ensure_running()
    with contextlib.closing(redis.Redis.from_url(server.url)) as client:
        after = content(client)
        survived, window = ticker.loss_window(client, killed_at)
    assert len(before) > 220 and lost(before, after) == []
    assert all(record_key(f"INC-{n:04d}").encode() in after for n in range(200))
    assert survived > 0
    # Redis documents up to two seconds in the worst case for everysec (a slow fsync is waited out once).
    assert window <= 2 * FSYNC_INTERVAL_S, (survived, ticker.written, window)
