"""The execution job: run one approved proposal, once.

Never retried (an action must not run twice on its own). The job moves the proposal approved →
executing by compare-and-set, so a second job for the same proposal does nothing; it checks the
policy again (budget and approvals as they are now) and the rate limit, shows the dry run, executes,
verifies, and reports the result in the answer's thread with an Undo button where one exists.
The executors, and their credentials, live in the worker only.
"""

from __future__ import annotations

import time
from typing import Any

import structlog
from slack_sdk.errors import SlackApiError

from workers import audit, metrics, runtime
from workers.errors import ExecutorError
from workers.executors.base import ActionRequest, Outcome
from workers.jobs.context import bind_job
from workers.policy.decide import rules_for
from workers.policy.identity import canonical
from workers.policy.model import ActionPolicy
from workers.proposals.approval import current_decision
from workers.proposals.model import Proposal, State
from workers.proposals.store import ProposalStore
from workers.slack import ids
from workers.slack.blocks import button, clip, section
from workers.slack.neutral import mention, neutralize
from workers.slack.proposal_blocks import show_outcome

log = structlog.get_logger(__name__)


def run(payload: dict[str, Any]) -> dict[str, Any]:
    """RQ entry point: {"run_id", "proposal_id", "undo": bool, "by": user}."""
    rt = runtime.current()
    store = ProposalStore(rt.redis.client)
    proposal_id, undo, by = str(payload["proposal_id"]), bool(payload.get("undo")), str(payload.get("by", ""))
    with bind_job("execute", str(payload.get("run_id", "")), proposal=proposal_id, undo=str(undo)) as line:
        outcome = _undo(rt, store, proposal_id, by) if undo else _execute(rt, store, proposal_id)
        line.update(outcome=outcome)
        metrics.inc(rt.redis.client, "executions", outcome=outcome, undo=str(undo).lower())
        return {"outcome": outcome}


def _execute(rt: runtime.Runtime, store: ProposalStore, proposal_id: str) -> str:
    p, moved = store.transition(proposal_id, "approved", "executing")
    if p is None or not moved:
        if p is not None:  # a second job for a proposal another job took, or one never approved
            _record(rt, p, "refused_at_execution", "not_run", f"not run: it is {p.state}, not approved")
        return "not_approved"  # unknown, or another job already took it: exactly one execution
    now = current_decision(rt.ladder, p)  # the policy file as it reads now, the budget now
    rules = rules_for(now.policy, p.action.action_type) if now.policy is not None else None
    needed = max(1, p.approvals_needed, now.decision.approvals_needed)
    refusal = now.below_act()
    if not refusal and len({a.user for a in p.approvals} - {p.requested_by}) < needed:
        refusal = f"it has {len(p.approvals)} of the {needed} approvals it needs"
    if not refusal and rules is not None and (limit := _rate_limited(rt, p, rules)):
        refusal = limit
    executor = rt.executors.get(p.action.action_type)
    if not refusal and executor is None:
        refusal = f"no executor for {p.action.action_type} is configured on this worker"
    under = {"policy_sha256": now.decision.policy_sha256, "budget": now.budget.reason}
    if refusal or executor is None:
        return _finish(rt, store, p, "failed", f"not run: {refusal}", "refused_at_execution", under)
    request = _request(p, rules)
    try:
        if rules is None or rules.dry_run_first:  # a failing dry run stops it before it changes anything
            plan = executor.dry_run(request)
            lines = "\n".join(f"• {neutralize(x)}" for x in plan.lines)
            post_in_thread(rt, p, f":mag: *Dry run* of `{neutralize(p.label())}`:\n{lines}")
        outcome = executor.execute(request)
        check = executor.verify(request, outcome) if outcome.ok else None
    except ExecutorError as exc:
        return _finish(rt, store, p, "failed", f"failed: {exc}", "executed", under)
    ok = outcome.ok and check is not None and check.ok
    detail = outcome.detail + (f"; verified: {check.detail}" if check is not None else "")
    return _finish(rt, store, p, "succeeded" if ok else "failed", detail, "executed", under, outcome)


