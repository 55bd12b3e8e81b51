"""Automatic triage decisions (policy by severity, capped by the error budget), the receivers'
deny-by-default status, and the alert board's handling of untrusted alert text."""

from __future__ import annotations

import json
from pathlib import Path

import redis
from pydantic import SecretStr

from bot.receivers import Receivers
from workers import audit
from workers.alerts import autotriage
from workers.alerts.config import AlertRules, GenericMapping
from workers.alerts.settings import AlertSettings
from workers.policy.governor import BudgetVerdict, Governor
from workers.policy.ladder import Ladder
from workers.policy.model import load_policy
from workers.slack import alert_blocks

POLICY = """
version: 1
alerts:
  critical: {triage: true, max_level: act}
  info: {triage: false}
  '*': {max_level: suggest}
slos:
  checkout-api: {objective: 99.9, error_ratio_query: 'x'}
"""


class FixedGovernor(Governor):
    def __init__(self, state: str) -> None:
        self.verdict = BudgetVerdict(state, f"budget {state}")  # type: ignore[arg-type]

    def state(self, service: str) -> BudgetVerdict:
        return self.verdict


def ladder(tmp_path: Path, state: str) -> Ladder:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY)
    return Ladder(load_policy(path), FixedGovernor(state))


def test_severity_rule_capped_by_the_error_budget(tmp_path: Path) -> None:
    healthy, burning, exhausted = (ladder(tmp_path, s) for s in ("healthy", "burning", "exhausted"))
    assert autotriage.decide(healthy, "critical", "checkout-api")[0].max_level == "act"
    assert autotriage.decide(burning, "critical", "checkout-api")[0].max_level == "suggest"
    decision, sha = autotriage.decide(exhausted, "critical", "checkout-api")
    assert decision.run and decision.max_level == "observe" and len(sha) == 64
    assert "error budget exhausted" in decision.describe()
    assert not autotriage.decide(healthy, "info", "x")[0].run
    assert autotriage.decide(healthy, "warning", "x")[0].max_level == "suggest"  # the '*' rule
    without = autotriage.decide(Ladder(None, None), "critical", "x")[0]
    assert without.run and without.max_level == "suggest"  # no policy: never more than suggest


def test_every_automatic_triage_decision_is_audited(tmp_path: Path, client: redis.Redis) -> None:
    autotriage.audited(client, ladder(tmp_path, "exhausted"), "INC-1", "run-1", "critical", "checkout-api")
    autotriage.audited(client, ladder(tmp_path, "healthy"), "INC-2", "run-2", "info", "checkout-api")
    entries = list(audit.export(client))
    assert [(e["kind"], e["level"], e["budget"]) for e in entries] == [
        ("auto_triage", "observe", "exhausted"),
        ("auto_triage_skipped", "suggest", "healthy"),
    ]
    assert (
        entries[0]["policy_sha256"]
        and json.loads(entries[0]["reasons"])[0] == "severity critical: policy rule 'critical'"
    )


def test_receivers_are_disabled_without_their_secret(client: redis.Redis) -> None:
    rules = AlertRules(generic={"grafana": GenericMapping(fingerprint="fp")})
    off = Receivers(AlertSettings(_env_file=None), rules, client).status()  # type: ignore[call-arg]
    assert all(state.startswith("disabled: set ALERTS_") for state in off.values())
    assert set(off) == {"alertmanager", "pagerduty", "generic/grafana"}
    on = Receivers(
        AlertSettings(_env_file=None, alertmanager_username="am", alertmanager_password=SecretStr("p" * 16)),  # type: ignore[call-arg]
        rules,
        client,
    ).status()
    assert on["alertmanager"] == "enabled" and on["pagerduty"].startswith("disabled")


def test_alert_text_cannot_mention_or_link_through_the_board() -> None:
    entry = {
        "name": "Disk <!channel>",
        "severity": "critical",
        "status": "firing",
        "starts_at": "2026-12-07T10:00:00+00:00",
        "summary": "see <https://evil.example|click> @here",
        "links": {"runbook": "https://rb.example/x|y>z", "dashboard": "https://g.example/d/x?orgId=1&from=now"},
    }
    text, blocks = alert_blocks.board("checkout-api", "INC-1", [entry], "UTC", "automatic triage")
    shown = json.dumps(blocks)
    assert "<!channel>" not in shown and "<https://evil.example" not in shown
    assert "Runbook" in shown and "<https://rb.example" not in shown  # not a plain URL: its label only
    assert "<https://g.example/d/x?orgId=1&amp;from=now|Dashboard>" in shown
    assert text == "Alerts for checkout-api: 1 firing, 0 resolved"
