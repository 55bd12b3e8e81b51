"""The gate in front of Bolt on `POST /slack/events`: nothing reaches a parser before it passes.

In order, each step cheap and each refusal a 4xx with a short JSON reason, never a traceback:

1. size: a body over the limit (`BOT_MAX_BODY_BYTES`, 1 MB by default; Slack's own payloads are
   a few KB) is refused from its Content-Length, unread (413); the body is read with a cap;
2. Slack's signature and timestamp (`X-Slack-Request-Timestamp` within five minutes, `v0=` HMAC of
   the raw bytes), before anything parses it (401);
3. shape: UTF-8, a form or JSON content type, a JSON object nested at most `MAX_DEPTH` deep, and the
   envelope fields Bolt reads of the type Slack sends (400).

Bolt then verifies the signature again and dispatches. Anything Bolt still cannot read is a signed
request of a shape it does not handle: 400 with one log line naming where it failed.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import logging
import sys
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import parse_qs

import structlog
from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

log = structlog.get_logger(__name__)
MAX_SKEW_S = 300
MAX_DEPTH = 64
MAX_FORM_FIELDS = 200
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
Obj = dict[str, Any]


class Rejected(Exception):
    def __init__(self, status: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class Envelope(BaseModel):
    """The fields of a payload that Bolt reads before any listener runs, typed as Slack sends them."""

    model_config = ConfigDict(extra="allow", strict=True)

    type: str | None = None
    token: str | None = None
    team_id: str | None = None
    user_id: str | None = None
    channel_id: str | None = None
    enterprise_id: str | None = None
    challenge: str | None = None
    event_id: str | None = None
    response_url: Annotated[str, StringConstraints(pattern=r"^https?://\S+$")] | None = None
    team: str | Obj | None = None
    user: str | Obj | None = None
    channel: str | Obj | None = None
    enterprise: str | Obj | None = None
    event: Obj | None = None
    view: Obj | None = None
    message: Obj | None = None
    container: Obj | None = None
    authorizations: list[Obj] | None = None
    actions: list[Obj] | None = None
    response_urls: list[Obj] | None = None


class EventEnvelope(BaseModel):
    """Inside an Events API callback: what Bolt reads of the event itself."""

    model_config = ConfigDict(extra="allow", strict=True)

    type: str
    user: str | Obj | None = None
    channel: str | Obj | None = None
    team: str | None = None
    thread_ts: str | None = None
    item: Obj | None = None
    message: Obj | None = None
    previous_message: Obj | None = None


def depth_within(value: Any, limit: int) -> bool:
    """True when `value` nests at most `limit` containers deep (iterative: no recursion to exhaust)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth > limit:
            return False
        stack.extend((child, depth + 1) for child in children)
    return True


def _json_object(text: str, what: str) -> Obj:
    try:
        value = json.loads(text)
    except RecursionError:
        raise Rejected("400 Bad Request", f"{what} is nested too deeply") from None
    except ValueError:
        raise Rejected("400 Bad Request", f"{what} is not valid JSON") from None
    if not isinstance(value, dict):
        raise Rejected("400 Bad Request", f"{what} is not a JSON object")
    if not depth_within(value, MAX_DEPTH):
        raise Rejected("400 Bad Request", f"{what} is nested more than {MAX_DEPTH} deep")
    return value


def check_signature(secret: str, headers: dict[str, str], body: bytes, now: float) -> None:
    stamp = headers.get("HTTP_X_SLACK_REQUEST_TIMESTAMP", "")
    signature = headers.get("HTTP_X_SLACK_SIGNATURE", "")
    if not stamp or not signature:
        raise Rejected("401 Unauthorized", "missing Slack signature headers")
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12):
        raise Rejected("401 Unauthorized", "malformed X-Slack-Request-Timestamp")
    if abs(now - int(stamp)) > MAX_SKEW_S:
        raise Rejected("401 Unauthorized", "stale or future X-Slack-Request-Timestamp")
    base = b"v0:" + stamp.encode() + b":" + body
    expected = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
        raise Rejected("401 Unauthorized", "invalid Slack signature")


NEVER_NULL = ("event", "view")


