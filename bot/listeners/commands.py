"""`/triage`: ack at once, post a placeholder, enqueue the job. Everything slow runs in the worker."""

from __future__ import annotations

import contextlib
import time
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
from bot.listeners.inputs import CommandInput, MalformedRequest, parse
from bot.listeners.queueing import SLACK_SLOW, UNCONFIRMED, enqueue_confirmed
from bot.worker_watch import watch_placeholder
from workers import metrics
from workers.errors import UserInputError
from workers.liveness import unserved, workers_by_queue
from workers.logconfig import unit_of_work
from workers.models import TriageRequest, Window
from workers.queue import enqueue_postmortem
from workers.redaction import Redactor
from workers.slack import blocks, ids
from workers.slack.neutral import mention, neutralize
from workers.slack.retry import is_transient
from workers.timewindow import parse_lines, parse_window

HELP = """*/triage* looks at what happened in this channel around the incident and answers in place.

• `/triage [what you see] [window]`: start a triage. Window: `since 10:40`, `from 10:40 to 11:10` \
or `last 30m` (times in {zone}; default: the last {default} minutes).
• `/triage search <text>`: past incidents like this (only you see the answer).
• `/triage status`: this channel's incident and its triage runs.
• `/triage resolve [summary]`: mark the incident resolved and draft its postmortem (a second \
resolve updates the same draft).
• `/triage help`: this message.

Example: `/triage checkout p99 latency up since 10:40`"""

REDIS_DOWN = (
    ":warning: I can't reach my job queue (Redis) right now, so nothing was queued and nothing was "
    "posted. Try again in a minute; if it persists, give your admins the run id `{run_id}`."
)
NOT_IN_CHANNEL = (
    ":wave: I'm not a member of this channel, so I can't answer here. Invite me with "
    "`/invite @incident-copilot`, then run `/triage` again."
)


SUBCOMMANDS = ("help", "status", "search", "resolve")
log = structlog.get_logger(__name__)


def register(app: App) -> None:
    app.command(ids.TRIAGE_COMMAND)(handle_triage)


def handle_triage(
    ack: Ack, command: dict[str, Any], respond: Respond, client: WebClient, context: BoltContext
) -> None:
    deps: BotDeps = context["deps"]
    run_id: str = context["run_id"]
    try:
        cmd = parse(CommandInput, command, "command")
    except MalformedRequest as exc:
        ack(text=f":warning: {neutralize(str(exc))}", response_type="ephemeral")
        log.warning("malformed command", run_id=run_id, error=str(exc))
        return
    text = cmd.text.strip()
    word = text.split(" ", 1)[0].lower()
    sub = word if word in SUBCOMMANDS else "triage"
    arrived = time.monotonic()

    def ack_timed(*args: Any, **kwargs: Any) -> None:
        ack(*args, **kwargs)
        metrics.observe(deps.redis, "ack_seconds", time.monotonic() - arrived, command=sub)

    scope = {"command": ids.TRIAGE_COMMAND, "run_id": run_id, "channel": cmd.channel_id}
    with unit_of_work("command handled", **scope, user=cmd.user_id, sub=sub) as line:
        try:
            if word == "help":
                settings = deps.settings.incident
                ack_timed(
                    text=HELP.format(zone=settings.timezone, default=settings.default_window_minutes),
                    response_type="ephemeral",
                )
                line["outcome"] = "help"
            elif word == "status":
                ack_timed()
                line["outcome"] = _status(cmd, respond, deps, run_id)
            elif word == "search":
                ack_timed()
                line["outcome"] = _search(text[len(word) :].strip(), respond, deps, run_id)
            elif word == "resolve":
                ack_timed()
                summary = text[len(word) :].strip()
                line["outcome"] = _resolve(cmd, summary, respond, deps, run_id)
            else:
                line["outcome"] = _triage(ack_timed, cmd, respond, client, deps, run_id, text)
        finally:
            metrics.inc(deps.redis, "commands", sub=sub, outcome=str(line.get("outcome", "error")))


def _triage(
    ack: Callable[..., None],
    command: CommandInput,
    respond: Respond,
    client: WebClient,
    deps: BotDeps,
    run_id: str,
    text: str,
) -> str:
    settings = deps.settings.incident
    now = datetime.now(UTC)
    try:
        lines, text = parse_lines(text)
        window, description = parse_window(
            text, now=now, zone=settings.timezone, default_minutes=settings.default_window_minutes
        )
    except UserInputError as exc:
        ack(
            text=f":warning: {neutralize(str(exc))}\nType `/triage help` for the forms I understand.",
            response_type="ephemeral",
        )
        return "bad_input"
    ack()
    channel_id, channel_name, user_id = command.channel_id, command.channel_name, command.user_id
    try:
        incident = deps.incidents.open_or_get(channel_id, channel_name, user_id, now)
    except redis.RedisError:
        respond(text=REDIS_DOWN.format(run_id=run_id), response_type="ephemeral")
        return "redis_down"
    try:
        board_ts = _post_or_reuse(client, deps, incident.id, channel_id, user_id, window, run_id)
    except SlackApiError as exc:
        if exc.response.get("error") in ("not_in_channel", "channel_not_found"):
            respond(text=NOT_IN_CHANNEL, response_type="ephemeral")
            return "not_in_channel"
        if not is_transient(exc.response.status_code):
            raise
        board_ts = ""  # Slack is rate-limiting or failing: the worker posts the placeholder later
    except redis.RedisError:  # reading the incident's board: nothing was posted or queued yet
        respond(text=REDIS_DOWN.format(run_id=run_id), response_type="ephemeral")
        return "redis_down"
    request = TriageRequest(
        run_id=run_id,
        incident_id=incident.id,
        team_id=command.team_id,
        channel_id=channel_id,
        channel_name=channel_name,
        requester_id=user_id,
        text=description,
        window=window,
        lines=lines,
        placeholder_ts=board_ts,
        requested_at=now,
    )
    job = enqueue_confirmed(deps, request)
    if job is None:
        if board_ts:
            fail_text, fail_blocks = blocks.unconfirmed(run_id)
            with contextlib.suppress(SlackApiError):
                client.chat_update(channel=channel_id, ts=board_ts, text=fail_text, blocks=fail_blocks)
        respond(text=UNCONFIRMED.format(run_id=run_id), response_type="ephemeral")
        return "unconfirmed"
    if not board_ts:
        respond(text=SLACK_SLOW.format(run_id=run_id), response_type="ephemeral")
        return "enqueued_slack_slow"
    watch_placeholder(client, deps.redis, job, channel_id, board_ts, run_id)
    return "enqueued"


