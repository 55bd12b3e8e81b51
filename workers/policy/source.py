"""The policy as it reads now: the file is read again at every decision and reloaded when its
content hash changes, in the bot and in every worker alike (an in-place ConfigMap, Docker or systemd
edit takes effect at the next click or job, not at the next restart).

A new version that does not validate is rejected with its `file:line` reason while the last good
one stays in force; the rejection is logged once per version, counted in the `policy_reloads`
metric and shown in `status()` (the bot's `/readyz` detail). A file that disappears or cannot be
read is a rejection too: the last good version stays.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any

import redis
import structlog

from workers import metrics
from workers.errors import ConfigError
from workers.policy.model import PolicyFile, load_policy

log = structlog.get_logger(__name__)


class PolicySource:
    def __init__(self, path: Path, process: str, client: redis.Redis | None = None) -> None:
        """Loads the file now: an invalid policy at start-up stops the process (`ConfigError`)."""
        self.path = path
        self.process = process
        self.client = client
        self._lock = threading.Lock()
        raw = path.read_bytes()
        self._good = load_policy(path, raw.decode("utf-8", errors="replace"))
        self._seen = hashlib.sha256(raw).hexdigest()
        self._rejected: dict[str, Any] = {}

    def current(self) -> PolicyFile:
        """The policy in force now: the file's content if it validates, else the last good one."""
        try:
            raw = self.path.read_bytes()
        except OSError as exc:
            self._reject("unreadable", [f"{self.path}: {exc.strerror or exc}"])
            return self._good
        sha = hashlib.sha256(raw).hexdigest()
        with self._lock:
            if sha == self._seen:
                if self._rejected.get("sha256") == "unreadable":
                    self._rejected = {}
                return self._good
            self._seen = sha
            try:
                policy = load_policy(self.path, raw.decode("utf-8", errors="replace"))
            except ConfigError as exc:
                self._reject(sha, exc.problems)
                return self._good
            previous, self._good, self._rejected = self._good.sha256, policy, {}
        log.warning("policy reloaded", policy=str(self.path), sha256=sha[:12], previous=previous[:12])
        self._count("loaded")
        return policy

    def _reject(self, sha: str, problems: list[str]) -> None:
        if self._rejected.get("sha256") == sha:
            return  # logged and counted once per version
        self._rejected = {"sha256": sha, "problems": problems}
        log.error(
            "policy change rejected; the last good version stays in force",
            policy=str(self.path),
            problems=problems,
            in_force=self._good.sha256[:12],
        )
        self._count("rejected")

    def _count(self, outcome: str) -> None:
        if self.client is not None:
            metrics.inc(self.client, "policy_reloads", outcome=outcome, process=self.process)

    def status(self) -> dict[str, Any]:
        """What is in force and what was last rejected (for `/readyz`)."""
        self.current()
        status: dict[str, Any] = {"file": str(self.path), "sha256": self._good.sha256}
        if self._rejected:
            status["rejected"] = dict(self._rejected)
        return status
