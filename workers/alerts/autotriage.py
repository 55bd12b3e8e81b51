"""Whether an alert's incident is triaged automatically, and the highest rung its actions may start
at: the policy's `alerts` section by severity, capped by the service's error budget (burning:
suggest; exhausted: observe only). Every decision is audited with the policy's hash."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

import redis

from workers import audit
from workers.policy.ladder import NO_POLICY, Ladder
from workers.policy.model import LEVELS, AlertTriage, Level

DEFAULT = AlertTriage()
BUDGET_CAP: dict[str, Level] = {"healthy": "act", "burning": "suggest", "exhausted": "observe"}


@dataclass(frozen=True)
class AutoTriage:
    run: bool
    max_level: Level
    reasons: list[str]
    budget: str

    def describe(self) -> str:
        if not self.run:
            return f"no automatic triage: {'; '.join(self.reasons)}"
        return f"automatic triage, actions at most {self.max_level}: {'; '.join(self.reasons)}"


def decide(ladder: Ladder, severity: str, service: str) -> tuple[AutoTriage, str]:
    """The decision and the policy hash it was made under."""
    policy = ladder.policy
    rules = policy.alerts if policy is not None else {}
    matched = next((glob for glob in rules if glob != "*" and fnmatch.fnmatchcase(severity, glob)), None)
    rule = rules.get(matched or "*", DEFAULT)
    why = [
        f"severity {severity}: "
        + (f"policy rule {matched or '*'!r}" if (matched or "*") in rules else "default")
    ]
    if policy is None:
        why.append(NO_POLICY)
    verdict = ladder.budget(service)
    level = min(rule.max_level, BUDGET_CAP[verdict.state], key=LEVELS.index)
    why.append(f"error budget {verdict.state} ({verdict.reason})")
    return AutoTriage(rule.triage, level, why, verdict.state), policy.sha256 if policy else ""


def audited(
    client: redis.Redis, ladder: Ladder, incident_id: str, run_id: str, severity: str, service: str
) -> AutoTriage:
    decision, sha = decide(ladder, severity, service)
    audit.record(
        client,
        incident_id,
        "auto_triage" if decision.run else "auto_triage_skipped",
        run_id=run_id,
        by="alert",
        severity=severity,
        service=service,
        level=decision.max_level,
        budget=decision.budget,
        reasons=decision.reasons,
        policy_sha256=sha,
    )
    return decision
