"""A real redis-server on a loopback TCP port that a test can stop and start again on the same port
(an outage), persisted with AOF so a restart keeps what it held. Its own process group, so a test
that fails still kills it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Self

import redis

from bot.localstack import free_port
from workers.redisconn import redis_server_binary


class LoopbackRedis:
    def __init__(self, directory: Path, port: int | None = None) -> None:
        self.directory = directory
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 20.0) -> Self:
        self.directory.mkdir(parents=True, exist_ok=True)
        args = [
            redis_server_binary(), "--bind", "127.0.0.1", "--port", str(self.port),
            "--dir", str(self.directory), "--save", "", "--appendonly", "yes",
            "--appendfsync", "everysec", "--logfile", str(self.directory / "redis.log"),
        ]  # fmt: skip
        self.proc = subprocess.Popen(args, start_new_session=True)
        deadline = time.monotonic() + timeout
        with contextlib.closing(redis.Redis.from_url(self.url, socket_timeout=1)) as probe:
            while time.monotonic() < deadline:
                with contextlib.suppress(redis.RedisError):
                    if probe.ping():
                        return self
                time.sleep(0.05)
        raise TimeoutError(f"redis-server on port {self.port} did not answer within {timeout:.0f} s")

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM (Redis flushes its AOF and exits); SIGKILL of the group if it lingers."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout)
        self.proc = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
