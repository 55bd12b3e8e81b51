"""Every real component on one machine: an embedded Redis, the Slack stand-in, the bot as an HTTP
process and worker processes, wired together. The demo runs on it, and so do the integration tests
and benchmarks, so what they exercise is what a user runs.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

import redis
from rq import Worker

from bot.standin.driver import SlackDriver
from bot.standin.server import SlackStandIn
from workers.redisconn import EmbeddedRedis

# Settings a user may have exported that must not leak into a self-contained stack.
_SCRUB = (
    "SLACK_APP_TOKEN",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "LLM_MODEL",
    "REDIS_URL",
    "SECRETS_DIR",
    "PORT",
)


# How long to wait for something that must happen (a process ready, a job done). Generous, because a
# wait returns as soon as it is over and the machine may be busy; never a measure of speed.
PATIENCE = 180.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalStack:
    """Start with `with LocalStack(workdir) as stack:`; everything stops on exit."""

    def __init__(
        self,
        workdir: Path,
        *,
        workers: int = 1,
        redis_url: str | None = None,
        env: dict[str, str] | None = None,
        log_level: str = "info",
        socket_mode: bool = False,
        ready_timeout: float = PATIENCE,
    ) -> None:
        self.workdir = workdir
        self.signing_secret = secrets.token_hex(16)
        self.bot_token = "xoxb-local-" + secrets.token_hex(8)
        self.redis = None if redis_url else EmbeddedRedis(workdir / "redis", persist=False)
        self.redis_url = redis_url or ""
        self.app_token = "xapp-1-A0COPILOT-" + secrets.token_hex(8) if socket_mode else None
        self.standin = SlackStandIn(bot_token=self.bot_token, app_token=self.app_token)
        self.port = free_port()
        self._workers_wanted = workers
        self._extra_env = env or {}
        self._log_level = log_level
        self._ready_timeout = ready_timeout
        self.bot: subprocess.Popen[bytes] | None = None
        self.workers: list[subprocess.Popen[bytes]] = []
        self._logs: list[IO[bytes]] = []

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def events_url(self) -> str:
        return f"{self.base_url}/slack/events"

    def driver(self) -> SlackDriver:
        return SlackDriver(
            self.events_url, self.signing_secret, response_url_factory=self.standin.response_url
        )

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in _SCRUB}
        env.update(
            SLACK_BOT_TOKEN=self.bot_token,
            SLACK_SIGNING_SECRET=self.signing_secret,
            SLACK_API_URL=self.standin.api_url,
            REDIS_URL=self.redis_url,
            LOG_FORMAT="json",
            LOG_LEVEL=self._log_level,
            SECRETS_DIR=str(self.workdir / "no-secrets"),
        )
        if self.app_token:
            env["SLACK_APP_TOKEN"] = self.app_token
        env.update(self._extra_env)
        return env

    def _spawn(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115 - closed in stop()
        self._logs.append(log)
        cmd = [sys.executable, "-m", "bot.cli", "--env-file", os.devnull, *args]
        # A session of its own, so a test can kill the process and its work horse together.
        return subprocess.Popen(cmd, env=self.env(), stdout=log, stderr=log, start_new_session=True)

    def start(self) -> Self:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.redis is not None:
            self.redis_url = self.redis.ensure_running()
        self.standin.start()
        self._spawn_bot()
        for _ in range(self._workers_wanted):
            self.start_worker()
        self._wait_bot()
        self.wait_workers(max(30.0, self._ready_timeout))
        return self

    def _spawn_bot(self) -> None:
        self.bot = self._spawn("bot", "bot", "--host", "127.0.0.1", "--port", str(self.port))

    def _wait_bot(self, attempts: int = 5) -> None:
        """Until the bot is ready on a free port: a port found free can be taken by another process
        before the bot binds it (tests and benchmarks run side by side), so a bot that finds it
        taken is started again on another one."""
        for attempt in range(attempts):
            if attempt:
                self.port = free_port()
                self._spawn_bot()
            try:
                self.wait_ready(self._ready_timeout)
                return
            except _PortTaken:
                if self.bot is not None:
                    self.stop_process(self.bot)
        raise RuntimeError(f"no free port for the bot in {attempts} attempts:\n{self.log('bot')}")

    def start_worker(self) -> subprocess.Popen[bytes]:
        proc = self._spawn(f"worker-{len(self.workers)}", "worker")
        self.workers.append(proc)
        return proc

    def wait_ready(self, timeout: float = PATIENCE) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.bot is not None and self.bot.poll() is not None:
                if f"cannot listen on 127.0.0.1:{self.port} (Address already in use)" in self.log("bot"):
                    raise _PortTaken(self.port)
                raise RuntimeError(f"the bot exited with {self.bot.returncode}:\n{self.log('bot')}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/readyz", timeout=1) as resp:
                    # Ready only if our bot answered, not another process that took the port first.
                    ours = self.bot is not None and holds_listener(self.bot.pid, self.port)
                    if resp.status == 200 and ours:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.05)
        raise TimeoutError(f"the bot was not ready within {timeout:.0f} s:\n{self.log('bot')}")

    def wait_workers(self, timeout: float = PATIENCE) -> None:
        """Until every worker waits for jobs: registered with Redis and warmed up (RQ marks a worker
        idle only once its start-up, the warm-up included, is done)."""
        deadline = time.monotonic() + timeout
        with contextlib.closing(redis.Redis.from_url(self.redis_url)) as conn:
            while time.monotonic() < deadline:
                for number, worker in enumerate(self.workers):
                    if worker.poll() is not None:
                        name = f"worker-{number}"
                        raise RuntimeError(f"{name} exited with {worker.returncode}:\n{self.log(name)}")
                states = [w.get_state() for w in Worker.all(connection=conn)]
                if sum(state in ("idle", "busy") for state in states) >= len(self.workers):
                    return
                time.sleep(0.05)
        raise TimeoutError(f"the workers were not ready within {timeout:.0f} s:\n{self.log('worker-0')}")

    def log(self, name: str) -> str:
        path = self.workdir / f"{name}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    @staticmethod
    def stop_process(
        proc: subprocess.Popen[Any], sig: int = signal.SIGTERM, timeout: float = PATIENCE
    ) -> int:
        """Signal a process (started in a session of its own) and wait for it; then SIGKILL whatever
        is left of its session (a work horse), so nothing outlives it."""
        if proc.poll() is None:
            if sig == signal.SIGKILL:
                _kill_session(proc.pid)
            else:
                proc.send_signal(sig)
        try:
            code = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            _kill_session(proc.pid)
            code = proc.wait(timeout)
        _kill_session(proc.pid)
        return code

    def stop(self) -> None:
        """Stop every part, each even when stopping another failed."""
        with contextlib.ExitStack() as parts:
            for log in self._logs:
                parts.callback(log.close)
            if self.redis is not None:
                parts.callback(self.redis.stop)
            parts.callback(self.standin.stop)
            for proc in [*self.workers, *([self.bot] if self.bot else [])]:
                parts.callback(self.stop_process, proc)

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class _PortTaken(Exception):
    """The bot could not listen on its port: another process holds it."""


def holds_listener(pid: int, port: int) -> bool:
    """Whether process `pid` holds the listening TCP socket on `port` (Linux: its socket inodes
    against /proc/net/tcp, state 0A = LISTEN)."""
    inodes = set()
    with contextlib.suppress(OSError):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[len("socket:[") : -1])
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port and fields[9] in inodes:
            return True
    return False


def _kill_session(sid: int) -> None:
    """SIGKILL every process in session `sid` (RQ's work horse runs in its own process group)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[3]) == sid:  # fields after the name: state, ppid, pgrp, session
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(entry.name), signal.SIGKILL)
