"""Alerts in, end to end on real parts: a real Prometheus fires a rule on a series backfilled into
its TSDB by promtool, a real Alertmanager delivers it through its own webhook (bearer auth from
`http_config`) to the bot's receiver, a worker opens an incident channel in the Slack stand-in,
posts the alert board and runs the triage with the right log evidence; then the rule's window moves
past the backfilled errors, the alert resolves, and the bot asks whether to resolve the incident."""

from __future__ import annotations

import contextlib
import json
import secrets
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import redis

from bot.localstack import LocalStack
from tests.integration.conftest import PATIENCE, is_answer, wait_until
from tests.support import debian_services
from workers import audit
from workers.slack import ids

SERIES = 'checkout_error_ratio{service="checkout-api"}'
# The backfilled series ends when it is written (a block reaching into the future would make the
# TSDB refuse the rule's own ALERTS samples until then), so the rule's range is how long the alert
# fires: Prometheus has that long to start and hand it to Alertmanager (well under a second on a
# quiet machine), and the alert resolves on its own that long after the last sample.
FIRING_S = 30
RUNBOOK = "https://runbooks.example.internal/checkout-errors"


def _logs(path: Path, now: datetime) -> None:
    lines = [
        f"{now - timedelta(minutes=70) + timedelta(seconds=30 * i):%Y-%m-%dT%H:%M:%S}Z INFO checkout-api "
        f"order placed id={i} took=31ms"
        for i in range(120)
    ]
    lines += [
        f"{now - timedelta(minutes=4) + timedelta(seconds=2 * i):%Y-%m-%dT%H:%M:%S}Z ERROR checkout-api "
        f"payment gateway timeout after 3000ms order={5000 + i}"
        for i in range(110)
    ]
    path.write_text("\n".join(lines) + "\n")


def _series(end: float) -> str:
    """Half an hour of the error ratio every 5 s up to `end`: 0.2% until four minutes before it, then
    31% (the minutes the logs show payment gateway timeouts)."""
    stamps = [end - 1800 + 5 * i for i in range(361)]
    rows = [f"{SERIES} {0.31 if t >= end - 240 else 0.002} {t:.3f}" for t in stamps]
    return "\n".join(["# TYPE checkout_error_ratio gauge", *rows, "# EOF"]) + "\n"


def _prometheus_config(alertmanager: str, rules: Path) -> str:
    return f"""
global: {{evaluation_interval: 1s}}
rule_files: ['{rules}']
alerting:
  alertmanagers: [{{static_configs: [{{targets: ['{alertmanager}']}}]}}]
"""


RULES = f"""
groups:
  - name: checkout
    rules:
      - alert: CheckoutErrorRate
        expr: max_over_time(checkout_error_ratio[{FIRING_S}s]) > 0.05
        labels: {{severity: critical}}
        annotations:
          summary: checkout-api errors above 5%
          runbook_url: {RUNBOOK}
"""


def _alertmanager_config(webhook: str, token: str) -> str:
    return f"""
route:
  receiver: copilot
  group_by: [alertname, service]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: copilot
    webhook_configs:
      - url: {webhook}
        send_resolved: true
        http_config:
          authorization: {{type: Bearer, credentials: {token}}}
"""


def _channel(stack: LocalStack) -> Any:
    return next((c for c in stack.standin.state.channels() if c.name.startswith("inc-checkout-api-")), None)


def _bot_messages(stack: LocalStack, channel: str) -> list[dict[str, Any]]:
    return [m for m in stack.standin.messages(channel) if m.get("bot_id")]


def _metrics(stack: LocalStack) -> str:
    with urllib.request.urlopen(f"{stack.base_url}/metrics", timeout=5) as resp:
        return str(resp.read().decode())