def _post_or_reuse(
    client: WebClient,
    deps: BotDeps,
    incident_id: str,
    channel_id: str,
    user_id: str,
    window: Window,
    run_id: str,
) -> str:
    """The message the answer goes into: the incident's board when it has one (a re-run updates it
    in place rather than posting a second wall of text), else a new placeholder."""
    zone = deps.settings.incident.timezone
    earlier = deps.incidents.triages(incident_id)
    if earlier:
        board_ts = earlier[0][1]
        text, progress = blocks.placeholder(user_id, window, zone, run_id, run=len(earlier) + 1)
        try:
            client.chat_update(channel=channel_id, ts=board_ts, text=text, blocks=progress)
            return board_ts
        except SlackApiError as exc:
            if exc.response.get("error") not in ("message_not_found", "cant_update_message"):
                raise
    text, placeholder = blocks.placeholder(user_id, window, zone, run_id)
    posted = client.chat_postMessage(channel=channel_id, text=text, blocks=placeholder)
    return str(posted["ts"])


def _search(query: str, respond: Respond, deps: BotDeps, run_id: str) -> str:
    if not query:
        respond(
            text="Tell me what to look for: `/triage search ledger pool exhausted`", response_type="ephemeral"
        )
        return "bad_input"
    if deps.knowledge is None:
        respond(text="The knowledge base is not available here.", response_type="ephemeral")
        return "no_kb"
    query = Redactor().redact(query)  # echoed back, logged and perhaps embedded: never a secret
    try:
        matches = deps.knowledge.search(query)
    except redis.RedisError:
        respond(text=REDIS_DOWN.format(run_id=run_id), response_type="ephemeral")
        return "redis_down"
    text, result_blocks = blocks.search_results(query, matches)
    respond(text=text, blocks=result_blocks, response_type="ephemeral")
    return "searched"


def _resolve(command: CommandInput, summary: str, respond: Respond, deps: BotDeps, run_id: str) -> str:
    try:
        incident = deps.incidents.current_for(command.channel_id)
        if incident is not None:
            enqueue_postmortem(
                deps.redis, incident.id, command.channel_id, "resolve", command.user_id, run_id, summary
            )
    except redis.RedisError:
        respond(text=REDIS_DOWN.format(run_id=run_id), response_type="ephemeral")
        return "redis_down"
    if incident is None:
        respond(
            text="No incident is open in this channel, so there is nothing to resolve. `/triage` opens one.",
            response_type="ephemeral",
        )
        return "no_incident"
    again = " (it was already resolved: the draft will be updated)" if incident.status == "resolved" else ""
    respond(
        text=f"Resolving `{incident.id}`{again}. I'm drafting the postmortem from the channel, the board "
        "and the audit trail; it will appear here.",
        response_type="ephemeral",
    )
    return "resolve"


def _status(command: CommandInput, respond: Respond, deps: BotDeps, run_id: str) -> str:
    try:
        incident = deps.incidents.current_for(command.channel_id)
        runs = deps.incidents.triages(incident.id) if incident else []
        workers = workers_by_queue(deps.redis)
    except redis.RedisError:
        respond(text=REDIS_DOWN.format(run_id=run_id), response_type="ephemeral")
        return "redis_down"
    if incident is None:
        respond(
            text=f"No incident is open in this channel. `/triage` opens one.\n{_workers_line(workers)}",
            response_type="ephemeral",
        )
        return "status"
    lines = [
        f"*Incident* `{incident.id}`: {incident.status}",
        f"Opened {incident.started_at:%Y-%m-%d %H:%M} UTC by {mention(incident.requester)}",
        f"Triage runs: {len(runs)}" + (f" (latest `{runs[-1][0]}`)" if runs else ""),
        _workers_line(workers),
    ]
    respond(text="\n".join(lines), response_type="ephemeral")
    return "status"


def _workers_line(counts: dict[str, int]) -> str:
    served = ", ".join(f"{queue} {n}" for queue, n in counts.items())
    if missing := unserved(counts):
        return f":warning: Workers: {served}. No worker serves {', '.join(missing)}: those jobs wait."
    return f"Workers: {served}"
