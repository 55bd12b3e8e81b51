"""Block actions: "same cause" / "not related" on a similar past incident, Support / Reject / Need
data on a hypothesis of the board (stored as timeline events), "Mark resolved" on a triage answer
and "Approve postmortem" on a postmortem draft."""

from __future__ import annotations

from typing import Any

import redis
from slack_bolt import Ack, App, BoltContext
from slack_bolt.context.respond import Respond
from slack_sdk import WebClient

from bot.deps import BotDeps
from bot.listeners.inputs import click_or_answer
from bot.listeners.replies import ephemeral
from workers import audit
from workers.logconfig import unit_of_work
from workers.postmortem.record import DraftStore
from workers.queue import enqueue_postmortem
from workers.slack import ids, postmortem_blocks
from workers.slack.neutral import neutralize

LABELS = {ids.KB_SAME_CAUSE: "same cause", ids.KB_NOT_RELATED: "not related"}


VERDICT_WORDS = {"support": "supported", "reject": "rejected", "need_data": "marked as needing data"}


def register(app: App) -> None:
    app.action(ids.KB_SAME_CAUSE)(handle_feedback)
    app.action(ids.KB_NOT_RELATED)(handle_feedback)
    for action_id in ids.HYPOTHESIS_VERDICTS:
        app.action(action_id)(handle_verdict)
    app.action(ids.INCIDENT_RESOLVE)(handle_resolve)
    app.action(ids.POSTMORTEM_APPROVE)(handle_approve_postmortem)


def handle_resolve(
    ack: Ack, action: dict[str, Any], body: dict[str, Any], respond: Respond, context: BoltContext
) -> None:
    """Mark resolved: as `/triage resolve` without a summary, for the incident on the answer."""
    ack()
    deps: BotDeps = context["deps"]
    clicked = click_or_answer(action, body, respond, context["run_id"])
    if clicked is None:
        return
    user, channel, incident_id = clicked.user, clicked.channel, clicked.value
    with unit_of_work(
        "action handled", action=ids.INCIDENT_RESOLVE, run_id=context["run_id"], user=user
    ) as line:
        try:
            incident = deps.incidents.get(incident_id)
            if incident is None or incident.channel_id != channel:
                shown = neutralize(incident_id)
                ephemeral(respond, f"`{shown}` is not an incident of this channel; nothing was resolved.")
                line["outcome"] = "unknown_incident"
                return
            enqueue_postmortem(deps.redis, incident.id, channel, "button", user, context["run_id"])
        except redis.RedisError:
            ephemeral(respond, ":warning: I couldn't queue that right now (Redis is unreachable).")
            line["outcome"] = "redis_down"
            return
        ephemeral(respond, f"Resolving `{incident.id}`; the postmortem draft will appear in this channel.")
        line["outcome"] = "resolve"


def handle_approve_postmortem(
    ack: Ack,
    action: dict[str, Any],
    body: dict[str, Any],
    respond: Respond,
    client: WebClient,
    context: BoltContext,
) -> None:
    """Approve postmortem: the draft becomes a reviewed record in the knowledge base."""
    ack()
    deps: BotDeps = context["deps"]
    clicked = click_or_answer(action, body, respond, context["run_id"])
    if clicked is None:
        return
    user, incident_id = clicked.user, clicked.value
    with unit_of_work(
        "action handled", action=ids.POSTMORTEM_APPROVE, run_id=context["run_id"], user=user
    ) as line:
        if deps.knowledge is None:
            ephemeral(respond, "The knowledge base is not available here.")
            line["outcome"] = "no_kb"
            return
        try:
            pm = DraftStore(deps.redis).mark_reviewed(incident_id, f"<@{user}>", deps.knowledge.store)
            if pm is not None:
                audit.record(deps.redis, incident_id, "postmortem_reviewed", by=user, version=str(pm.version))
        except redis.RedisError:
            ephemeral(respond, ":warning: I couldn't store that right now (Redis is unreachable).")
            line["outcome"] = "redis_down"
            return
        if pm is None:
            ephemeral(respond, f"There is no postmortem draft for `{neutralize(incident_id)}`.")
            line["outcome"] = "unknown_draft"
            return
        container = body.get("container") or {}
        if container.get("channel_id") and container.get("message_ts"):
            text, blocks = postmortem_blocks.summary(pm)
            client.chat_update(
                channel=container["channel_id"], ts=container["message_ts"], text=text, blocks=blocks
            )
        shown = neutralize(incident_id)
        ephemeral(respond, f"Postmortem `{shown}` v{pm.version} is marked reviewed in the knowledge base.")
        line["outcome"] = "reviewed"


def handle_verdict(
    ack: Ack, action: dict[str, Any], body: dict[str, Any], respond: Respond, context: BoltContext
) -> None:
    """A click on a hypothesis: one verdict per user and hypothesis, every click kept in the timeline."""
    ack()
    deps: BotDeps = context["deps"]
    clicked = click_or_answer(action, body, respond, context["run_id"])
    if clicked is None:
        return
    user = clicked.user
    incident_id, _, hypothesis_id = clicked.value.partition("|")
    verdict = ids.HYPOTHESIS_VERDICTS[clicked.action_id]
    with unit_of_work(
        "action handled", action=clicked.action_id, run_id=context["run_id"], user=user
    ) as line:
        try:
            known = deps.board.feedback(incident_id, hypothesis_id, verdict, user)
        except redis.RedisError:
            ephemeral(respond, ":warning: I couldn't store that right now (Redis is unreachable).")
            line["outcome"] = "redis_down"
            return
        if not known:
            ephemeral(
                respond,
                f"`{neutralize(hypothesis_id)}` is no longer on this incident's board; "
                "run `/triage` to refresh it.",
            )
            line["outcome"] = "unknown_hypothesis"
            return
        ephemeral(
            respond,
            f"Noted: you {VERDICT_WORDS[verdict]} `{neutralize(hypothesis_id)}`. It is on the incident "
            "timeline and the postmortem's decision tree.",
        )
        line["outcome"] = verdict


def handle_feedback(
    ack: Ack, action: dict[str, Any], body: dict[str, Any], respond: Respond, context: BoltContext
) -> None:
    ack()
    deps: BotDeps = context["deps"]
    clicked = click_or_answer(action, body, respond, context["run_id"])
    if clicked is None:
        return
    user = clicked.user
    record_id, _, incident_type = clicked.value.partition("|")
    label = LABELS[clicked.action_id]
    with unit_of_work(
        "action handled", action=clicked.action_id, run_id=context["run_id"], user=user
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
        ephemeral(
            respond,
            f"Noted: `{neutralize(record_id)}` is *{label}* for "
            f"{neutralize(incident_type) or 'this kind of'} incidents. Later rankings use it.",
        )
        line["outcome"] = label
