"""The runbook webhook executor against a real HTTP server on loopback that checks the HMAC signature
itself, as a receiver (Rundeck, StackStorm, a CI dispatch) would: signed runs are accepted, a failing
endpoint is a failed outcome, and a body changed in transit or a stale timestamp is rejected."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from workers.errors import ExecutorError
from workers.executors.base import ActionRequest
from workers.executors.webhook import WebhookExecutor

SECRET = b"runbook-shared-secret-0123456789"
RUN = ActionRequest(
    action="run_runbook",
    target="checkout-api",
    params={"runbook": "flush-connection-pool"},
    requested_by="U0ALICE",
    proposal_id="Pabc123",
)


class Receiver:
    """Verifies `X-Copilot-Signature` with the shared secret and a five-minute timestamp window;
    answers 200 with a run id, 401 when the check fails, or `fail_with` when that is set."""

    def __init__(self, secret: bytes) -> None:
        self.accepted: list[dict[str, Any]] = []
        self.rejected: list[str] = []
        self.fail_with: tuple[int, str] | None = None
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                stamp = self.headers.get("X-Copilot-Timestamp", "")
                expected = "v1=" + hmac.new(secret, f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
                if not hmac.compare_digest(expected, self.headers.get("X-Copilot-Signature", "")):
                    receiver.rejected.append("bad signature")
                    self._answer(401, '{"error": "bad signature"}')
                elif abs(time.time() - int(stamp)) > 300:
                    receiver.rejected.append("stale timestamp")
                    self._answer(401, '{"error": "stale timestamp"}')
                elif receiver.fail_with is not None:
                    self._answer(*receiver.fail_with)
                else:
                    receiver.accepted.append(json.loads(body))
                    self._answer(200, json.dumps({"id": f"run-{len(receiver.accepted)}"}))

            def _answer(self, status: int, text: str) -> None:
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/runbook"


class Tampering(httpx.HTTPTransport):
    """Sends the executor's signed request with its body altered, as an attacker in transit would."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read().replace(b"checkout-api", b"payments-api")
        headers = [(k, v) for k, v in request.headers.multi_items() if k.lower() != "content-length"]
        forged = httpx.Request(request.method, request.url, headers=headers, content=body)
        return super().handle_request(forged)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(SECRET)
    yield r
    r.server.shutdown()
    r.server.server_close()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=60) as client:
        yield client


def test_a_signed_run_is_accepted_and_verified(receiver: Receiver, http: httpx.Client) -> None:
    executor = WebhookExecutor(receiver.url, SECRET, http)
    plan = executor.dry_run(RUN)
    assert plan.lines[0] == f"POST {receiver.url} (HMAC-signed)"
    assert '"target":"checkout-api"' in plan.lines[1]
    assert receiver.accepted == [] and receiver.rejected == []  # the dry run sent nothing

    outcome = executor.execute(RUN)
    assert outcome.ok and outcome.detail == "runbook accepted (HTTP 200, run run-1)"
    assert receiver.accepted == [
        {
            "action": "run_runbook",
            "params": {"runbook": "flush-connection-pool"},
            "proposal_id": "Pabc123",
            "requested_by": "U0ALICE",
            "target": "checkout-api",
        }
    ]
    assert executor.verify(RUN, outcome).ok
    assert executor.undo(RUN, outcome) is None


def test_a_failing_endpoint_is_a_failed_outcome_with_its_status_and_body(
    receiver: Receiver, http: httpx.Client
) -> None:
    receiver.fail_with = (500, "Internal Server Error: " + "x" * 400)
    outcome = WebhookExecutor(receiver.url, SECRET, http).execute(RUN)
    assert not outcome.ok
    assert outcome.detail == "runbook endpoint answered HTTP 500: Internal Server Error: " + "x" * 177
    check = WebhookExecutor(receiver.url, SECRET, http).verify(RUN, outcome)
    assert not check.ok and check.detail == outcome.detail


def test_the_receiver_rejects_a_tampered_body_a_wrong_secret_and_a_stale_timestamp(
    receiver: Receiver,
) -> None:
    with httpx.Client(transport=Tampering(), timeout=60) as tampered:
        outcome = WebhookExecutor(receiver.url, SECRET, tampered).execute(RUN)
    assert outcome.detail == 'runbook endpoint answered HTTP 401: {"error": "bad signature"}'
    assert not outcome.ok
    with httpx.Client(timeout=60) as http:
        assert not WebhookExecutor(receiver.url, b"not-the-shared-secret", http).execute(RUN).ok
        stale = WebhookExecutor(receiver.url, SECRET, http, clock=lambda: time.time() - 600)
        assert "stale timestamp" in stale.execute(RUN).detail
        assert receiver.accepted == []
        assert WebhookExecutor(receiver.url, SECRET, http).execute(RUN).ok  # the receiver does accept
    assert receiver.rejected == ["bad signature", "bad signature", "stale timestamp"]


def test_an_unreachable_endpoint_is_an_executor_error(http: httpx.Client) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: connections are refused
        executor = WebhookExecutor(f"http://127.0.0.1:{port}/hook", SECRET, http)
        with pytest.raises(ExecutorError, match="runbook endpoint unreachable: ConnectError"):
            executor.execute(RUN)
