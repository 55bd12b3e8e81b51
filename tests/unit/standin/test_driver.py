import json
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from slack_sdk.signature import SignatureVerifier

from bot.standin import SlackDriver, SlackStandIn
from bot.standin.driver import DriverResponse, Signing, sign

SECRET = "standin-signing-secret"
FIXTURES = Path("/work/shared/data/slack/fixtures")


class _Receiver(BaseHTTPRequestHandler):
    """A bot stand-in: checks the signature with slack_sdk, answers 401 or 200, keeps what arrived."""

    server: "_ReceiverServer"

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        valid = SignatureVerifier(SECRET).is_valid_request(body, dict(self.headers))
        with self.server.lock:
            self.server.received.append((self.headers.get_content_type(), body))
        answer = b'{"ok": true}' if valid else b'{"error": "invalid_signature"}'
        self.send_response(200 if valid else 401)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _ReceiverServer(ThreadingHTTPServer):
    request_queue_size = 128

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Receiver)
        self.lock = threading.Lock()
        self.received: list[tuple[str, bytes]] = []

    def payload(self, index: int = -1) -> dict[str, Any]:
        content_type, body = self.received[index]
        if content_type == "application/json":
            return dict(json.loads(body))
        fields = {key: values[0] for key, values in parse_qs(body.decode(), keep_blank_values=True).items()}
        return json.loads(fields["payload"]) if "payload" in fields else fields


@pytest.fixture
def receiver() -> Iterator[_ReceiverServer]:
    server = _ReceiverServer()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def driver(receiver: _ReceiverServer) -> SlackDriver:
    host, port = receiver.server_address[:2]
    return SlackDriver(f"http://{host!s}:{port}/slack/events", SECRET)


def test_signature_matches_slacks_test_vector() -> None:
    path = FIXTURES / "request_signing_test_vector.json"
    if not path.exists():
        pytest.skip(f"{path} is not available")
    vector = json.loads(path.read_text())
    signature = sign(vector["signing_secret"], vector["timestamp"], vector["body"].encode())
    assert signature == vector["valid_signature"]


def test_slash_command_carries_every_field_slack_sends(
    driver: SlackDriver, receiver: _ReceiverServer
) -> None:
    response = driver.slash_command("checkout 5xx", user_id="U1ALICE", channel_id="C1INC", channel_name="inc")
    assert response.status == 200
    assert response.json() == {"ok": True}
    assert response.elapsed > 0
    fields = receiver.payload()
    expected = {
        "token", "team_id", "team_domain", "channel_id", "channel_name", "user_id", "user_name", "command",
        "text", "api_app_id", "is_enterprise_install", "response_url", "trigger_id",
    }  # fmt: skip
    assert set(fields) == expected
    assert (fields["command"], fields["text"], fields["team_id"]) == ("/triage", "checkout 5xx", "T0INCIDENT")


def test_slash_command_fields_cover_the_recorded_fixture(
    driver: SlackDriver, receiver: _ReceiverServer
) -> None:
    path = FIXTURES / "slash_command_body.bolt-python.parsed.json"
    if not path.exists():
        pytest.skip(f"{path} is not available")
    recorded = set(json.loads(path.read_text())["fields"]) - {"enterprise_id", "enterprise_name"}
    driver.slash_command("x", user_id="U1", channel_id="C1")
    assert recorded <= set(receiver.payload())


def test_response_urls_come_from_the_factory(receiver: _ReceiverServer) -> None:
    with SlackStandIn(bot_token="xoxb-t") as standin:
        host, port = receiver.server_address[:2]
        driver = SlackDriver(f"http://{host!s}:{port}/", SECRET, response_url_factory=standin.response_url)
        driver.slash_command("x", user_id="U1ALICE", channel_id="C1INC")
        assert receiver.payload()["response_url"].startswith(f"{standin.url}response/C1INC:U1ALICE:")


def test_event_envelope(driver: SlackDriver, receiver: _ReceiverServer) -> None:
    driver.message_event("C1INC", "U1ALICE", "hello", "1700000000.000100")
    driver.message_event("C1INC", "U1ALICE", "again", "1700000000.000200")
    first, second = receiver.payload(0), receiver.payload(1)
    assert first["type"] == "event_callback"
    assert first["event"]["text"] == "hello"
    assert first["authorizations"][0]["user_id"] == "U0BOT"
    assert first["event_id"] != second["event_id"]


def test_block_action_payload(driver: SlackDriver, receiver: _ReceiverServer) -> None:
    driver.block_action(
        "approve", "step-3", user_id="U1ALICE", channel_id="C1INC", message_ts="1700000000.000100"
    )
    payload = receiver.payload()
    assert payload["type"] == "block_actions"
    assert payload["container"] == {
        "type": "message",
        "message_ts": "1700000000.000100",
        "channel_id": "C1INC",
        "is_ephemeral": False,
    }
    [action] = payload["actions"]
    assert (action["action_id"], action["value"], action["block_id"]) == ("approve", "step-3", "b")


def test_url_verification(driver: SlackDriver, receiver: _ReceiverServer) -> None:
    assert driver.url_verification("challenge-123").status == 200
    assert receiver.payload() == {
        "token": driver.verification_token,
        "challenge": "challenge-123",
        "type": "url_verification",
    }


@pytest.mark.parametrize(
    ("signing", "status"),
    [({}, 200), ({"tamper": True}, 401), ({"secret": "other"}, 401), ({"timestamp_offset": -600}, 401)],
    ids=["valid", "tampered", "wrong-secret", "stale"],
)
def test_signatures_verify_only_when_intact(driver: SlackDriver, signing: Signing, status: int) -> None:
    sends: list[Callable[[], DriverResponse]] = [
        lambda: driver.slash_command("x", user_id="U1", channel_id="C1", **signing),
        lambda: driver.event({"type": "app_mention", "text": "hi"}, **signing),
        lambda: driver.block_action("a", "v", user_id="U1", channel_id="C1", message_ts="1.2", **signing),
        lambda: driver.url_verification("c", **signing),
    ]
    assert [send().status for send in sends] == [status] * len(sends)


def test_driver_is_safe_to_use_from_many_threads(driver: SlackDriver, receiver: _ReceiverServer) -> None:
    with ThreadPoolExecutor(max_workers=50) as pool:
        statuses = list(
            pool.map(lambda n: driver.message_event("C1", "U1", f"m{n}", f"1.{n}").status, range(100))
        )
    assert statuses == [200] * 100
    assert len({receiver.payload(n)["event_id"] for n in range(100)}) == 100
