"""An alert for a service whose error budget is exhausted, end to end: a real Prometheus holds the
services' request counters backfilled by promtool, Alertmanager's v4 payload reaches the bot's
receiver with its bearer token, and the worker opens the incident and triages at observe only: the
alert and its evidence are posted, the model's action is kept in the shadow ledger with no Approve
button, the runbook executor is never called, and the policy decision is audited. The same alert
for a service within its budget, in the same stack, is the control: its action is offered and runs."""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis

from bot.localstack import LocalStack
from tests.integration.conftest import PATIENCE, bot_messages, wait_answer, wait_until
from tests.integration.test_adversarial import SECRET, Runbook
from tests.integration.test_alert_receivers import post
from tests.support import debian_services
from tests.support.fake_llm import FakeLLM
from tests.support.prompt_evidence import items_of
from workers import audit
from workers.slack import ids

TOKEN = secrets.token_hex(16)
RATE = 50.0  # requests per second, every service
ERROR_RATIOS = {"ledger-api": 0.005, "orders-api": 0.0001}  # 5× and a tenth of a 99.9% budget
QUERY = (
    'sum(rate(http_requests_total{{service="{s}",code="500"}}[{{window}}]))'
    ' / sum(rate(http_requests_total{{service="{s}"}}[{{window}}]))'
)
POLICY = """version: 1
caps: {novel: act}  # an empty knowledge base makes every incident novel; let the budget decide
actions:
  run_runbook:
    level: act
    approvers: {users: [U0BRUNO]}
alerts:
  critical: {triage: true, max_level: act}
"""
LOG_LINE = "ERROR {service} upstream write timeout after 5000ms"
_ALERTED = re.compile(r"\b([a-z]+-api) alert LatencyHigh \(critical\)")


def _counters(end: float) -> str:
    """Two hours of request counters every 15 s up to `end`, at each service's error ratio."""
    series = "http_requests_total"
    lines = ["# TYPE http_requests counter"]
    for service, ratio in ERROR_RATIOS.items():
        stamps = [end - 7200 + 15 * i for i in range(481)]
        for code, share in (("200", 1 - ratio), ("500", ratio)):
            lines += [
                f'{series}{{service="{service}",code="{code}"}} {RATE * share * (t - stamps[0]):.3f} {t:.3f}'
                for t in stamps
            ]
    return "\n".join([*lines, "# EOF"]) + "\n"


def _policy() -> str:
    slos = "".join(
        f"  {s}: {{objective: 99.9, window: 1h, error_ratio_query: '{QUERY.format(s=s)}'}}\n"
        for s in ERROR_RATIOS
    )
    return POLICY + "slos:\n" + slos


def _answer(body: dict[str, Any]) -> str:
    """A model citing the alerted service's log line and proposing its runbook."""
    prompt = "\n".join(m["content"] for m in body["messages"])
    found = _ALERTED.search(prompt)
    service = found.group(1) if found else "unknown-api"
    cited = next(i for i in items_of(body, "log") if service in (i.get("line") or ""))
    return json.dumps(
        {
            "summary": {
                "what": f"{service} latency high",
                "cause": "upstream writes time out",
                "cause_confidence": "medium",
                "next": "run the runbook",
            },
            "hypotheses": [
                {
                    "statement": f"{service} upstream writes time out",
                    "confidence": "medium",
                    "evidence": [{"kind": "log", "id": cited["id"], "quote": (cited.get("line") or "")[:30]}],
                    "actions": [{"action_type": "run_runbook", "target": service}],
                }
            ],
        }
    )


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[str]:
    data = tmp_path / "prom" / "data"
    debian_services.backfill(_counters(time.time()), data)
    with debian_services.prometheus(data) as url:
        yield url


@pytest.fixture
def runbook() -> Iterator[Runbook]:
    server = Runbook()
    try:
        yield server
    finally:
        server.stop()


def _alertmanager_payload(service: str) -> bytes:
    """What Alertmanager's webhook sends for one firing alert (payload version 4)."""
    labels = {"alertname": "LatencyHigh", "service": service, "severity": "critical"}
    starts = (datetime.now(UTC) - timedelta(minutes=2)).isoformat().replace("+00:00", "Z")
    alert = {
        "status": "firing",
        "labels": labels,
        "annotations": {"summary": f"{service} p99 latency above 2 s"},
        "startsAt": starts,
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.example.internal/graph",
        "fingerprint": secrets.token_hex(8),
    }
    group = {"alertname": "LatencyHigh", "service": service}
    return json.dumps(
        {
            "version": "4",
            "groupKey": f"{{}}:{json.dumps(group)}",
            "truncatedAlerts": 0,
            "status": "firing",
            "receiver": "copilot",
            "groupLabels": group,
            "commonLabels": labels,
            "commonAnnotations": alert["annotations"],
            "externalURL": "http://alertmanager.example.internal",
            "alerts": [alert],
        }
    ).encode()


