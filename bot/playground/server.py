"""The playground's web server: the page, and a small JSON API the page calls. It holds the signing
secret and turns what a person does on the page into requests signed the way Slack signs them (the
browser never sees the secret): typed `/triage …` becomes a slash command, a typed message a message
event, a button click a `block_actions` payload. The channel is read back from the Slack stand-in."""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from bot.localstack import LocalStack
from bot.playground.incidents import Incident
from bot.standin.render_html import conversation
from workers.executors.recording import RecordingExecutor

MAX_BODY = 16_384
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
MAX_TEXT = 3_000  # characters in one typed line
_STATIC = {"/": ("index.html", "text/html"), "/app.js": ("app.js", "text/javascript")}


class BadRequest(Exception):
    """What the page asked for cannot be done; the message says why."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    content_type: str = "application/json; charset=utf-8"


class Playground:
    """The page's API over a running `LocalStack` seeded with `incidents`."""

    def __init__(
        self, stack: LocalStack, incidents: list[Incident], hints: dict[str, str], record_file: Path
    ) -> None:
        self.stack = stack
        self.incidents = {i.channel_id: i for i in incidents}
        self.hints = hints
        self.record_file = record_file
        self.driver = stack.driver()

    def workspace(self) -> dict[str, Any]:
        users = [
            {"id": u.id, "name": u.name, "real_name": u.real_name}
            for u in self.stack.standin.state.users()
            if not u.is_bot
        ]
        channels = [
            {
                "id": i.channel_id,
                "name": i.channel_name,
                "title": i.scenario.get("title", ""),
                "hint": self.hints[i.channel_id],
                "triage_user": i.scenario["triage"]["user"],
            }
            for i in self.incidents.values()
        ]
        return {"users": users, "channels": channels}

    def channel(self, channel: str, viewer: str) -> dict[str, Any]:
        self._incident(channel)
        self._user(viewer)
        html = conversation(self.stack.standin, channel, viewer)
        return {
            "html": html,
            "version": hashlib.sha256(html.encode()).hexdigest()[:16],
            "records": self.records(),
        }

    def records(self) -> list[dict[str, Any]]:
        """What the recording executor would have done, oldest first."""
        return RecordingExecutor(self.record_file).records()

    def send(self, body: dict[str, Any]) -> dict[str, Any]:
        """A line typed in the composer: `/triage …` as a slash command, anything else as a message."""
        incident = self._incident(str(body.get("channel", "")))
        user = self._user(str(body.get("user", "")))
        text = str(body.get("text", "")).strip()
        if not text or len(text) > MAX_TEXT:
            raise BadRequest(f"type between 1 and {MAX_TEXT} characters")
        if text.startswith("/"):
            command, _, rest = text.partition(" ")
            if command != "/triage":
                raise BadRequest(f"{command} is not a command here; the app offers /triage")
            answer = self.driver.slash_command(
                rest.strip(), user_id=user, channel_id=incident.channel_id, channel_name=incident.channel_name
            )
            return {"status": answer.status}
        ts = self.stack.standin.state.add_message(incident.channel_id, user, text)
        answer = self.driver.message_event(incident.channel_id, user, text, ts)
        return {"status": answer.status}

    def click(self, body: dict[str, Any]) -> dict[str, Any]:
        """A button click on a channel message, sent as Slack's `block_actions` payload with the
        message the button is on (taken from the stand-in, not from the page)."""
        incident = self._incident(str(body.get("channel", "")))
        user = self._user(str(body.get("user", "")))
        message_ts = str(body.get("message_ts", ""))
        message = self.stack.standin.state.message(incident.channel_id, message_ts)
        if message is None:
            raise BadRequest(f"no message {message_ts} in #{incident.channel_name}")
        action_id, value = str(body.get("action_id", "")), str(body.get("value", ""))
        if not _has_button(message, action_id, value):
            raise BadRequest("that message has no such button (it may have been updated): reload")
        answer = self.driver.block_action(
            action_id,
            value,
            user_id=user,
            channel_id=incident.channel_id,
            message_ts=message_ts,
            block_id=str(body.get("block_id", "")) or "b",
            message=message,
        )
        return {"status": answer.status}

    def file(self, file_id: str) -> dict[str, Any]:
        state = self.stack.standin.state
        meta = state.file(file_id)
        content = state.file_content(file_id)
        if meta is None or content is None:
            raise BadRequest(f"no uploaded file {file_id}")
        title = meta.get("title") or meta.get("name", "")
        return {
            "id": file_id,
            "title": title,
            "name": meta.get("name", ""),
            "text": content.decode(errors="replace"),
        }

    def _incident(self, channel: str) -> Incident:
        incident = self.incidents.get(channel)
        if incident is None:
            raise BadRequest(f"unknown channel {channel!r}; pick one from the sidebar")
        return incident

    def _user(self, user: str) -> str:
        found = self.stack.standin.state.user(user)
        if found is None or found.is_bot:
            raise BadRequest(f"unknown user {user!r}; pick one in 'Posting as'")
        return found.id