def _finish(
    rt: runtime.Runtime,
    store: ProposalStore,
    p: Proposal,
    state: State,
    detail: str,
    kind: str,
    under: dict[str, str],
    outcome: Outcome | None = None,
) -> str:
    token = outcome.undo_token if outcome is not None and state == "succeeded" else ""
    # Audited before the state changes: whoever sees the final state finds its audit entry.
    _record(rt, p, kind, state, detail, **under)
    after, _ = store.transition(p.id, "executing", state, result=detail, undo_token=token)
    if after is not None:
        show_outcome(rt.slack, after)
    mark = ":white_check_mark:" if state == "succeeded" else ":x:"
    text = f"{mark} `{neutralize(p.label())}` {state}: {neutralize(detail)}"
    extra = [button("Undo", ids.PROPOSAL_UNDO, p.id)] if token else []
    post_in_thread(rt, after or p, text, extra)
    return state


def _undo(rt: runtime.Runtime, store: ProposalStore, proposal_id: str, by: str) -> str:
    p = store.get(proposal_id)
    if p is None or p.state != "succeeded" or not p.undo_token:
        return "nothing_to_undo"
    _same, claimed = store.update(
        proposal_id, lambda cur: None if cur.undone else cur.model_copy(update={"undone": True})
    )
    if not claimed:
        return "already_undone"
    executor = rt.executors.get(p.action.action_type)
    policy = rt.ladder.policy
    request = _request(p, rules_for(policy, p.action.action_type) if policy else None)
    try:
        result = (
            executor.undo(request, Outcome(ok=True, detail=p.result, undo_token=p.undo_token))
            if executor
            else None
        )
    except ExecutorError as exc:
        result = Outcome(ok=False, detail=str(exc))
    state = "undone" if result is not None and result.ok else "undo_failed"
    detail = result.detail if result is not None else "this action has no undo"
    audit.record(
        rt.redis.client,
        p.incident_id,
        state,
        by=by,
        proposal=p.id,
        action=p.action.model_dump(mode="json"),
        reason=detail,
    )
    what, why = neutralize(p.label()), neutralize(detail)
    post_in_thread(rt, p, f":leftwards_arrow_with_hook: Undo of `{what}` by {mention(by)}: {state} ({why})")
    return state


def _record(rt: runtime.Runtime, p: Proposal, kind: str, result: str, reason: str, **extra: str) -> None:
    audit.record(
        rt.redis.client,
        p.incident_id,
        kind,
        by="bot",
        proposal=p.id,
        action=p.action.model_dump(mode="json"),
        result=result,
        reason=reason,
        approvers=[a.user for a in p.approvals],
        proposed_under=p.policy_sha256,
        novel=p.novel,
        **extra,
    )


def _request(p: Proposal, rules: ActionPolicy | None) -> ActionRequest:
    """What the executor gets: the action in canonical names, and the policy's blast-radius cap."""
    request = p.request()
    params = {k: str(v) for k, v in p.action.params.items()}
    params.update({k: v for k, v in request.params.items() if k in ("namespace", "environment")})
    params.pop("max_replica_change", None)  # only the policy sets the cap, never the proposal
    if rules is not None and rules.max_replica_change is not None:
        params["max_replica_change"] = str(rules.max_replica_change)
    return ActionRequest(
        action=request.action_type,
        target=request.service,
        params=params,
        requested_by=p.requested_by,
        proposal_id=p.id,
    )


def _rate_limited(rt: runtime.Runtime, p: Proposal, rules: ActionPolicy) -> str:
    """Executions of this action type in the policy's window; "" while under the limit (recorded)."""
    if rules.rate_limit is None:
        return ""
    key = f"ic:executions:{canonical(p.action.action_type)}"
    now = time.time()
    window = rules.rate_limit.per_minutes * 60
    client = rt.redis.client
    # Count and claim in one transaction, so two workers cannot both take the last slot.
    with client.pipeline(transaction=True) as tx:
        tx.zremrangebyscore(key, 0, now - window)
        tx.zadd(key, {p.id: now})
        tx.zcard(key)
        tx.expire(key, window)
        counted = int(tx.execute()[2])  # this one included, in the order the transactions ran
    limit = rules.rate_limit
    if counted > limit.executions:
        client.zrem(key, p.id)
        return f"rate limit: {limit.executions} {p.action.action_type} per {limit.per_minutes} min"
    return ""


def post_in_thread(
    rt: runtime.Runtime, p: Proposal, text: str, buttons: list[dict[str, Any]] | None = None
) -> None:
    blocks: list[dict[str, Any]] = [section(clip(text, 2900))]
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    try:
        rt.slack.chat_postMessage(
            channel=p.channel_id, thread_ts=p.message_ts or None, text=clip(text, 300), blocks=blocks
        )
    except SlackApiError as exc:  # the result is in the audit trail and on the proposal all the same
        log.warning(
            "could not post the execution result", proposal=p.id, slack_error=exc.response.get("error")
        )
