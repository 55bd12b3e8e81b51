"""Block actions on a triage answer: "same cause" / "not related" on a similar past incident, and
Support / Reject / Need data on a hypothesis of the board (stored as timeline events)."""

from __future__ import annotations

from typing import Any

import redis
from slack_bolt import Ack, App, BoltContext
from slack_bolt.context.respond import Respond

from bot.deps import BotDeps
from workers.logconfig import unit_of_work
from workers.slack import ids

LABELS = {ids.KB_SAME_CAUSE: "same cause", ids.KB_NOT_RELATED: "not related"}


VERDICT_WORDS = {"support": "supported", "reject": "rejected", "need_data": "marked as needing data"}


def register(app: App) -> None:
    app.action(ids.KB_SAME_CAUSE)(handle_feedback)
    app.action(ids.KB_NOT_RELATED)(handle_feedback)
    for action_id in ids.HYPOTHESIS_VERDICTS:
        app.action(action_id)(handle_verdict)


def handle_verdict(
    ack: Ack, action: dict[str, Any], body: dict[str, Any], respond: Respond, context: BoltContext
) -> None:
    """A click on a hypothesis: one verdict per user and hypothesis, every click kept in the timeline."""
    ack()
    deps: BotDeps = context["deps"]
    user = (body.get("user") or {}).get("id", "")
    incident_id, _, hypothesis_id = str(action.get("value", "")).partition("|")
    verdict = ids.HYPOTHESIS_VERDICTS[action["action_id"]]
    with unit_of_work(
        "action handled", action=action["action_id"], run_id=context["run_id"], user=user
    ) as line:
        try:
            known = deps.board.feedback(incident_id, hypothesis_id, verdict, user)
        except redis.RedisError:
            respond(
                text=":warning: I couldn't store that right now (Redis is unreachable).",
                response_type="ephemeral",
                replace_original=False,
            )
            line["outcome"] = "redis_down"
            return
        if not known:
            respond(
                text=f"`{hypothesis_id}` is no longer on this incident's board; run `/triage` to refresh it.",
                response_type="ephemeral",
                replace_original=False,
            )
            line["outcome"] = "unknown_hypothesis"
            return
        respond(
            text=f"Noted: you {VERDICT_WORDS[verdict]} `{hypothesis_id}`. It is on the incident timeline "
            "and the postmortem's decision tree.",
            response_type="ephemeral",
            replace_original=False,
        )
        line["outcome"] = verdict


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
