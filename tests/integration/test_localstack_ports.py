"""A stack whose port another process took first (tests and benchmarks run side by side) starts its
bot on another port, rather than taking the other process's answers for its own bot's."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bot.localstack import LocalStack, holds_listener


class _Ready(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # another stack's bot: ready, says /readyz
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ready")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def squatter() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ready)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def test_a_taken_port_gets_the_bot_started_on_another(tmp_path: Path, squatter: ThreadingHTTPServer) -> None:
    taken = squatter.server_address[1]
    stack = LocalStack(tmp_path)
    stack.port = taken  # as if the free port found were taken before the bot could bind it
    with stack:
        assert stack.bot is not None and stack.port != taken
        assert holds_listener(stack.bot.pid, stack.port) and not holds_listener(stack.bot.pid, taken)
        assert f"cannot listen on 127.0.0.1:{taken} (Address already in use)" in stack.log("bot")
        stack.standin.state.add_channel("C0PORT", "inc-port", is_member=True)
        driver = stack.driver()
        resp = driver.slash_command("help", user_id="U0ALICE", channel_id="C0PORT", channel_name="inc-port")
        assert resp.status == 200  # our bot verified our signature: the squatter was never asked
