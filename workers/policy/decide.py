"""Deny by default: what level an action gets under the policy, the error budget and novelty, and who
may approve it. Every answer carries its reasons, for the user and for the audit trail."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from workers.policy.model import LEVELS, ActionPolicy, BudgetState, Level, PolicyFile


@dataclass(frozen=True)
class ActionRequest:
    action_type: str
    service: str
    environment: str = ""
    namespace: str = ""
    replica_change: int | None = None


@dataclass(frozen=True)
class Decision:
    level: Level
    written: Level
    reasons: list[str] = field(default_factory=list)
    approvals_needed: int = 1
    policy_sha256: str = ""


def _lowest(*levels: Level) -> Level:
    return min(levels, key=LEVELS.index)


def _matches(pattern: str, value: str) -> bool:
    return fnmatchcase(value.lower(), pattern.lower())


def decide(policy: PolicyFile, action: ActionRequest, budget: BudgetState, novel: bool) -> Decision:
    """The level the action gets: deny rules first, then the action's policy and scope, then the caps."""
    sha = policy.sha256
    written: Level = (
        policy.actions[action.action_type].level if action.action_type in policy.actions else "observe"
    )
    for rule in policy.deny:
        if all(
            _matches(p, v)
            for p, v in (
                (rule.action, action.action_type),
                (rule.environment, action.environment),
                (rule.service, action.service),
                (rule.namespace, action.namespace),
            )
        ):
            return Decision("observe", written, [f"denied: {rule.reason}"], policy_sha256=sha)
    rules: ActionPolicy | None = policy.actions.get(action.action_type)
    if rules is None:
        return Decision(
            "observe",
            "observe",
            [f"{action.action_type!r} is not in the policy: observe only"],
            policy_sha256=sha,
        )
    reasons = [f"the policy says {rules.level} for {action.action_type}"]
    in_scope = any(
        _matches(s.environment, action.environment)
        and _matches(s.service, action.service)
        and _matches(s.namespace, action.namespace)
        for s in rules.scopes
    )
    level: Level = rules.level
    if not in_scope:
        reasons.append(
            f"{action.service} ({action.environment or 'no environment'}) is in none of its scopes"
        )
        level = "observe"
    if (
        rules.max_replica_change is not None
        and action.replica_change is not None
        and abs(action.replica_change) > rules.max_replica_change
    ):
        reasons.append(
            f"a change of {action.replica_change} replicas exceeds the cap of {rules.max_replica_change}"
        )
        level = _lowest(level, "suggest")
    cap = {"healthy": policy.caps.healthy, "burning": policy.caps.burning, "exhausted": policy.caps.exhausted}
    if LEVELS.index(cap[budget]) < LEVELS.index(level):
        reasons.append(f"error budget {budget}: capped at {cap[budget]}")
        level = cap[budget]
    if novel and LEVELS.index(policy.caps.novel) < LEVELS.index(level):
        reasons.append(f"novel incident: capped at {policy.caps.novel}")
        level = policy.caps.novel
    approvals = rules.approvals if budget == "healthy" else max(1, rules.approvals)
    if rules.approvals == 0 and budget != "healthy":
        reasons.append("approvals: 0 applies only while the budget is healthy: one approval needed")
    return Decision(level, rules.level, reasons, approvals, sha)


def may_approve(
    policy: PolicyFile,
    action: ActionRequest,
    decision: Decision,
    approver: str,
    requester: str,
    approver_groups: Sequence[str] = (),
) -> tuple[bool, str]:
    """Whether `approver` may approve; the reason either way. The requester never approves their own."""
    if decision.level != "act":
        return False, f"this action is at {decision.level}: nothing to approve"
    if approver == requester:
        return False, "you requested this action; someone else must approve it"
    rules = policy.actions[action.action_type]
    if approver in rules.approvers.users:
        return True, "listed as an approver"
    groups = {g.lower().lstrip("@") for g in approver_groups}
    if groups & {g.lower().lstrip("@") for g in rules.approvers.groups}:
        return True, "in an approver group"
    return False, f"you are not an approver for {action.action_type}"
