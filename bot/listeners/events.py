"""Events API: messages in incident channels are kept, per incident, for the timeline; an incident
channel being archived resolves its incident and drafts the postmortem."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import structlog
from slack_bolt import App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.deps import BotDeps
from bot.listeners.inputs import ArchiveInput, MalformedRequest, MessageInput, parse
from workers.queue import enqueue_postmortem
from workers.slack import ids

log = structlog.get_logger(__name__)
IGNORED_SUBTYPES = {"bot_message", "channel_join", "channel_leave", "message_deleted"}


def register(app: App) -> None:
    app.event(ids.MESSAGE_EVENT)(handle_message)
    app.event(ids.CHANNEL_ARCHIVE_EVENT)(handle_archive)
    app.event(ids.GROUP_ARCHIVE_EVENT)(handle_archive)


def handle_archive(event: dict[str, Any], context: BoltContext) -> None:
    deps: BotDeps = context["deps"]
    try:
        archived = parse(ArchiveInput, event, "channel_archive event")
    except MalformedRequest as exc:
        log.warning("malformed event", run_id=context["run_id"], error=str(exc))
        return
    channel = archived.channel
    incident = deps.incidents.current_for(channel)
    if incident is None:
        return
    enqueue_postmortem(deps.redis, incident.id, channel, "archive", archived.user, context["run_id"])
    log.info("incident channel archived", incident=incident.id)


def _channel_name(deps: BotDeps, client: WebClient, channel_id: str) -> str | None:
    def lookup() -> str | None:
        try:
            return str(client.conversations_info(channel=channel_id)["channel"]["name"])
        except SlackApiError:
            return None

    return deps.incidents.channel_name(channel_id, lookup)


def handle_message(
    event: dict[str, Any], body: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    try:
        msg = parse(MessageInput, event, "message event")
    except MalformedRequest as exc:
        log.warning("malformed event", run_id=context["run_id"], error=str(exc))
        return
    if msg.bot_id or msg.subtype in IGNORED_SUBTYPES:
        return
    deps: BotDeps = context["deps"]
    channel = msg.channel
    name = _channel_name(deps, client, channel)
    if not deps.incidents.is_incident_channel(channel, name):
        return
    incident = deps.incidents.current_for(channel) or deps.incidents.open_or_get(
        channel, name or "", msg.user, datetime.fromtimestamp(float(msg.ts), tz=UTC)
    )
    fields = msg.model_dump(include={"ts", "user", "text", "thread_ts", "subtype"})
    message = {k: str(v) for k, v in fields.items() if v}
    event_id = body.get("event_id")
    stored = deps.incidents.record_message(incident.id, str(event_id or ""), message)
    log.debug("incident message", incident=incident.id, stored=stored)
