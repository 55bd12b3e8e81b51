"""Hostile requests for `POST /slack/events`: Hypothesis strategies and a raw sender.

A case is a body, a content type and how it is signed: correctly (the stack's secret), not at all,
forged (another secret, or the body changed after signing), or with a malformed or stale timestamp.
Bodies range from Slack-shaped payloads with hostile fields to bytes that are not JSON or UTF-8 at
all, JSON arrays and 100k-deep nesting. Response URLs are the stand-in's or not URLs at all: a
signed request naming a live URL that does not answer is not a malformed request.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from hypothesis import strategies as st

from bot.standin.driver import sign
from workers.slack import ids

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
KNOWN_ACTIONS = [
    ids.KB_SAME_CAUSE,
    ids.HYP_SUPPORT,
    ids.INCIDENT_RESOLVE,
    ids.POSTMORTEM_APPROVE,
    ids.PROPOSAL_APPROVE,
    ids.PROPOSAL_DENY,
    ids.PROPOSAL_UNDO,
]
HOSTILE_TEXT = [
    "last 99999999999999d",
    "last 99999999999999999999999999999999m",
    "since 99:99",
    "from 10:00 to 99:00",
    "last 0m",
    "tail 99999999999999 lines",
    "<!channel> <!here> <@U0ALICE> <http://evil|click>",
    "search " + "x" * 3000,
    "resolve \x00\ud7ff",
    "status",
    "help",
]


@dataclass(frozen=True)
class Case:
    body: bytes
    content_type: str
    signing: str  # signed | unsigned | forged | tampered | bad_timestamp | stale
    timestamp: str = ""


def headers_for(case: Case, secret: str) -> dict[str, str]:
    now = str(int(time.time()))
    headers = {"Content-Type": case.content_type} if case.content_type else {}
    if case.signing == "unsigned":
        return headers
    if case.signing == "bad_timestamp":
        return headers | {
            "X-Slack-Request-Timestamp": case.timestamp,
            "X-Slack-Signature": sign(secret, case.timestamp, case.body),
        }
    stamp = str(int(now) - 3600) if case.signing == "stale" else now
    key = "not-the-secret" if case.signing == "forged" else secret
    signed = case.body + b"x" if case.signing == "tampered" else case.body
    return headers | {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": sign(key, stamp, signed)}


def send(url: str, case: Case, secret: str, timeout: float = 30.0) -> tuple[int, float, bytes]:
    """POST the case as it is (no client-side encoding); the status, the seconds it took, the body."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
    started = time.perf_counter()
    try:
        conn.request("POST", parts.path, body=case.body, headers=headers_for(case, secret))
        resp = conn.getresponse()
        body = resp.read()
        return resp.status, time.perf_counter() - started, body
    finally:
        conn.close()


def send_streaming(url: str, case: Case, secret: str, timeout: float = 30.0) -> tuple[int, float]:
    """POST a large body the way a client streams it: the body is written from another thread while
    this one waits for the status line, so a server that answers early (before the body has been
    read) is timed from the first byte sent to its answer."""
    parts = urlsplit(url)
    head = [f"POST {parts.path} HTTP/1.1", f"Host: {parts.netloc}", f"Content-Length: {len(case.body)}"]
    head += [f"{k}: {v}" for k, v in headers_for(case, secret).items()]
    raw = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
    with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=timeout) as sock:

        def write() -> None:
            with contextlib.suppress(OSError):  # the server may answer and close before it is all sent
                sock.sendall(raw + case.body)

        writer = threading.Thread(target=write, daemon=True)
        started = time.perf_counter()
        writer.start()
        answer = b""
        while b"\r\n" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
        elapsed = time.perf_counter() - started
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    writer.join(timeout)
    status = answer.split(b" ", 2)[1] if answer.count(b" ") >= 2 else b"0"
    return int(status), elapsed


# -- strategies -------------------------------------------------------------------------------------

