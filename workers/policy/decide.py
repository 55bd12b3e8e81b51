"""Deny by default: what level an action gets under the policy, the error budget and novelty, and who
may approve it. Every answer carries its reasons, for the user and for the audit trail.

Every name is compared in its canonical form (`workers.policy.identity`), and what an action does
not say counts against it: a missing attribute matches every deny rule that names it and no allow
scope that requires it; an act-level action missing a parameter it needs is never approvable; one
that would change nothing is not shown at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from workers.policy.identity import canonical, plain
from workers.policy.model import LEVELS, ActionPolicy, BudgetState, Level, PolicyFile

# Parameters an action type cannot run without, whatever the policy file says: each entry is a set of
# alternatives, one of which must be present.
REQUIRED: dict[str, tuple[tuple[str, ...], ...]] = {"scale": (("replicas", "replica_change"),)}
NUMERIC = frozenset({"replicas", "replica_change", "revision"})  # present only as a whole number


def whole(value: object) -> int | None:
    """A whole number from a parameter (3, 3.0, "+3"), else None."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(str(value).strip())
    except ValueError:
        return None
    return int(number) if number.is_integer() else None


@dataclass(frozen=True)
class ActionRequest:
    action_type: str
    service: str
    environment: str = ""
    namespace: str = ""
    replica_change: int | None = None
    params: Mapping[str, str] = field(default_factory=dict)

    def canonical(self) -> ActionRequest:
        return ActionRequest(
            canonical(self.action_type),
            canonical(self.service),
            canonical(self.environment),
            canonical(self.namespace),
            self.replica_change,
            {canonical(k): str(v).strip() for k, v in self.params.items() if canonical(v)},
        )


@dataclass(frozen=True)
class Decision:
    level: Level
    written: Level
    reasons: list[str] = field(default_factory=list)
    approvals_needed: int = 1
    policy_sha256: str = ""


def _lowest(*levels: Level) -> Level:
    return min(levels, key=LEVELS.index)


def _glob(pattern: str, value: str) -> bool:
    return fnmatchcase(value, canonical(pattern))


def _denied_by(pattern: str, value: str) -> bool:
    """A deny rule's field: an attribute the action lacks matches (fail closed)."""
    return not value or _glob(pattern, value)


def _allowed_by(pattern: str, value: str) -> bool:
    """An allow scope's field: an attribute the action lacks matches only a scope that does not ask."""
    return _glob(pattern, value) if value else canonical(pattern) == "*"


def rules_for(policy: PolicyFile, action_type: str) -> ActionPolicy | None:
    """The policy's rules for an action type, looked up by canonical name."""
    wanted = canonical(action_type)
    return next((r for k, r in policy.actions.items() if canonical(k) == wanted), None)


def missing_params(rules: ActionPolicy, action: ActionRequest) -> list[str]:
    """The parameters the action needs and lacks, each as `a` or `a or b`."""
    needed = [*REQUIRED.get(action.action_type, ()), *((canonical(r),) for r in rules.require)]

    def present(name: str) -> bool:
        value = action.params.get(name, "")
        return bool(value) and (name not in NUMERIC or whole(value) is not None)

    return [" or ".join(alts) for alts in needed if not any(present(a) for a in alts)]


def no_op(action: ActionRequest) -> str:
    """Why the action would change nothing, or ""."""
    if action.action_type == "scale" and "replicas" not in action.params and action.replica_change == 0:
        return "a change of 0 replicas changes nothing"
    return ""


def decide(policy: PolicyFile, action: ActionRequest, budget: BudgetState, novel: bool) -> Decision:
    """The level the action gets: deny rules first, then the action's policy and scope, then the caps."""
    sha = policy.sha256
    action = action.canonical()
    rules = rules_for(policy, action.action_type)
    written: Level = rules.level if rules is not None else "observe"
    names = (action.action_type, action.service, action.environment, action.namespace)
    if not all(plain(n) for n in names):
        return Decision(
            "observe", written, ["a name with characters outside a-z 0-9 . _ : / - : observe only"], 1, sha
        )
    for rule in policy.deny:
        if _glob(rule.action, action.action_type) and all(
            _denied_by(p, v)
            for p, v in (
                (rule.environment, action.environment),
                (rule.service, action.service),
                (rule.namespace, action.namespace),
            )
        ):
            return Decision("observe", written, [f"denied: {rule.reason}"], policy_sha256=sha)
    if rules is None:
        return Decision(
            "observe", "observe", [f"{action.action_type!r} is not in the policy: observe only"], 1, sha
        )
    if why := no_op(action):
        return Decision("observe", written, [f"{why}: not shown"], 1, sha)
    reasons = [f"the policy says {rules.level} for {action.action_type}"]
    in_scope = any(
        _allowed_by(s.environment, action.environment)
        and _allowed_by(s.service, action.service)
        and _allowed_by(s.namespace, action.namespace)
        for s in rules.scopes
    )
    level: Level = rules.level
    if not in_scope:
        reasons.append(
            f"{action.service or 'no service'} ({action.environment or 'no environment'}, "
            f"{action.namespace or 'no namespace'}) is in none of its scopes"
        )
        level = "observe"
    if level == "act" and (lacking := missing_params(rules, action)):
        reasons.append(f"missing {', '.join(lacking)}: never approvable, shown as a suggestion")
        level = "suggest"
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


def listed_approver(rules: ActionPolicy, approver: str, approver_groups: Sequence[str]) -> bool:
    """Whether `approver` is named in the rules, by user id or through a group handle."""
    wanted = {canonical(g).lstrip("@") for g in rules.approvers.groups}
    return approver in rules.approvers.users or bool(
        wanted & {canonical(g).lstrip("@") for g in approver_groups}
    )


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
    if not approver or approver == requester:
        return False, "you requested this action; someone else must approve it"
    rules = rules_for(policy, action.action_type)
    if rules is None:
        return False, f"{action.action_type} is not in the policy"
    if approver in rules.approvers.users:
        return True, "listed as an approver"
    if listed_approver(rules, approver, approver_groups):
        return True, "in an approver group"
    return False, f"you are not an approver for {action.action_type}"
