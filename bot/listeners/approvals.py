"""Approve / Deny on a proposed action and Undo on its result. The button carries only the opaque
proposal id; who may click is decided from the policy and Redis, never from the payload, and every
refusal is answered ephemerally with its reason."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import redis
import structlog
from slack_bolt import Ack, App, BoltContext
from slack_bolt.context.respond import Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.deps import BotDeps
from bot.listeners.inputs import click_or_answer
from bot.listeners.replies import ephemeral
from workers import audit
from workers.logconfig import unit_of_work
from workers.policy.ladder import Ladder
from workers.proposals import approval
from workers.proposals.store import ProposalStore
from workers.queue import enqueue_execution
from workers.slack import ids
from workers.slack.neutral import neutralize
from workers.slack.proposal_blocks import show_outcome

log = structlog.get_logger(__name__)
NO_POLICY = "No action policy is loaded here (POLICY_FILE), so nothing can be approved."


def register(app: App) -> None:
    app.action(ids.PROPOSAL_APPROVE)(handle_approve)
    app.action(ids.PROPOSAL_DENY)(handle_deny)
    app.action(ids.PROPOSAL_UNDO)(handle_undo)


def user_groups(client: WebClient, user: str) -> list[str]:
    """The handles of the Slack user groups `user` is in (needs the usergroups:read scope)."""
    try:
        groups = client.usergroups_list(include_users=True).get("usergroups") or []
    except SlackApiError as exc:
        log.warning(
            "user groups unreadable; only listed user ids can approve", error=exc.response.get("error")
        )
        return []
    return [str(g.get("handle", "")) for g in groups if user in (g.get("users") or [])]


def _click(
    ack: Ack, action: dict[str, Any], body: dict[str, Any], respond: Respond, context: BoltContext
) -> tuple[BotDeps, Ladder | None, str, str, str] | None:
    """Ack, and what the click says: the deps, the ladder, who clicked, the proposal id, the channel
    (None when the click was malformed, and the clicker told)."""
    ack()
    deps: BotDeps = context["deps"]
    clicked = click_or_answer(action, body, respond, context["run_id"])
    if clicked is None:
        return None
    return deps, deps.ladder, clicked.user, clicked.value[:100], clicked.channel


def handle_approve(
    ack: Ack,
    action: dict[str, Any],
    body: dict[str, Any],
    respond: Respond,
    client: WebClient,
    context: BoltContext,
) -> None:
    _decide_click(approval.approve, ids.PROPOSAL_APPROVE, ack, action, body, respond, client, context)


def handle_deny(
    ack: Ack,
    action: dict[str, Any],
    body: dict[str, Any],
    respond: Respond,
    client: WebClient,
    context: BoltContext,
) -> None:
    _decide_click(approval.deny, ids.PROPOSAL_DENY, ack, action, body, respond, client, context)


def _decide_click(
    decide: Callable[..., approval.ClickResult],
    action_id: str,
    ack: Ack,
    action: dict[str, Any],
    body: dict[str, Any],
    respond: Respond,
    client: WebClient,
    context: BoltContext,
) -> None:
    """Approve or Deny: the decision in `workers.proposals.approval`, the answer to the clicker only,
    and the execution queued when an approval completed the count."""
    if (clicked := _click(ack, action, body, respond, context)) is None:
        return
    deps, ladder, user, proposal_id, channel = clicked
    with unit_of_work("action handled", action=action_id, run_id=context["run_id"], user=user) as line:
        try:
            if ladder is None or ladder.policy is None:
                _refused(deps.redis, user, proposal_id, "no policy file is loaded")
                ephemeral(respond, NO_POLICY)
                line["outcome"] = "no_policy"
                return
            groups = user_groups(client, user)
            store = ProposalStore(deps.redis)
            result = decide(store, ladder, deps.redis, proposal_id, user, channel, groups, datetime.now(UTC))
            if result.proposal is not None and result.outcome not in ("refused", "unknown", "recorded"):
                # the buttons give way to the outcome before the worker can post its own
                show_outcome(client, result.proposal, body.get("message"))
            if result.execute:
                enqueue_execution(deps.redis, proposal_id, context["run_id"], by=user)
        except redis.RedisError:
            ephemeral(
                respond, ":warning: I couldn't check that right now (Redis is unreachable). Nothing was done."
            )
            line["outcome"] = "redis_down"
            return
        ephemeral(respond, result.message)
        line["outcome"] = result.outcome


def _refused(client: redis.Redis, user: str, proposal_id: str, reason: str, incident: str = "") -> None:
    audit.record(client, incident, "click_refused", by=user, proposal=proposal_id[:80], reason=reason)


def handle_undo(
    ack: Ack,
    action: dict[str, Any],
    body: dict[str, Any],
    respond: Respond,
    client: WebClient,
    context: BoltContext,
) -> None:
    """Undo is for the action's approvers: they took responsibility for it running."""
    if (clicked := _click(ack, action, body, respond, context)) is None:
        return
    deps, _ladder, user, proposal_id, _channel = clicked
    with unit_of_work(
        "action handled", action=ids.PROPOSAL_UNDO, run_id=context["run_id"], user=user
    ) as line:
        try:
            p = ProposalStore(deps.redis).get(proposal_id)
            if p is None or p.state != "succeeded" or not p.undo_token or p.undone:
                why = "unknown proposal" if p is None else "already undone" if p.undone else f"it {p.state}"
                _refused(
                    deps.redis, user, proposal_id, f"nothing to undo ({why})", p.incident_id if p else ""
                )
                ephemeral(respond, "There is nothing to undo for this button.")
                line["outcome"] = "nothing_to_undo"
                return
            if user not in {a.user for a in p.approvals}:
                audit.record(
                    deps.redis,
                    p.incident_id,
                    "undo_refused",
                    by=user,
                    proposal=p.id,
                    reason="not an approver of it",
                )
                ephemeral(respond, f"Only the approvers of `{neutralize(p.label())}` can undo it.")
                line["outcome"] = "refused"
                return
            enqueue_execution(deps.redis, proposal_id, context["run_id"], undo=True, by=user)
        except redis.RedisError:
            ephemeral(respond, ":warning: I couldn't queue that right now (Redis is unreachable).")
            line["outcome"] = "redis_down"
            return
        ephemeral(respond, f"Undoing `{neutralize(p.label())}`; the result will be posted in the thread.")
        line["outcome"] = "undo"
