"""The ladder applied to a triage report: each suggested action classified, observe-level ones taken
out of the answer into the shadow ledger, every decision audited."""

from __future__ import annotations

from dataclasses import dataclass

import redis

from workers import audit
from workers.policy.decide import ActionRequest, Decision, decide
from workers.policy.governor import BudgetVerdict, Governor
from workers.policy.model import PolicyFile
from workers.triage.report import ClassifiedAction, TriageReport

NO_POLICY = "no POLICY_FILE: every action is only suggested"
NO_EXECUTION = "this version executes nothing: shown as a suggestion"


@dataclass
class Ladder:
    policy: PolicyFile | None
    governor: Governor | None

    def classify(
        self, report: TriageReport, service: str, incident_id: str, run_id: str, client: redis.Redis
    ) -> TriageReport:
        verdict = self._budget(service)
        shadowed = 0
        hypotheses = []
        for h in report.hypotheses:
            classified = []
            for action in h.actions:
                budget = self._budget(action.target or service)  # the error budget of what it acts on
                decision = self._decide(action.action_type, action.target, budget, report.novel)
                entry = ClassifiedAction(
                    action=action, level=decision.level, written=decision.written, reasons=decision.reasons
                )
                audit.record(
                    client,
                    incident_id,
                    "shadowed" if decision.level == "observe" else "suggested",
                    run_id=run_id,
                    by="bot",
                    hypothesis=h.id,
                    action=action.model_dump(mode="json"),
                    level=decision.level,
                    written=decision.written,
                    reasons=decision.reasons,
                    policy_sha256=decision.policy_sha256,
                    budget=budget.state,
                    budget_reason=budget.reason,
                    novel=report.novel,
                )
                if decision.level == "observe":
                    shadowed += 1
                    continue
                classified.append(entry)
            hypotheses.append(h.model_copy(update={"classified": classified}))
        return report.model_copy(
            update={"hypotheses": hypotheses, "shadowed": shadowed, "budget_state": verdict.state}
        )

    def _budget(self, service: str) -> BudgetVerdict:
        return self.governor.state(service) if self.governor else BudgetVerdict("healthy", NO_POLICY)

    def _decide(self, action_type: str, target: str, verdict: BudgetVerdict, novel: bool) -> Decision:
        if self.policy is None:
            return Decision("suggest", "suggest", [NO_POLICY])
        decision = decide(self.policy, ActionRequest(action_type, target), verdict.state, novel)
        reasons = [*decision.reasons, verdict.reason]
        if decision.level == "act":
            return Decision(
                "suggest", "act", [*reasons, NO_EXECUTION], decision.approvals_needed, decision.policy_sha256
            )
        return Decision(
            decision.level, decision.written, reasons, decision.approvals_needed, decision.policy_sha256
        )
