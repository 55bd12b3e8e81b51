"""What an Approve or Deny click does. Deny by default: the click counts only when the proposal is
known and still open, the policy (as it reads now, under the error budget now) still puts the
action at act for this scope, the proposal is not novel-capped, and the clicker is a listed approver
who did not request it. Every refusal says why, and is audited with that reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import redis

from workers import audit
from workers.policy.decide import listed_approver, may_approve, rules_for
from workers.policy.ladder import Ladder, Now, decision_now
from workers.proposals.model import Approval, Proposal
from workers.proposals.store import ProposalStore
from workers.slack.neutral import neutralize

Outcome = Literal["approved", "recorded", "denied", "cancelled", "refused", "closed", "expired", "unknown"]
UNKNOWN = (
    "This button refers to no proposal I know (tampered with, or from another workspace). Nothing was done."
)


@dataclass(frozen=True)
class ClickResult:
    outcome: Outcome
    message: str
    proposal: Proposal | None = None

    @property
    def execute(self) -> bool:
        """Whether this click completed the approvals: the caller enqueues the execution, once."""
        return self.outcome == "approved"


def current_decision(ladder: Ladder, p: Proposal) -> Now:
    """The policy's decision on the proposal now: the file as it reads now, the budget now."""
    return decision_now(ladder, p.request(), p.novel)


def _open(
    store: ProposalStore, client: redis.Redis, proposal_id: str, user: str, channel: str, now: datetime
) -> ClickResult | Proposal:
    """The proposal if it is open to clicks from this channel, else the answer to give."""
    p = store.get(proposal_id)
    if p is None:
        audit.record(
            client, "", "click_refused", by=user, proposal=proposal_id[:80], reason="unknown proposal id"
        )
        return ClickResult("unknown", UNKNOWN)
    if channel != p.channel_id:
        _audit(
            client,
            p,
            "click_refused",
            user,
            f"clicked in {channel or 'no channel'}, proposed in {p.channel_id}",
        )
        return ClickResult(
            "refused", "This proposal belongs to another channel's incident. Nothing was done.", p
        )
    expired, changed = store.expire_if_due(proposal_id, now)
    if changed and expired is not None:
        _audit(client, expired, "expired", user, expired.reason)
        return ClickResult(
            "expired", f"{_shown(p)} expired at {p.expires_at:%H:%M} UTC; nothing was done.", expired
        )
    if p.state != "proposed":
        _audit(client, p, "click_refused", user, f"already {p.state}")
        return ClickResult("closed", f"{_shown(p)} is already {p.state}; this click changes nothing.", p)
    return p


def approve(
    store: ProposalStore,
    ladder: Ladder,
    client: redis.Redis,
    proposal_id: str,
    user: str,
    channel: str,
    groups: Sequence[str],
    now: datetime,
) -> ClickResult:
    found = _open(store, client, proposal_id, user, channel, now)
    if isinstance(found, ClickResult):
        return found
    p = found
    current = current_decision(ladder, p)
    decision, budget = current.decision, current.budget
    under = {"budget": budget.reason, "budget_state": budget.state, "policy_now": decision.policy_sha256}
    refusal = _refusal(current, p, user, groups)
    if refusal:
        _audit(client, p, "approval_refused", user, refusal, **under)
        return ClickResult("refused", f"I can't count your approval of {_shown(p)}: {neutralize(refusal)}", p)
    needed = max(1, p.approvals_needed, decision.approvals_needed)

    def add(cur: Proposal) -> Proposal | None:
        if cur.state != "proposed" or any(a.user == user for a in cur.approvals):
            return None
        approvals = [*cur.approvals, Approval(user=user, at=now)]
        state = "approved" if len(approvals) >= needed else "proposed"
        return cur.model_copy(update={"approvals": approvals, "state": state})

    after, changed = store.update(proposal_id, add)
    if not changed or after is None:
        state = after.state if after else "gone"
        _audit(client, after or p, "click_refused", user, f"approval already counted ({state})", **under)
        return ClickResult(
            "closed", f"Your approval of {_shown(p)} was already counted (it is {state}).", after
        )
    if after.state == "approved":
        _audit(
            client,
            after,
            "approved",
            user,
            "approvals complete",
            approvers=[a.user for a in after.approvals],
            **under,
        )
        return ClickResult(
            "approved", f"Approved: {_shown(p)} runs now; the result will be posted in the thread.", after
        )
    _audit(
        client,
        after,
        "approval_recorded",
        user,
        f"{len(after.approvals)} of {needed} approvals",
        **under,
    )
    count = f"{len(after.approvals)} of {needed}"
    return ClickResult(
        "recorded", f"Your approval of {_shown(p)} is {count}; another approver must confirm.", after
    )


