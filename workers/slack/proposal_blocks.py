"""A proposal on the board: its Approve / Deny buttons (Approve behind Slack's confirm dialog, which
shows exactly what will run) and, once it is decided, the outcome in their place.

The bot replaces the buttons when a click decides the proposal (before the execution is queued, so
the worker's later update wins); the worker replaces them again with the result.
"""

from __future__ import annotations

from typing import Any

import structlog
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from workers.proposals.model import Proposal
from workers.slack import ids
from workers.slack.blocks import button, clip, context
from workers.slack.neutral import mention, neutralize

log = structlog.get_logger(__name__)
Block = dict[str, Any]
OUTCOME = {
    "approved": ":hourglass_flowing_sand: approved by {who}: running",
    "executing": ":hourglass_flowing_sand: approved by {who}: running",
    "succeeded": ":white_check_mark: approved by {who}: succeeded",
    "failed": ":x: approved by {who}: failed",
    "denied": ":no_entry: denied: {reason}",
    "cancelled": ":no_entry: withdrawn by the requester",
    "expired": ":hourglass: expired: nobody approved it in time",
}


def block_id(proposal_id: str) -> str:
    return clip(f"prop:{proposal_id}", 255)


def buttons(proposal_id: str, short: str, what: str) -> Block:
    """Approve `short` (behind a confirm dialog naming exactly `what` will run) and Deny."""
    approve = {
        **button(clip(f"Approve {short}", 75), ids.PROPOSAL_APPROVE, proposal_id),
        "style": "primary",
        "confirm": {
            "title": {"type": "plain_text", "text": "Run this action?"},
            "text": {
                "type": "mrkdwn",
                "text": clip(
                    f"`{what}` runs once every approval it needs is given, after the policy and "
                    "the error budget are checked again.",
                    300,
                ),
            },
            "confirm": {"type": "plain_text", "text": "Approve"},
            "deny": {"type": "plain_text", "text": "Cancel"},
            "style": "primary",
        },
    }
    deny = {**button("Deny", ids.PROPOSAL_DENY, proposal_id), "style": "danger"}
    return {"type": "actions", "block_id": block_id(proposal_id), "elements": [approve, deny]}


def outcome(p: Proposal) -> Block:
    """What became of the proposal, in the place its buttons were."""
    who = ", ".join(mention(a.user) for a in p.approvals) or "nobody"
    text = OUTCOME.get(p.state, p.state).format(who=who, reason=neutralize(p.reason or "by an approver"))
    return context(clip(f"`{neutralize(p.label())}` {text}", 2900))


def show_outcome(client: WebClient, p: Proposal, message: dict[str, Any] | None = None) -> None:
    """Replace the proposal's buttons in its answer by its outcome. `message` is the answer when the
    caller has it (a click payload carries it); otherwise it is read from the channel."""
    if not p.message_ts or p.state == "proposed":
        return
    try:
        if message is None or not message.get("blocks"):
            history = client.conversations_history(
                channel=p.channel_id, latest=p.message_ts, oldest=p.message_ts, inclusive=True, limit=1
            )
            found = history.get("messages") or []
            message = found[0] if found else {}
        blocks = message.get("blocks") or []
        mine = block_id(p.id)
        if not any(b.get("block_id") == mine for b in blocks):
            return
        new = [outcome(p) | {"block_id": mine} if b.get("block_id") == mine else b for b in blocks]
        client.chat_update(channel=p.channel_id, ts=p.message_ts, text=message.get("text", ""), blocks=new)
    except SlackApiError as exc:  # the outcome is in the thread and the audit trail all the same
        log.warning(
            "could not show the outcome on the board", proposal=p.id, slack_error=exc.response.get("error")
        )
