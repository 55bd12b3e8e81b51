"""Everything the postmortem is drafted from: the channel's history and all its threads (paginated,
rate-limit aware), the pin reactions, the hypothesis board and its timeline, the audit trail, and
what triage recorded (symptom, service, log signature, log milestones).

Alert bots are read whatever Slack shape they post in (see `alerts`); joins, leaves, topic changes
and other system notices are left out.

A part that cannot be read becomes a gap, named in the draft; the draft is still produced.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import redis
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse

from workers import audit
from workers.incidents import IncidentStore
from workers.models import Incident
from workers.postmortem import milestones
from workers.postmortem.alerts import SPOKEN_SUBTYPES, Alert, flatten, parse
from workers.redisconn import as_text
from workers.triage.board import Board, Event
from workers.triage.report import Hypothesis

PAGE = 200
RATE_LIMIT_TRIES = 8  # on top of the client's own retries
MAX_WAIT_S = 30.0


@dataclass(frozen=True)
class SlackMessage:
    ts: str
    user: str
    author: str
    text: str
    thread_ts: str | None
    key: bool  # marked with the pin reaction, or pinned to the channel
    bot: bool  # written by another app (an alerting integration, say)
    link: str
    alert: Alert | None = None  # what an alert bot's message announces

    @property
    def at(self) -> datetime:
        return datetime.fromtimestamp(float(self.ts), tz=UTC)


@dataclass
class Gathered:
    incident: Incident
    channel_name: str
    messages: list[SlackMessage] = field(default_factory=list)  # oldest first, replies included, once each
    hypotheses: list[Hypothesis] = field(default_factory=list)  # on the board at resolution
    dropped: list[Hypothesis] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)  # the board's timeline
    audit: list[dict[str, str]] = field(default_factory=list)
    symptom: str = ""
    service: str = ""
    signature: list[str] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)  # Slack user id → display name
    milestones: list[milestones.Milestone] = field(default_factory=list)  # from the logs, oldest first
    answers: dict[str, str] = field(default_factory=dict)  # triage run id → its answer's permalink
    workspace: str = ""  # the workspace URL, for permalinks
    gaps: list[str] = field(default_factory=list)
    slack_calls: int = 0


class SlackReader:
    """The Web API reads the postmortem needs, each waiting out `ratelimited` answers (Retry-After
    honoured, bounded) on top of the client's own retries."""

    def __init__(
        self, client: WebClient, sleep: Callable[[float], None] = time.sleep, page: int = PAGE
    ) -> None:
        self.client = client
        self.sleep = sleep
        self.page = page
        self.calls = 0

    def _retry(self, call: Callable[[], SlackResponse]) -> dict[str, Any]:
        for attempt in range(RATE_LIMIT_TRIES):
            self.calls += 1
            try:
                return dict(call().data)  # type: ignore[arg-type]
            except SlackApiError as exc:
                if exc.response.get("error") != "ratelimited" or attempt == RATE_LIMIT_TRIES - 1:
                    raise
                wait = float(exc.response.headers.get("Retry-After", 1) or 1)
                self.sleep(min(MAX_WAIT_S, max(0.0, wait)))
        raise AssertionError("unreachable")

    def identity(self) -> tuple[str, str]:
        """(the bot's user id, the workspace URL) from auth.test."""
        me = self._retry(lambda: self.client.auth_test())
        return str(me.get("user_id", "")), str(me.get("url", ""))

    def user_name(self, user: str) -> str:
        try:
            profile = self._retry(lambda: self.client.users_info(user=user))["user"]
        except (SlackApiError, KeyError):
            return user
        return str(profile.get("real_name") or profile.get("name") or user)

    def history(self, channel: str, oldest: str) -> list[dict[str, Any]]:
        return self._pages(
            lambda c: self.client.conversations_history(
                channel=channel, oldest=oldest, limit=self.page, cursor=c
            )
        )

    def replies(self, channel: str, ts: str) -> list[dict[str, Any]]:
        return self._pages(
            lambda c: self.client.conversations_replies(channel=channel, ts=ts, limit=self.page, cursor=c)
        )

    def _pages(self, page_at: Callable[[str | None], SlackResponse]) -> list[dict[str, Any]]:
        """Every message of a cursor-paginated listing."""
        out: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            page = self._retry(partial(page_at, cursor))
            out.extend(page.get("messages", []))
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not page.get("has_more") or not cursor:
                return out