def deny(
    store: ProposalStore,
    ladder: Ladder,
    client: redis.Redis,
    proposal_id: str,
    user: str,
    channel: str,
    groups: Sequence[str],
    now: datetime,
) -> ClickResult:
    """An approver denies; the requester may withdraw (cancel) their own proposal."""
    found = _open(store, client, proposal_id, user, channel, now)
    if isinstance(found, ClickResult):
        return found
    p = found
    to: Literal["cancelled", "denied"]
    policy = ladder.policy
    rules = rules_for(policy, p.action.action_type) if policy is not None else None
    if user == p.requested_by:
        to, reason = "cancelled", "withdrawn by the requester"
    elif rules is not None and listed_approver(rules, user, groups):
        to, reason = "denied", "denied by an approver"
    else:
        _audit(client, p, "deny_refused", user, "not an approver")
        return ClickResult("refused", f"Only an approver for {p.action.action_type} can deny {_shown(p)}.", p)
    after, changed = store.transition(proposal_id, "proposed", to, reason=reason)
    if not changed:
        state = after.state if after else "gone"
        _audit(client, after or p, "click_refused", user, f"already {state}")
        return ClickResult("closed", f"{_shown(p)} is already {state}; this click changes nothing.", after)
    _audit(client, after or p, to, user, reason, policy_now=policy.sha256 if policy else "")
    return ClickResult(to, f"{_shown(p)} {to}: it will not run.", after)


def _refusal(now: Now, p: Proposal, user: str, groups: Sequence[str]) -> str:
    """Why this user may not approve this proposal now; "" when they may."""
    decision, policy = now.decision, now.policy
    if policy is None:
        return "no policy file is loaded, so nothing may run"
    if decision.level != "act":
        return (
            f"the policy now puts it at {decision.level} ({'; '.join(decision.reasons)}; {now.budget.reason})"
        )
    if not user or user == p.requested_by:
        return "you requested this action; someone else must approve it"
    rules = rules_for(policy, p.action.action_type)
    if rules is not None and rules.approvals == 0 and decision.approvals_needed == 0:
        return ""  # reversible and the budget is healthy: anyone but the requester may confirm
    ok, why = may_approve(policy, p.request(), decision, user, p.requested_by, groups)
    return "" if ok else why


def _audit(client: redis.Redis, p: Proposal, kind: str, user: str, reason: str, **extra: object) -> None:
    """An entry about a click; `policy_sha256` is the hash the decision was made under (`policy_now`),
    `proposed_under` the one the proposal was made under."""
    now_sha = extra.pop("policy_now", "") or p.policy_sha256
    audit.record(
        client,
        p.incident_id,
        kind,
        by=user,
        proposal=p.id,
        action=p.action.model_dump(mode="json"),
        reason=reason,
        policy_sha256=now_sha,
        proposed_under=p.policy_sha256,
        novel=p.novel,
        **extra,
    )


def _shown(p: Proposal) -> str:
    """The proposal as the clicker sees it: its label, as text."""
    return f"`{neutralize(p.label())}`"
