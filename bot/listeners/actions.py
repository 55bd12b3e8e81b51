"""Block actions: "same cause" / "not related" on a similar past incident shown in an answer."""

from __future__ import annotations

from typing import Any

import redis
from slack_bolt import Ack, App, BoltContext
from slack_bolt.context.respond import Respond

from bot.deps import BotDeps
from workers.logconfig import unit_of_work
from workers.slack import ids

LABELS = {ids.KB_SAME_CAUSE: "same cause", ids.KB_NOT_RELATED: "not related"}


def register(app: App) -> None:
    app.action(ids.KB_SAME_CAUSE)(handle_feedback)
    app.action(ids.KB_NOT_RELATED)(handle_feedback)


def handle_feedback(
    ack: Ack, action: dict[str, Any], body: dict[str, Any], respond: Respond, context: BoltContext
) -> None:
    ack()
    deps: BotDeps = context["deps"]
    user = (body.get("user") or {}).get("id", "")
    record_id, _, incident_type = str(action.get("value", "")).partition("|")
    label = LABELS[action["action_id"]]
    with unit_of_work(
        "action handled", action=action["action_id"], run_id=context["run_id"], user=user
    ) as line:
        if deps.knowledge is None or not record_id:
            line["outcome"] = "ignored"
            return
        try:
            deps.knowledge.feedback.record(incident_type or "unknown", record_id, label, user)
        except redis.RedisError:
            respond(
                text=":warning: I couldn't store that right now (Redis is unreachable).",
                replace_original=False,
            )
            line["outcome"] = "redis_down"
            return
        respond(
            text=f"Noted: `{record_id}` is *{label}* for {incident_type or 'this kind of'} incidents. "
            "Later rankings use it.",
            response_type="ephemeral",
            replace_original=False,
        )
        line["outcome"] = label