def gather(
    slack: SlackReader,
    incident: Incident,
    store: IncidentStore,
    board: Board,
    client: redis.Redis,
    *,
    pin_reaction: str,
    lookback_minutes: int,
) -> Gathered:
    got = Gathered(incident=incident, channel_name=incident.channel_name)
    runs: list[tuple[str, str]] = []
    try:
        got.hypotheses = board.hypotheses(incident.id)
        got.dropped = board.hypotheses(incident.id, dropped=True)
        got.events = board.events(incident.id)
        entries = client.xrange(audit.incident_key(incident.id)) or []
        got.audit = [{as_text(k): as_text(v) for k, v in (f or {}).items()} for _id, f in entries]
        got.symptom, got.service, got.signature = store.findings(incident.id)
        got.milestones = milestones.load(client, incident.id)
        runs = store.triages(incident.id)
    except redis.RedisError as exc:
        got.gaps.append(f"board and audit trail: {type(exc).__name__}: {exc}")
    oldest = incident.started_at - timedelta(minutes=lookback_minutes)
    try:
        bot_user_id, got.workspace = slack.identity()
        raw = _history(slack, incident.channel_id, oldest)
    except SlackApiError as exc:
        got.gaps.append(f"channel history: Slack answered {exc.response.get('error', 'error')}")
        bot_user_id, raw = "", []
    got.answers = {run: permalink(got.workspace, incident.channel_id, ts) for run, ts in runs}
    users = sorted({m["user"] for m in raw if m.get("user")})
    got.names = {u: slack.user_name(u) for u in users}
    for m in raw:
        if m.get("user") == bot_user_id or m.get("subtype", "") not in SPOKEN_SUBTYPES:
            continue  # our own answers come from the board; system notices say nothing
        bot = bool(m.get("bot_id")) or m.get("subtype") == "bot_message"
        text = flatten(m) if bot or not m.get("text") else str(m["text"])
        if not text:
            continue
        user = m.get("user", "")
        poster = str(m.get("username") or (m.get("bot_profile") or {}).get("name") or "")
        got.messages.append(
            SlackMessage(
                ts=m["ts"],
                user=user,
                author=got.names.get(user, poster or user or "app"),
                text=text,
                thread_ts=m.get("thread_ts") if m.get("thread_ts") != m["ts"] else None,
                key=_is_key(m, pin_reaction, incident.channel_id),
                bot=bot,
                link=permalink(got.workspace, incident.channel_id, m["ts"], m.get("thread_ts")),
                alert=parse(text, poster) if bot else None,
            )
        )
    got.slack_calls = slack.calls
    return got


def _history(slack: SlackReader, channel: str, oldest: datetime) -> list[dict[str, Any]]:
    """Top-level messages since `oldest` and every reply of their threads, each once, oldest first."""
    top = slack.history(channel, f"{oldest.timestamp():.6f}")
    seen: dict[str, dict[str, Any]] = {m["ts"]: m for m in top}
    for m in top:
        if int(m.get("reply_count", 0)) > 0:
            for reply in slack.replies(channel, m["ts"]):
                seen.setdefault(reply["ts"], reply)
    return sorted(seen.values(), key=lambda m: float(m["ts"]))


def _is_key(message: dict[str, Any], reaction: str, channel: str) -> bool:
    if channel in (message.get("pinned_to") or []):
        return True
    return any(r.get("name") == reaction for r in message.get("reactions") or [])


def permalink(workspace: str, channel: str, ts: str, thread_ts: str | None = None) -> str:
    """A message's permalink, in the shape Slack gives them (no call per message)."""
    if not workspace.startswith(("https://", "http://")):
        return ""
    link = f"{workspace.rstrip('/')}/archives/{channel}" + (f"/p{ts.replace('.', '')}" if ts else "")
    return f"{link}?thread_ts={thread_ts}&cid={channel}" if thread_ts and thread_ts != ts else link
