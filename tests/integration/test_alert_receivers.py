"""The alert receivers behind the bot's real HTTP endpoint: PagerDuty V3 webhooks replayed with
correct, rotated, forged and tampered signatures; Alertmanager with basic auth; a generic source
through its mapping; and every refusal answered 401/4xx and counted."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis

from bot.localstack import LocalStack
from tests.integration.conftest import wait_until

FIXTURES = Path(__file__).parents[1] / "fixtures" / "alerts"
OLD_SECRET, NEW_SECRET = secrets.token_hex(16), secrets.token_hex(16)
AM_USER, AM_PASSWORD = "alertmanager", secrets.token_hex(12)
GENERIC_TOKEN = secrets.token_hex(16)
NEW_INCIDENTS = 5
RULES = f"""
rate_limits: {{board_update_seconds: 0, new_incidents: {NEW_INCIDENTS}}}
generic:
  grafana:
    alerts: alerts
    fingerprint: fingerprint
    status: status
    labels: labels
    annotations: annotations
    starts_at: startsAt
    url: generatorURL
    dashboard: dashboardURL
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    work = tmp_path_factory.mktemp("receivers")
    rules = work / "alerts.yaml"
    rules.write_text(RULES)
    env = {
        "ALERTS_PAGERDUTY_SECRETS": f"{OLD_SECRET},{NEW_SECRET}",
        "ALERTS_ALERTMANAGER_USERNAME": AM_USER,
        "ALERTS_ALERTMANAGER_PASSWORD": AM_PASSWORD,
        "ALERTS_GENERIC_TOKEN": GENERIC_TOKEN,
        "ALERTS_CONFIG_FILE": str(rules),
        "ALERTS_MAX_BODY_BYTES": "65536",
    }
    with LocalStack(work / "stack", env=env) as running:
        yield running


def fixture(name: str) -> bytes:
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    return (FIXTURES / name).read_text().replace("{{NOW}}", now).encode()


def sign(body: bytes, secret: str) -> str:
    return "v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post(stack: LocalStack, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        f"{stack.base_url}/alerts/{path}", data=body, method="POST",
        headers={"Content-Type": "application/json", **headers},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def channel_named(stack: LocalStack, prefix: str) -> Any:
    return next((c for c in stack.standin.state.channels() if c.name.startswith(prefix)), None)


def bot_texts(stack: LocalStack, channel: str) -> list[str]:
    return [
        m.get("text", "") + json.dumps(m.get("blocks"))
        for m in stack.standin.messages(channel)
        if m.get("bot_id")
    ]


def metric(stack: LocalStack, line: str) -> float:
    with urllib.request.urlopen(f"{stack.base_url}/metrics", timeout=5) as resp:
        for row in resp.read().decode().splitlines():
            if row.startswith(line + " "):
                return float(row.rsplit(" ", 1)[1])
    return 0.0


def test_pagerduty_incident_lifecycle_with_rotated_secrets(stack: LocalStack) -> None:
    body = fixture("pagerduty-triggered.json")
    # Two signatures, as PagerDuty sends while a secret rotates: one unknown here, one valid.
    header = f"{sign(body, secrets.token_hex(16))},{sign(body, NEW_SECRET)}"
    assert post(stack, "pagerduty", body, {"X-PagerDuty-Signature": header}) == (202, {"accepted": 1})
    assert wait_until(lambda: channel_named(stack, "inc-payments-api-") is not None, 30)
    channel = channel_named(stack, "inc-payments-api-")
    assert stack.standin.wait_for(
        lambda: any("Payments API latency above SLO" in t for t in bot_texts(stack, channel.id)), 30
    ), stack.log("worker-0")
    topic = stack.standin.state.channel(channel.id).topic  # type: ignore[union-attr]
    assert topic == "p1 Payments API latency above SLO"

    acked = fixture("pagerduty-acknowledged.json")
    assert post(stack, "pagerduty", acked, {"X-PagerDuty-Signature": sign(acked, OLD_SECRET)})[0] == 202
    assert stack.standin.wait_for(
        lambda: any(", acknowledged" in t for t in bot_texts(stack, channel.id)), 30
    )

    resolved = fixture("pagerduty-resolved.json")
    assert post(stack, "pagerduty", resolved, {"X-PagerDuty-Signature": sign(resolved, OLD_SECRET)})[0] == 202
    assert stack.standin.wait_for(lambda: any("are resolved" in t for t in bot_texts(stack, channel.id)), 30)
    # One incident for the three events: the acknowledgement and the resolution updated it.
    assert [c.name for c in stack.standin.state.channels() if c.name.startswith("inc-payments-api-")] == [
        channel.name
    ]
    ping = fixture("pagerduty-ping.json")
    assert post(stack, "pagerduty", ping, {"X-PagerDuty-Signature": sign(ping, NEW_SECRET)}) == (
        202,
        {"accepted": 0},
    )


def test_forged_tampered_and_unsigned_pagerduty_webhooks_are_refused_and_counted(stack: LocalStack) -> None:
    before = metric(
        stack, 'incident_copilot_alerts_refused_total{reason="bad_signature",receiver="pagerduty"}'
    )
    body = fixture("pagerduty-triggered.json").replace(b"Q1PAYMENTS0001", b"Q1FORGED00001")
    forged = sign(body, secrets.token_hex(16))
    tampered = sign(body.replace(b"Q1FORGED00001", b"Q1OTHER000001"), NEW_SECRET)
    for header in ({"X-PagerDuty-Signature": forged}, {"X-PagerDuty-Signature": tampered}, {}):
        status, answer = post(stack, "pagerduty", body, header)
        assert (status, answer["error"]) == (401, "bad_signature")
    after = metric(
        stack, 'incident_copilot_alerts_refused_total{reason="bad_signature",receiver="pagerduty"}'
    )
    assert after - before == 3
    assert channel_named(stack, "inc-payments-api-") is None or not any(
        "Q1FORGED" in t for c in stack.standin.state.channels() for t in bot_texts(stack, c.id)
    )