def _has_button(message: dict[str, Any], action_id: str, value: str) -> bool:
    for b in message.get("blocks") or []:
        elements = [*b.get("elements", []), *([b["accessory"]] if "accessory" in b else [])]
        if any(e.get("action_id") == action_id and e.get("value", "") == value for e in elements):
            return True
    return False


class PlaygroundServer:
    """Binds `host:port` at once (a taken port fails before anything else starts), then serves the
    page and the API for a `Playground` in a daemon thread."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._playground: Playground | None = None
        self._server = _Server((host, port), self)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.1,), daemon=True)

    @property
    def playground(self) -> Playground:
        assert self._playground is not None, "serve a playground first"
        return self._playground

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/"

    def serve(self, playground: Playground) -> None:
        self._playground = playground
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()

    def answer(self, method: str, path: str, raw: bytes) -> Answer:
        url = urlsplit(path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        pg = self.playground
        try:
            if method == "GET" and url.path in _STATIC:
                name, kind = _STATIC[url.path]
                data = resources.files("bot.playground").joinpath(f"static/{name}").read_bytes()
                return Answer(200, data, f"{kind}; charset=utf-8")
            if method == "GET" and url.path == "/api/workspace":
                return _json(200, pg.workspace())
            if method == "GET" and url.path == "/api/channel":
                return _json(200, pg.channel(query.get("channel", ""), query.get("user", "")))
            if method == "GET" and url.path.startswith("/api/files/"):
                return _json(200, pg.file(url.path.rsplit("/", 1)[1]))
            if method == "POST" and url.path in ("/api/send", "/api/click"):
                body = _body(raw)
                return _json(200, pg.send(body) if url.path == "/api/send" else pg.click(body))
        except BadRequest as exc:
            return _json(400, {"error": str(exc)})
        return _json(404, {"error": f"no {method} {url.path}"})


def _body(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise BadRequest("the request body is not JSON") from None
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    return body


def _json(status: int, body: dict[str, Any]) -> Answer:
    return Answer(status, json.dumps(body).encode())


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], owner: PlaygroundServer) -> None:
        super().__init__(address, _Handler)
        self.owner = owner


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = 30

    def do_GET(self) -> None:
        self._serve(b"")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._send(_json(413, {"error": f"requests are limited to {MAX_BODY} bytes"}))
            return
        # A page on another origin must not drive the bot: only JSON, which a plain form cannot send
        # and a script elsewhere may not send without a CORS preflight this server never allows.
        if self.headers.get_content_type() != "application/json":
            self._send(_json(415, {"error": "send application/json"}))
            return
        self._serve(self.rfile.read(length))

    def _serve(self, raw: bytes) -> None:
        # A page elsewhere whose name resolves to this machine (DNS rebinding) sends its own Host.
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0].strip("[]")
        if host not in LOCAL_HOSTS | {self.server.server_address[0]}:
            self._send(_json(421, {"error": f"open the playground as {self.server.owner.url}"}))
            return
        self._send(self.server.owner.answer(self.command, self.path, raw))

    def _send(self, answer: Answer) -> None:
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(answer.body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'")
        self.end_headers()
        self.wfile.write(answer.body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the page polls several times a second."""