_scalar = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=30))
_json = st.recursive(
    _scalar,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
_ids = st.one_of(st.sampled_from(["C0FUZZ01", "U0ALICE", "", "../..", "U" * 300]), st.text(max_size=12))


def _maybe(value: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(value, _json)


@st.composite
def command_body(draw: st.DrawFn, response_url: str) -> bytes:
    fields = {
        "command": draw(st.sampled_from(["/triage", "/other", ""])),
        "text": draw(st.one_of(st.sampled_from(HOSTILE_TEXT), st.text(max_size=200))),
        "channel_id": draw(_ids),
        "user_id": draw(_ids),
        "channel_name": draw(st.text(max_size=20)),
        "team_id": "T0INCIDENT",
        "api_app_id": "A0COPILOT",
        "response_url": draw(st.sampled_from([response_url, "not a url", ""])),
    }
    drop = draw(st.sets(st.sampled_from(sorted(fields))))
    return urlencode({k: v for k, v in fields.items() if k not in drop}).encode()


@st.composite
def event_body(draw: st.DrawFn) -> bytes:
    event = {
        "type": draw(st.sampled_from(["message", "channel_archive", "app_mention"])),
        "channel": draw(_maybe(_ids)),
        "user": draw(_maybe(_ids)),
        "text": draw(_maybe(st.text(max_size=60))),
        "ts": draw(
            _maybe(st.sampled_from(["1700000000.000100", "abc", "1e400", "-1", "99999999999999999999"]))
        ),
        "subtype": draw(st.one_of(st.none(), st.sampled_from(["bot_message", "thread_broadcast"]), _json)),
    }
    envelope: Any = {
        "type": draw(st.sampled_from(["event_callback", "url_verification", "app_rate_limited"])),
        "team_id": "T0INCIDENT",
        "api_app_id": "A0COPILOT",
        "event_id": draw(_maybe(st.just("Ev0FUZZ"))),
        "event": draw(st.one_of(st.just(event), _json)),
        "challenge": draw(_maybe(st.text(max_size=10))),
        "authorizations": draw(st.one_of(st.just([{"team_id": "T0INCIDENT", "user_id": "U0BOT"}]), _json)),
    }
    if draw(st.booleans()):
        envelope = draw(_json)
    return json.dumps(envelope).encode()


@st.composite
def action_body(draw: st.DrawFn, response_url: str) -> bytes:
    action = {
        "action_id": draw(_maybe(st.sampled_from(KNOWN_ACTIONS))),
        "value": draw(_maybe(st.text(max_size=40))),
        "block_id": "b",
        "type": "button",
    }
    payload: Any = {
        "type": draw(st.sampled_from(["block_actions", "view_submission", "shortcut", ""])),
        "user": draw(st.one_of(st.just({"id": "U0ALICE", "team_id": "T0INCIDENT"}), _json)),
        "channel": draw(st.one_of(st.just({"id": "C0FUZZ01"}), _json)),
        "team": draw(st.one_of(st.just({"id": "T0INCIDENT"}), _json)),
        "api_app_id": "A0COPILOT",
        "container": draw(st.one_of(st.just({"channel_id": "C0FUZZ01", "message_ts": "1.2"}), _json)),
        "response_url": draw(st.sampled_from([response_url, "ftp://nowhere", "not a url"])),
        "actions": draw(st.one_of(st.just([action]), _json)),
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


GARBAGE = [
    b"\xff\xfe\xfd not utf-8",
    b"[1, 2, 3]",
    b"[" * 100_000 + b"]" * 100_000,
    b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    b"payload=" + b"%5B" * 50_000,
    b"payload=%7B%22type%22%3A",
    b"",
    b"null",
    b'"just a string"',
    b"a=1&" * 5_000,
]
_garbage = st.one_of(st.sampled_from(GARBAGE), st.binary(max_size=300))
_content_type = st.sampled_from(
    [FORM, JSON, "text/plain", "multipart/form-data; boundary=x", "", "application/json; charset=latin-1"]
)
_signing = st.sampled_from(
    ["signed", "signed", "signed", "unsigned", "forged", "tampered", "bad_timestamp", "stale"]
)
_bad_stamps = st.sampled_from(["", "abc", "-5", "1e9", "99999999999999999999999", " 1700000000", "\\xbd1700"])


@st.composite
def cases(draw: st.DrawFn, response_url: str) -> Case:
    kind = draw(st.sampled_from(["command", "event", "action", "garbage"]))
    if kind == "command":
        body, ctype = draw(command_body(response_url)), FORM
    elif kind == "event":
        body, ctype = draw(event_body()), JSON
    elif kind == "action":
        body, ctype = draw(action_body(response_url)), FORM
    else:
        body, ctype = draw(_garbage), draw(_content_type)
    if draw(st.integers(0, 9)) == 0:
        ctype = draw(_content_type)
    signing = draw(_signing)
    stamp = draw(_bad_stamps) if signing == "bad_timestamp" else ""
    return Case(body=body, content_type=ctype, signing=signing, timestamp=stamp)


def problems_in_log(text: str) -> list[str]:
    """Log lines that show an unhandled exception: a traceback, or an error-level line."""
    bad = []
    for line in text.splitlines():
        if (
            "Traceback" in line
            or '"exception"' in line
            or '"level": "error"' in line
            or '"level": "critical"' in line
        ):
            bad.append(line[:400])
    return bad