def check_shape(content_type: str, body: bytes) -> None:
    """A form (slash commands; interactivity with a JSON `payload`) or a JSON object (events)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Rejected("400 Bad Request", "body is not UTF-8") from None
    kind = content_type.split(";", 1)[0].strip().lower()
    if not text:
        return
    if kind == JSON or text.startswith("{"):  # as Bolt decides: a body opening with "{" is JSON
        payload = _json_object(text, "body")
    elif kind == FORM:
        try:
            form = parse_qs(text, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS, errors="strict")
        except ValueError:
            raise Rejected("400 Bad Request", "form body does not parse") from None
        if "payload" not in form:
            return
        payload = _json_object(form["payload"][0], "payload")
    else:
        raise Rejected("400 Bad Request", f"unsupported content type {kind[:60]!r}")
    for key in NEVER_NULL:
        if key in payload and payload[key] is None:  # Bolt reads them with .get(key, {}).get(...)
            raise Rejected("400 Bad Request", f"field {key!r} is null")
    try:
        envelope = Envelope.model_validate(payload)
        if envelope.type == "event_callback":
            if envelope.event is None:
                raise Rejected("400 Bad Request", "event_callback without an event")
            EventEnvelope.model_validate(envelope.event)
    except ValidationError as exc:
        where = ".".join(str(p) for p in exc.errors()[0]["loc"])
        raise Rejected("400 Bad Request", f"field {where[:60]!r} has the wrong type") from None


def read_body(environ: WSGIEnvironment, limit: int) -> bytes:
    raw = environ.get("CONTENT_LENGTH") or ""
    if raw and not raw.isdigit():
        raise Rejected("400 Bad Request", "malformed Content-Length")
    length = int(raw) if raw else None
    if length is not None and length > limit:
        raise Rejected("413 Content Too Large", f"body over {limit} bytes")
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    body = stream.read(limit + 1 if length is None else length)
    if len(body) > limit:
        raise Rejected("413 Content Too Large", f"body over {limit} bytes")
    return bytes(body)


def guard(
    inner: WSGIApplication,
    signing_secret: str | None,
    max_body: int,
    clock: Callable[[], float] = time.time,
) -> Callable[[WSGIEnvironment, StartResponse], Iterable[bytes]]:
    """`inner` (Bolt's WSGI handler) behind the checks above; `signing_secret=None` skips step 2
    (only where Bolt's own verification is off too)."""

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        body = b""
        try:
            body = read_body(environ, max_body)
            if signing_secret is not None:
                check_signature(signing_secret, environ, body, clock())
            check_shape(environ.get("CONTENT_TYPE", ""), body)
        except Rejected as exc:
            log.info("slack request rejected", status=exc.status[:3], reason=exc.reason, bytes=len(body))
            return refuse(start_response, exc)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        try:
            return list(inner(environ, start_response))
        except Exception as exc:  # a signed payload Bolt cannot read is the sender's fault
            frame = exc.__traceback__
            while frame is not None and frame.tb_next is not None:
                frame = frame.tb_next
            at = f"{frame.tb_frame.f_code.co_filename.rsplit('/', 1)[-1]}:{frame.tb_lineno}" if frame else "?"
            log.warning("signed slack request of an unreadable shape", error=type(exc).__name__, at=at)
            rejected = Rejected("400 Bad Request", "request of an unexpected shape")
            return refuse(start_response, rejected, sys.exc_info())

    return app


def refuse(start_response: StartResponse, exc: Rejected, exc_info: Any = None) -> Iterable[bytes]:
    body = json.dumps({"error": exc.reason}).encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    start_response(exc.status, headers, exc_info)
    return [body]


def _without_body(record: logging.LogRecord) -> bool:
    """Bolt's lines that carry a request body: kept as one line without it (bodies are the sender's)."""
    message = record.getMessage()
    for head in ("Invalid request signature detected", "Unhandled request"):
        if message.startswith(head):
            record.msg, record.args = f"{head} (body not logged)", None
    return True


def quiet_bolt_bodies() -> None:
    """Bolt logs a rejected or unhandled request with its body; ours never do."""
    for name in ("slack_bolt.RequestVerification", "slack_bolt.App"):
        logger = logging.getLogger(name)
        if _without_body not in logger.filters:
            logger.addFilter(_without_body)
