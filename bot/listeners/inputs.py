"""What each listener reads from a Slack payload, validated into a typed model before it is used.

The signature says Slack sent it, not that it has the shape we expect: a signed payload that does
not validate raises `MalformedRequest`, which the user sees as an ephemeral message naming the
field (a slash command gets it in its ack) and the log as one warning line. Listeners answer it
themselves rather than raise it after their ack: Bolt forgets an ack when the listener then raises,
and would hold the request for its 3-second ack timeout.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

import structlog
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from slack_bolt.context.respond import Respond

from bot.listeners.replies import ephemeral_if_possible
from workers.errors import UserInputError
from workers.slack.neutral import neutralize

SlackId = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9][A-Za-z0-9_.-]{1,40}$")]
Ts = Annotated[str, StringConstraints(pattern=r"^\d{1,12}(\.\d{1,8})?$")]
Url = Annotated[str, StringConstraints(pattern=r"^https?://\S{1,2000}$")]
TEXT_MAX = 40_000
M = TypeVar("M", bound=BaseModel)
log = structlog.get_logger(__name__)


class MalformedRequest(UserInputError):
    """A signed request whose fields are not what Slack sends."""


class _Input(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True, frozen=True)


class CommandInput(_Input):
    """A slash command's form fields."""

    channel_id: SlackId
    user_id: SlackId
    text: str = Field("", max_length=TEXT_MAX)
    channel_name: str = Field("", max_length=200)
    team_id: str = Field("", max_length=40)
    response_url: Url | None = None


class MessageInput(_Input):
    """A `message` event in a channel."""

    channel: SlackId
    ts: Ts
    user: str = Field("", max_length=40)
    text: str = Field("", max_length=TEXT_MAX)
    thread_ts: Ts | None = None
    subtype: str | None = Field(None, max_length=100)
    bot_id: str | None = Field(None, max_length=40)


class ArchiveInput(_Input):
    """A `channel_archive` event."""

    channel: SlackId
    user: str = Field("", max_length=40)


class ClickInput(_Input):
    """A button click: who, where, which button, and the value it carries."""

    action_id: str = Field(max_length=255)
    value: str = Field("", max_length=2000)
    user: SlackId
    channel: str = Field("", max_length=40)


def parse(model: type[M], data: Any, what: str) -> M:
    """`data` as `model`, or `MalformedRequest` naming the first field that is wrong."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "the payload"
        raise MalformedRequest(
            f"I could not read this {what}: `{field[:60]}` is missing or malformed. "
            "If it came from Slack, tell your admins; nothing was done."
        ) from None


def click_or_answer(action: Any, body: Any, respond: Respond, run_id: str) -> ClickInput | None:
    """The click, or None once the clicker has been told (ephemerally) what was malformed."""
    try:
        return click(action, body)
    except MalformedRequest as exc:
        log.warning("malformed request", run_id=run_id, error=str(exc))
        ephemeral_if_possible(respond, body, f":warning: {neutralize(str(exc))}", run_id)
        return None


def click(action: Any, body: Any) -> ClickInput:
    """A block action's click from Bolt's `action` and `body`."""
    body = body if isinstance(body, dict) else {}
    action = action if isinstance(action, dict) else {}
    user, channel = body.get("user"), body.get("channel")
    data = {
        "action_id": action.get("action_id"),
        "value": action.get("value", ""),
        "user": user.get("id") if isinstance(user, dict) else None,
        "channel": (channel.get("id") if isinstance(channel, dict) else None) or "",
    }
    return parse(ClickInput, data, "button click")
