"""``SlackStandIn``: a local HTTP server answering the bot's Web API calls the way Slack does."""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from bot.standin.api import ApiError, Args, WebApi, decode_json_args
from bot.standin.blockkit import validate_blocks
from bot.standin.socket_mode import SocketModeServer
from bot.standin.state import Message, Workspace


@dataclass(frozen=True)
class Call:
    """One Web API call as the stand-in received and answered it (``args`` without the token)."""

    method: str
    args: Args
    status: int
    response: dict[str, Any]


@dataclass(frozen=True)
class _Answer:
    status: int
    body: bytes
    content_type: str = "application/json; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def json(cls, status: int, body: dict[str, Any], headers: tuple[tuple[str, str], ...] = ()) -> _Answer:
        return cls(status, json.dumps(body).encode(), headers=headers)

    @classmethod
    def text(cls, status: int, body: str) -> _Answer:
        return cls(status, body.encode(), "text/plain; charset=utf-8")


_RATELIMITED = {"ok": False, "error": "ratelimited"}


class SlackStandIn:
    """Serves ``POST|GET /api/<method>``, file upload URLs and response URLs on a loopback port.

    Use as a context manager, or call ``start()`` and ``stop()``. Seed and inspect the workspace
    through ``state``; every API call is recorded in ``calls``.
    """

    def __init__(
        self, *, bot_token: str, app_token: str | None = None, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.bot_token = bot_token
        self.app_token = app_token
        self.state = Workspace()
        self._address = (host, port)
        self._api = WebApi(self.state, base_url="")
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._calls: list[Call] = []
        self._faults: defaultdict[str, deque[_Answer]] = defaultdict(deque)
        self._delays: dict[str, float] = {}
        self._degraded: tuple[float, _Answer] | None = None  # (until, answer) for every API call
        self.socket_mode = SocketModeServer(host) if app_token else None
        if self.socket_mode is not None:
            self._api.methods["apps.connections.open"] = self._connections_open

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Bind the port and serve in a background daemon thread."""
        if self._server is not None:
            raise RuntimeError("the stand-in is already running")
        self._server = _Server(self._address, self)
        self._api.base_url = self.url
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="slack-standin", daemon=True
        )
        self._thread.start()
        if self.socket_mode is not None:
            self.socket_mode.start()

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        if self.socket_mode is not None:
            self.socket_mode.stop()
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = self._thread = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- addresses -----------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL of the running server, e.g. ``http://127.0.0.1:50123/``."""
        if self._server is None:
            raise RuntimeError("start the stand-in first")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/"

    @property
    def api_url(self) -> str:
        """The ``base_url`` for ``slack_sdk.WebClient``; the trailing slash matters."""
        return f"{self.url}api/"

    def response_url(self, key: str) -> str:
        """A response URL on this server; posts to it are recorded under ``key``."""
        return f"{self.url}response/{quote(key, safe=':')}"

    # -- inspection ----------------------------------------------------------------------------------

    @property
    def calls(self) -> list[Call]:
        """Every API call received so far, oldest first."""
        with self._lock:
            return list(self._calls)

    def calls_to(self, method: str) -> list[Call]:
        """The calls received for one method, oldest first."""
        return [call for call in self.calls if call.method == method]

    def messages(self, channel: str) -> list[Message]:
        """A channel's messages, thread replies included, oldest first."""
        return self.state.messages(channel)

    def wait_for(self, predicate: Callable[..., bool], timeout: float = 5.0) -> bool:
        """Poll ``predicate`` (taking nothing or the workspace) under the state lock until true or timeout."""
        return self.state.wait_for(predicate, timeout)

    # -- fault injection -----------------------------------------------------------------------------

    def rate_limit(self, method: str, count: int = 1, retry_after: int = 1) -> None:
        """Answer the next ``count`` calls to ``method`` with HTTP 429 and a ``Retry-After`` header."""
        answer = _Answer.json(429, _RATELIMITED, (("Retry-After", str(retry_after)),))
        self._inject(method, [answer] * count)

    def fail(self, method: str, error: str, count: int = 1) -> None:
        """Answer the next ``count`` calls to ``method`` with ``{"ok": false, "error": error}``."""
        self._inject(method, [_Answer.json(200, {"ok": False, "error": error})] * count)

    def server_error(self, method: str, count: int = 1, status: int = 500) -> None:
        """Answer the next ``count`` calls to ``method`` with HTTP ``status`` (a fault on Slack's side)."""
        self._inject(method, [_Answer.json(status, {"ok": False, "error": "internal_error"})] * count)

    def degrade(self, seconds: float, status: int = 429, retry_after: int = 1) -> None:
        """Answer every Web API call for the next ``seconds`` with 429 ``ratelimited`` (and
        ``Retry-After``) or, for a 5xx ``status``, a server error."""
        if status == 429:
            answer = _Answer.json(429, _RATELIMITED, (("Retry-After", str(retry_after)),))
        else:
            answer = _Answer.json(status, {"ok": False, "error": "internal_error"})
        with self._lock:
            self._degraded = (time.monotonic() + seconds, answer)

    def delay(self, method: str, seconds: float) -> None:
        """Sleep ``seconds`` before answering each call to ``method`` (0 turns the delay off)."""
        self._check_method(method)
        with self._lock:
            self._delays[method] = seconds

    def _inject(self, method: str, answers: list[_Answer]) -> None:
        self._check_method(method)
        with self._lock:
            self._faults[method].extend(answers)

    def _check_method(self, method: str) -> None:
        if method not in self._api.methods:
            raise ValueError(f"the stand-in does not serve {method!r}")

    # -- request handling (called from server threads) -----------------------------------------------

    def _api_request(
        self, method: str, query: str, content_type: str, authorization: str, raw: bytes
    ) -> _Answer:
        args: Args = {}
        status = 200
        try:
            handler = self._api.methods.get(method)
            if handler is None:
                status = 404
                raise ApiError("unknown_method")
            args = _parse_args(query, content_type, raw)
            token = authorization.removeprefix("Bearer ").strip() or args.pop("token", None)
            if not token:
                raise ApiError("not_authed")
            if token != (self.app_token if method == "apps.connections.open" else self.bot_token):
                raise ApiError("invalid_auth")
            with self._lock:
                delay = self._delays.get(method, 0.0)
                fault = self._faults[method].popleft() if self._faults[method] else None
                if fault is None and self._degraded is not None and time.monotonic() < self._degraded[0]:
                    fault = self._degraded[1]
            time.sleep(delay)
            if fault is not None:
                self._record(Call(method, args, fault.status, json.loads(fault.body)))
                return fault
            with self.state.lock:
                body = {"ok": True, **handler(args)}
        except ApiError as error:
            body = error.body()
        self._record(Call(method, args, status, body))
        granted = (("X-OAuth-Scopes", ",".join(self.state.scopes)),) if body.get("ok") else ()
        return _Answer.json(status, body, granted)

    def _connections_open(self, _args: Args) -> dict[str, Any]:
        assert self.socket_mode is not None
        return {"url": self.socket_mode.url}

    def _upload(self, file_id: str, raw: bytes) -> _Answer:
        if not self.state.store_upload(file_id, raw):
            return _Answer.text(404, "file_not_found")
        return _Answer.text(200, f"OK - {len(raw)}")

    def _response_post(self, key: str, raw: bytes) -> _Answer:
        try:
            payload = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return _Answer.text(400, "invalid_payload")
        if not isinstance(payload, dict):
            return _Answer.text(400, "invalid_payload")
        if not payload.get("text") and not payload.get("blocks") and not payload.get("delete_original"):
            return _Answer.text(400, "no_text")
        if "blocks" in payload and validate_blocks(payload["blocks"]):
            return _Answer.text(400, "invalid_blocks")
        self.state.record_response(key, payload)
        return _Answer.text(200, "ok")

    def _record(self, call: Call) -> None:
        with self._lock:
            self._calls.append(call)


def _parse_args(query: str, content_type: str, raw: bytes) -> Args:
    """Merge query-string and body arguments; form bodies may carry JSON-encoded fields."""
    args: Args = dict(parse_qsl(query, keep_blank_values=True))
    if content_type == "application/json":
        try:
            body = json.loads(raw or b"{}")
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ApiError("invalid_json") from None
        if not isinstance(body, dict):
            raise ApiError("json_not_object")
        args.update(body)
    elif raw:
        try:
            args.update(parse_qsl(raw.decode(), keep_blank_values=True, strict_parsing=True))
        except (UnicodeDecodeError, ValueError):
            raise ApiError("invalid_form_data") from None
    return decode_json_args(args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # bursts from many concurrent workers must not be refused

    def __init__(self, address: tuple[str, int], standin: SlackStandIn) -> None:
        super().__init__(address, _Handler)
        self.standin = standin


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = 30

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        url = urlsplit(self.path)
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        section, _, rest = url.path.lstrip("/").partition("/")
        standin = self.server.standin
        if section == "api":
            answer = standin._api_request(
                rest, url.query, self.headers.get_content_type(), self.headers.get("Authorization", ""), raw
            )
        elif section == "upload" and self.command == "POST":
            answer = standin._upload(rest, raw)
        elif section == "response" and self.command == "POST":
            answer = standin._response_post(unquote(rest), raw)
        else:
            answer = _Answer.text(404, "not_found")
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(answer.body)))
        for name, value in answer.headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(answer.body)

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: the stand-in runs inside tests and demos."""
