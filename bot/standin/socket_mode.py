"""Slack's side of Socket Mode: a websocket endpoint that `apps.connections.open` hands out.

The app connects, receives `hello`, then envelopes (`slash_commands`, `events_api`,
`interactive`); it must answer each with `{"envelope_id": …}` (and a payload for commands), which
this server records as acks.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve


class SocketModeServer:
    def __init__(self, host: str = "127.0.0.1") -> None:
        self._host = host
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Condition()
        self._connections: list[ServerConnection] = []
        self._acks: dict[str, dict[str, Any]] = {}

    def start(self) -> None:
        self._server = serve(self._handle, self._host, 0)
        self._thread = threading.Thread(target=self._server.serve_forever, name="socket-mode", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        if self._thread is not None:
            self._thread.join(5)
        self._server = self._thread = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("start the Socket Mode server first")
        host, port = self._server.socket.getsockname()[:2]
        return f"ws://{host}:{port}/link/?ticket={uuid.uuid4().hex}"

    @property
    def connected(self) -> int:
        with self._lock:
            return len(self._connections)

    def wait_connected(self, timeout: float = 10.0) -> bool:
        with self._lock:
            return self._lock.wait_for(lambda: bool(self._connections), timeout)

    def send(self, kind: str, payload: dict[str, Any], *, timeout: float = 5.0) -> dict[str, Any] | None:
        """Deliver one envelope to the connected app and wait for its ack (None if none came)."""
        envelope_id = str(uuid.uuid4())
        envelope = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": kind != "events_api",
            "retry_attempt": 0,
            "retry_reason": "",
        }
        with self._lock:
            if not self._connections:
                raise RuntimeError("no app is connected over Socket Mode")
            connection = self._connections[-1]
        started = time.monotonic()
        connection.send(json.dumps(envelope))
        with self._lock:
            self._lock.wait_for(lambda: envelope_id in self._acks, timeout - (time.monotonic() - started))
            return self._acks.pop(envelope_id, None)

    def _handle(self, connection: ServerConnection) -> None:
        connection.send(
            json.dumps({"type": "hello", "num_connections": 1, "debug_info": {"host": "standin"}})
        )
        with self._lock:
            self._connections.append(connection)
            self._lock.notify_all()
        try:
            for raw in connection:
                message = json.loads(raw)
                if isinstance(message, dict) and "envelope_id" in message:
                    with self._lock:
                        self._acks[message["envelope_id"]] = message
                        self._lock.notify_all()
        except (ConnectionClosed, json.JSONDecodeError):
            pass
        finally:
            with self._lock:
                self._connections.remove(connection)
