"""Real HTTP servers on 127.0.0.1 for the HTTP log sources to talk to, and a shared window."""

from __future__ import annotations

import json
import socket
import struct
import sys
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
import pytest_asyncio

from workers.evidence.model import LogQuery, TimeWindow

WINDOW = TimeWindow(datetime(2026, 3, 14, 10, 40, tzinfo=UTC), datetime(2026, 3, 14, 11, 10, tzinfo=UTC))
QUERY = LogQuery("checkout", WINDOW)

Respond = Callable[["Handler", bytes], None]


class Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.respond(self, body)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass


class _Server(ThreadingHTTPServer):
    def __init__(self, respond: Respond, errors: list[BaseException]) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.respond = respond
        self.errors = errors

    def handle_error(self, request: Any, client_address: Any) -> None:
        self.errors.append(sys.exc_info()[1])  # type: ignore[arg-type]


def reply(handler: Handler, status: int, body: bytes | str, content_type: str = "text/plain") -> None:
    data = body.encode() if isinstance(body, str) else body
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


def reply_json(handler: Handler, payload: Any, status: int = 200) -> None:
    reply(handler, status, json.dumps(payload), "application/json")


def reset(handler: Handler, body: bytes) -> None:
    """Close the connection with a TCP reset instead of an answer."""
    handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    handler.connection.close()


class Servers:
    """Starts fake backends; each answers every request with `respond(handler, body)`."""

    def __init__(self) -> None:
        self.errors: list[BaseException] = []
        self._release = threading.Event()
        self._running: list[tuple[_Server, threading.Thread]] = []

    def start(self, respond: Respond) -> str:
        server = _Server(respond, self.errors)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        thread.start()
        self._running.append((server, thread))
        return f"http://127.0.0.1:{server.server_address[1]}"

    def hang(self, handler: Handler, body: bytes) -> None:
        """Never answer (until the test is over)."""
        self._release.wait(120)

    def close(self) -> None:
        self._release.set()
        for server, thread in self._running:
            server.shutdown()
            server.server_close()
            thread.join()


@pytest.fixture
def servers() -> Iterator[Servers]:
    running = Servers()
    yield running
    running.close()
    assert running.errors == []  # a failed assertion inside a fake backend fails the test too


@pytest_asyncio.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=60) as client:
        yield client


def closed_port() -> str:
    """A loopback URL where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