def test_prometheus_alert_opens_a_channel_triages_and_asks_to_resolve(
    make_stack: Callable[..., LocalStack], tmp_path: Path
) -> None:
    debian_services.installed()
    token = secrets.token_hex(16)
    now = datetime.now(UTC)
    logs = tmp_path / "checkout.log"
    _logs(logs, now)
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        "default_service: checkout-api\nsources:\n"
        f"  - name: app-files\n    type: files\n    paths: ['{logs}']\n"
    )
    rules_file = tmp_path / "alerts.yaml"
    rules_file.write_text(
        "rate_limits: {board_update_seconds: 0}\nnew_channel: {invite: {'checkout-*': [U0ALICE]}}\n"
    )
    stack = make_stack(
        env={
            "ALERTS_ALERTMANAGER_TOKEN": token,
            "ALERTS_CONFIG_FILE": str(rules_file),
            "EVIDENCE_SOURCES_FILE": str(sources),
        }
    )
    am_port = debian_services.free_port()
    rules = tmp_path / "rules.yml"
    rules.write_text(RULES)
    with contextlib.ExitStack() as running:
        running.enter_context(
            debian_services.alertmanager(
                tmp_path / "am", _alertmanager_config(f"{stack.base_url}/alerts/alertmanager", token), am_port
            )
        )
        last_sample = time.time()
        debian_services.backfill(_series(last_sample), tmp_path / "prom" / "data")
        running.enter_context(
            debian_services.prometheus(
                tmp_path / "prom" / "data",
                _prometheus_config(f"127.0.0.1:{am_port}", rules),
                ("--rules.alert.resend-delay=1s",),
            )
        )
        started = time.time() - last_sample
        assert started < FIRING_S / 2, (
            f"Prometheus took {started:.0f} s to start: the alert had no time to fire"
        )

        # The alert travels Prometheus → Alertmanager → the bot → a worker → a new channel.
        def opened() -> bool:
            found = _channel(stack)
            return found is not None and bool(_bot_messages(stack, found.id))

        assert wait_until(opened, PATIENCE), stack.log("worker-0")[-3000:]
        channel = _channel(stack)
        assert "CheckoutErrorRate" in channel.topic and "critical" in channel.topic
        assert channel.members == ["U0BOT", "U0ALICE"]
        assert stack.standin.wait_for(
            lambda: any(is_answer(m) for m in _bot_messages(stack, channel.id)), PATIENCE
        ), stack.log("worker-0")[-3000:]
        board = next(m for m in _bot_messages(stack, channel.id) if "Alerts for" in m.get("text", ""))
        first_board = next(  # as posted: the alert may have resolved by now
            c.args
            for c in stack.standin.calls_to("chat.postMessage")
            if "Alerts for" in c.args.get("text", "")
        )
        board_text = json.dumps(first_board)
        assert "CheckoutErrorRate" in board_text and "1 firing" in board_text and RUNBOOK in board_text
        assert "automatic triage, actions at most suggest" in board_text
        answer = next(m for m in _bot_messages(stack, channel.id) if is_answer(m))
        evidence = json.dumps([m.get("blocks") for m in stack.standin.messages(channel.id)])
        assert "payment gateway timeout after 3000ms" in evidence  # the logs of the alert's window
        assert answer["ts"] != board["ts"]

        # The rule's window moves past the backfilled errors: the resolved alert comes the same way
        # and the bot asks to resolve.
        def prompt() -> dict[str, Any] | None:
            return next(
                (m for m in _bot_messages(stack, channel.id) if "are resolved" in m.get("text", "")), None
            )

        assert wait_until(lambda: prompt() is not None, PATIENCE), stack.log("worker-0")[-3000:]
        assert time.time() >= last_sample + FIRING_S  # resolved by the series, not by something else
    asked = prompt()
    assert asked is not None
    [button] = [e for b in asked["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert button["action_id"] == ids.INCIDENT_RESOLVE
    resolved = [
        m for m in stack.standin.messages(channel.id) if "Resolved: CheckoutErrorRate" in m.get("text", "")
    ]
    assert len(resolved) == 1 and resolved[0]["thread_ts"] == board["ts"]
    resp = stack.driver().block_action(
        ids.INCIDENT_RESOLVE,
        button["value"],
        user_id="U0ALICE",
        channel_id=channel.id,
        message_ts=asked["ts"],
    )
    assert resp.status == 200
    assert stack.standin.wait_for(
        lambda: any("Resolving" in str(p) for p in stack.standin.state.response_posts()), 20
    )
    client = redis.Redis.from_url(stack.redis_url)
    try:
        entries = [e for e in audit.export(client) if e["kind"] == "auto_triage"]
    finally:
        client.close()
    assert len(entries) == 1 and json.loads(entries[0]["reasons"])[0].startswith("severity critical")
    scraped = _metrics(stack)
    assert 'incident_copilot_alerts_received_total{source="alertmanager"}' in scraped
    assert 'incident_copilot_alerts_total{outcome="opened"} 1.0' in scraped
    assert 'incident_copilot_alerts_total{outcome="changed"} 1.0' in scraped  # the resolution
    assert "incident_copilot_alert_first_answer_seconds_count 2.0" in scraped