def _sources(folder: Path) -> Path:
    """Each service's log file as its own source (how the evidence knows whose logs it reads)."""
    now = datetime.now(UTC)
    sources, services = [], []
    for service in ERROR_RATIOS:
        log = folder / f"{service}.log"
        stamps = [now - timedelta(seconds=20 * i) for i in range(12, 0, -1)]
        log.write_text(
            "".join(f"{t:%Y-%m-%dT%H:%M:%S}Z {LOG_LINE.format(service=service)}\n" for t in stamps)
        )
        sources.append(f"  - {{name: {service}, type: files, paths: ['{log}']}}\n")
        services.append(f"  {service}: [{service}]\n")
    path = folder / "sources.yaml"
    path.write_text("sources:\n" + "".join(sources) + "services:\n" + "".join(services))
    return path


def _channel(stack: LocalStack, service: str) -> str:
    """The incident channel the bot opened for `service`, once it exists."""

    def opened() -> list[str]:
        return [c.id for c in stack.standin.state.channels() if c.name.startswith(f"inc-{service}-")]

    assert wait_until(lambda: bool(opened()), PATIENCE), stack.log("worker-0")[-3000:]
    return opened()[0]


def _approve_ids(messages: list[dict[str, Any]]) -> list[str]:
    return [
        e["value"]
        for m in messages
        for b in m.get("blocks") or []
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == ids.PROPOSAL_APPROVE
    ]


def _env(workdir: Path, prometheus: str, llm: FakeLLM, runbook: Runbook) -> dict[str, str]:
    policy, rules = workdir / "policy.yaml", workdir / "alerts.yaml"
    policy.write_text(_policy())
    rules.write_text("rate_limits: {board_update_seconds: 0}\n")
    return {
        "ALERTS_ALERTMANAGER_TOKEN": TOKEN,
        "ALERTS_CONFIG_FILE": str(rules),
        "EVIDENCE_SOURCES_FILE": str(_sources(workdir)),
        "POLICY_FILE": str(policy),
        "PROMETHEUS_URL": prometheus,
        "OPENAI_BASE_URL": llm.base_url,
        "OPENAI_API_KEY": "sk-test",
        "EXECUTOR_WEBHOOK_URL": runbook.url,
        "EXECUTOR_WEBHOOK_SECRET": SECRET,
    }


def test_an_alert_on_an_exhausted_budget_is_posted_with_its_evidence_and_offers_no_action(
    tmp_path: Path, prometheus: str, runbook: Runbook
) -> None:
    with (
        FakeLLM(default=_answer) as llm,
        LocalStack(tmp_path / "stack", env=_env(tmp_path, prometheus, llm, runbook)) as stack,
    ):
        stack.standin.state.add_user("U0BRUNO", "bruno", "Bruno Silva")
        for service in ERROR_RATIOS:  # as Alertmanager's webhook_config sends it
            bearer = {"Authorization": f"Bearer {TOKEN}"}
            assert post(stack, "alertmanager", _alertmanager_payload(service), bearer)[0] == 202
        exhausted, healthy = (_channel(stack, s) for s in ERROR_RATIOS)
        answer, control = wait_answer(stack, exhausted), wait_answer(stack, healthy)

        # Exhausted: the alert and its evidence are posted, the action only kept in the shadow ledger.
        shown = json.dumps([m.get("blocks") for m in stack.standin.messages(exhausted)])
        assert "LatencyHigh" in shown and "ledger-api p99 latency above 2 s" in shown  # the alert
        assert "actions at most observe" in shown and "error budget exhausted" in shown
        assert LOG_LINE.format(service="ledger-api") in shown  # its log evidence
        assert "1 action(s) at observe, kept in the shadow ledger" in json.dumps(answer["blocks"])
        assert _approve_ids(stack.standin.messages(exhausted)) == []

        # Within its budget, the same alert offers the action, and an approval runs it.
        assert "actions at most act" in json.dumps([m.get("blocks") for m in bot_messages(stack, healthy)])
        [proposal] = _approve_ids([control])
        click = stack.driver().block_action(
            ids.PROPOSAL_APPROVE, proposal, user_id="U0BRUNO", channel_id=healthy, message_ts=control["ts"]
        )
        assert click.status == 200
        ran = wait_until(lambda: runbook.runs.get(proposal) == 1, PATIENCE)
        assert ran, stack.log("worker-0")[-3000:]
        assert runbook.runs == {proposal: 1} and runbook.rejected == 0  # nothing ran for ledger-api
        client = redis.Redis.from_url(stack.redis_url)
        try:
            entries = list(audit.export(client))
        finally:
            client.close()
    decisions = {e["service"]: e for e in entries if e["kind"] == "auto_triage"}
    exhausted_decision = decisions["ledger-api"]
    assert (exhausted_decision["budget"], exhausted_decision["level"]) == ("exhausted", "observe")
    why = "error budget exhausted (ledger-api used its whole error budget over 1h)"
    assert why in exhausted_decision["reasons"] and len(exhausted_decision["policy_sha256"]) == 64
    assert (decisions["orders-api"]["budget"], decisions["orders-api"]["level"]) == ("healthy", "act")
    shadowed = [e for e in entries if e["kind"] == "shadowed"]
    assert [json.loads(e["action"])["target"] for e in shadowed] == ["ledger-api"]