def test_alertmanager_basic_auth_and_refusals(stack: LocalStack) -> None:
    now = datetime.now(UTC).isoformat()
    payload = {
        "version": "4", "status": "firing", "receiver": "copilot", "groupKey": "{}:{alertname=\"DiskFull\"}",
        "alerts": [{"status": "firing", "labels": {"alertname": "DiskFull", "service": "ledger-db"},
                    "annotations": {}, "startsAt": now, "fingerprint": "d15cf011"}],
    }  # fmt: skip
    body = json.dumps(payload).encode()
    good = "Basic " + base64.b64encode(f"{AM_USER}:{AM_PASSWORD}".encode()).decode()
    wrong = "Basic " + base64.b64encode(f"{AM_USER}:nope".encode()).decode()
    assert post(stack, "alertmanager", body, {"Authorization": wrong})[0] == 401
    assert post(stack, "alertmanager", body, {"Authorization": f"Bearer {AM_PASSWORD}"})[0] == 401
    assert post(stack, "alertmanager", body, {})[0] == 401
    status, answer = post(stack, "alertmanager", b"{not json", {"Authorization": good})
    assert status == 400 and "not JSON" in answer["detail"]
    status, answer = post(stack, "alertmanager", b"x" * 70_000, {"Authorization": good})
    assert status == 413 and "ALERTS_MAX_BODY_BYTES" in answer["detail"]
    assert post(stack, "alertmanager", body, {"Authorization": good}) == (202, {"accepted": 1})
    assert wait_until(lambda: channel_named(stack, "inc-ledger-db-") is not None, 30)
    assert (
        metric(
            stack, 'incident_copilot_alerts_refused_total{reason="unauthenticated",receiver="alertmanager"}'
        )
        == 3
    )


def test_generic_source_through_its_mapping(stack: LocalStack) -> None:
    body = fixture("grafana.json")
    assert (
        post(stack, "generic/grafana", body, {"Authorization": f"Bearer {secrets.token_hex(16)}"})[0] == 401
    )
    assert post(stack, "generic/nagios", body, {"Authorization": f"Bearer {GENERIC_TOKEN}"})[0] == 404
    assert post(stack, "generic/grafana", body, {"Authorization": f"Bearer {GENERIC_TOKEN}"}) == (
        202,
        {"accepted": 1},
    )
    assert wait_until(lambda: channel_named(stack, "inc-search-api-") is not None, 30)
    channel = channel_named(stack, "inc-search-api-")
    assert stack.standin.wait_for(
        lambda: any("SearchHeapHigh" in t for t in bot_texts(stack, channel.id)), 30
    )
    board = next(t for t in bot_texts(stack, channel.id) if "SearchHeapHigh" in t)
    assert "https://runbooks.example.internal/search-heap|Runbook" in board
    assert "https://grafana.example.internal/d/search|Dashboard" in board


def _am(stack: LocalStack, *alerts: dict[str, Any]) -> None:
    now = datetime.now(UTC).isoformat()
    body = {
        "version": "4",
        "status": "firing",
        "alerts": [{"startsAt": now, "annotations": {}, **a} for a in alerts],
    }
    good = "Basic " + base64.b64encode(f"{AM_USER}:{AM_PASSWORD}".encode()).decode()
    assert post(stack, "alertmanager", json.dumps(body).encode(), {"Authorization": good})[0] == 202


def _alert(service: str, fingerprint: str, status: str = "firing") -> dict[str, Any]:
    return {
        "status": status,
        "labels": {"alertname": "HighLatency", "service": service},
        "fingerprint": fingerprint,
    }


def _incidents(stack: LocalStack) -> set[str]:
    client = redis.Redis.from_url(stack.redis_url)
    try:
        return {m.decode() for m in client.smembers("ic:alerts:incidents")}
    finally:
        client.close()


def test_flapping_and_repeats_update_one_incident_and_a_storm_opens_few(stack: LocalStack) -> None:
    _am(stack, _alert("orders-api", "f1a9"))
    assert wait_until(lambda: channel_named(stack, "inc-orders-api-") is not None, 30)
    channel = channel_named(stack, "inc-orders-api-")
    assert stack.standin.wait_for(lambda: any("HighLatency" in t for t in bot_texts(stack, channel.id)), 30)
    before = len(_incidents(stack))
    for status in ("firing", "resolved", "firing", "resolved", "firing"):  # flapping, and a repeat
        _am(stack, _alert("orders-api", "f1a9", status), _alert("orders-api", "0bb2"))
    assert stack.standin.wait_for(
        lambda: any("flapping (4 changes)" in t for t in bot_texts(stack, channel.id)), 30
    )
    assert len(_incidents(stack)) == before
    assert [c for c in stack.standin.state.channels() if c.name.startswith("inc-orders-api-")] != []
    # Eight more services at once: incidents up to the cap, then one storm incident takes the rest.
    _am(stack, *(_alert(f"svc-{n}", f"s{n}") for n in range(8)))
    assert wait_until(lambda: channel_named(stack, "inc-alert-storm-") is not None, 30)
    storm = channel_named(stack, "inc-alert-storm-")
    assert stack.standin.wait_for(lambda: any("alert storm" in t for t in bot_texts(stack, storm.id)), 30)
    assert len(_incidents(stack)) == NEW_INCIDENTS + 1
    assert metric(stack, 'incident_copilot_alerts_total{outcome="deduplicated"}') >= 4
