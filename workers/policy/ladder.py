"""The ladder applied to a triage report: each suggested action classified, observe-level ones taken
out of the answer into the shadow ledger, act-level ones turned into proposals with Approve / Deny
buttons (when a worker has an executor for them), identical actions shown once, every decision
audited with the hash of the policy it was made under. The policy is the file as it reads now."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import redis

from workers import audit
from workers.policy.decide import ActionRequest, Decision, decide, rules_for
from workers.policy.governor import BudgetVerdict, Governor
from workers.policy.model import LEVELS, Level, PolicyFile
from workers.policy.source import PolicySource
from workers.proposals.model import Proposal
from workers.proposals.store import ProposalStore, new_id
from workers.triage.report import ClassifiedAction, Hypothesis, SuggestedAction, TriageReport

NO_POLICY = "no POLICY_FILE: every action is only suggested"


@dataclass(frozen=True)
class Origin:
    """Where a report's proposals come from: who asked, and the answer that shows them."""

    incident_id: str
    run_id: str
    requester: str
    channel_id: str
    message_ts: str


@dataclass(frozen=True)
class Now:
    """A decision on an action as things are now, with the policy and budget it was taken under."""

    policy: PolicyFile | None
    decision: Decision
    budget: BudgetVerdict

    def below_act(self) -> str:
        """Why the action may not run now ("" when it is at act)."""
        d = self.decision
        if d.level == "act":
            return ""
        return f"the policy now puts it at {d.level} ({'; '.join(d.reasons)}; {self.budget.reason})"


@dataclass
class Ladder:
    source: PolicyFile | PolicySource | None
    governor: Governor | None
    executable: frozenset[str] = field(default_factory=frozenset)  # action types a worker can run

    @property
    def policy(self) -> PolicyFile | None:
        """The policy in force now (the file re-read when it changed); take it once per decision."""
        return self.source.current() if isinstance(self.source, PolicySource) else self.source

    def classify(
        self,
        report: TriageReport,
        service: str,
        origin: Origin,
        client: redis.Redis,
        cap: Level | None = None,
    ) -> TriageReport:
        """`cap`: the highest level any action may get (an automatic triage of an alert)."""
        policy = self.policy
        verdict = self.budget(service)
        for action in report.grounding.refused_actions:  # the model asked; the evidence did not back it
            audit.record(
                client,
                origin.incident_id,
                "dropped_by_grounding",
                run_id=origin.run_id,
                by="bot",
                action=action.model_dump(mode="json"),
                reason=f"{action.action_type} on {action.target!r} names nothing the evidence names",
                novel=report.novel,
            )
        shadowed = 0
        hypotheses = []
        shown: dict[tuple[str, ...], str] = {}  # identical actions appear once on the board
        for h in report.hypotheses:
            classified = []
            for action in h.actions:
                request = Proposal.request_for(action)
                key = (
                    request.action_type,
                    request.service,
                    *sorted(f"{k}={v}" for k, v in request.params.items()),
                )
                if key in shown:
                    audit.record(
                        client,
                        origin.incident_id,
                        "merged",
                        run_id=origin.run_id,
                        by="bot",
                        hypothesis=h.id,
                        action=action.model_dump(mode="json"),
                        reason=f"the same action as {shown[key]}: shown once",
                        policy_sha256=policy.sha256 if policy else "",
                    )
                    continue
                budget = self.budget(request.service or service)  # the error budget of what it acts on
                decision = self._decide(policy, action, budget, report.novel)
                if cap is not None and LEVELS.index(decision.level) > LEVELS.index(cap):
                    reason = f"an automatic triage of an alert starts at {cap} at most"
                    decision = replace(decision, level=cap, reasons=[*decision.reasons, reason])
                entry = ClassifiedAction(
                    action=action, level=decision.level, written=decision.written, reasons=decision.reasons
                )
                if decision.level == "act" and policy is not None:
                    entry.proposal_id = self._propose(
                        client, origin, h, action, decision, report.novel, policy
                    )
                shown[key] = entry.proposal_id or f"{h.id}'s {action.action_type}"
                audit.record(
                    client,
                    origin.incident_id,
                    {"observe": "shadowed", "suggest": "suggested", "act": "proposed"}[decision.level],
                    run_id=origin.run_id,
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
                    proposal=entry.proposal_id,
                )
                if decision.level == "observe":
                    shadowed += 1
                    continue
                classified.append(entry)
            hypotheses.append(h.model_copy(update={"classified": classified}))
        return report.model_copy(
            update={"hypotheses": hypotheses, "shadowed": shadowed, "budget_state": verdict.state}
        )

    def budget(self, service: str) -> BudgetVerdict:
        return self.governor.state(service) if self.governor else BudgetVerdict("healthy", NO_POLICY)

    def _decide(
        self, policy: PolicyFile | None, action: SuggestedAction, verdict: BudgetVerdict, novel: bool
    ) -> Decision:
        if policy is None:
            return Decision("suggest", "suggest", [NO_POLICY])
        request = Proposal.request_for(action)
        decision = decide(policy, request, verdict.state, novel)
        reasons = [*decision.reasons, verdict.reason]
        level = decision.level
        if level == "act" and action.action_type not in self.executable:
            reasons.append(f"no executor for {action.action_type} is configured: shown as a suggestion")
            level = "suggest"
        return Decision(level, decision.written, reasons, decision.approvals_needed, decision.policy_sha256)

    def _propose(
        self,
        client: redis.Redis,
        origin: Origin,
        h: Hypothesis,
        action: SuggestedAction,
        decision: Decision,
        novel: bool,
        policy: PolicyFile,
    ) -> str:
        rules = rules_for(policy, action.action_type)
        assert rules is not None  # decided at act
        now = datetime.now(UTC)
        proposal = Proposal(
            id=new_id(),
            incident_id=origin.incident_id,
            channel_id=origin.channel_id,
            message_ts=origin.message_ts,
            hypothesis_id=h.id,
            action=action,
            requested_by=origin.requester,
            novel=novel,
            policy_sha256=decision.policy_sha256,
            approvals_needed=max(1, decision.approvals_needed),
            created_at=now,
            expires_at=now + timedelta(minutes=rules.approval_expiry_minutes),
        )
        ProposalStore(client).create(proposal)
        return proposal.id


def decision_now(ladder: Ladder, request: ActionRequest, novel: bool) -> Now:
    """The policy's raw decision now (no executor downgrade): the file as it reads now, the error
    budget asked afresh."""
    policy = ladder.policy
    verdict = ladder.budget(request.service)
    if policy is None:
        return Now(None, Decision("suggest", "suggest", [NO_POLICY]), verdict)
    return Now(policy, decide(policy, request, verdict.state, novel), verdict)
