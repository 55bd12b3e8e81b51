"""Crash an embedded Redis with SIGKILL and compare what it held before and after a restart."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import redis

from workers.redisconn import EmbeddedRedis

Content = dict[bytes, object]


def sigkill(server: EmbeddedRedis, timeout: float = 10.0) -> None:
    """SIGKILL the server (no shutdown, no final fsync) and wait until it is gone."""
    pid = int((server.directory / "redis.pid").read_text().strip())
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.01)


def content(client: redis.Redis) -> Content:
    """Every key with its value in a comparable form (any type the project stores)."""
    out: Content = {}
    for key in client.scan_iter(count=1000):
        kind = client.type(key).decode()
        if kind == "string":
            out[key] = client.get(key)
        elif kind == "hash":
            out[key] = client.hgetall(key)
        elif kind == "set":
            out[key] = client.smembers(key)
        elif kind == "zset":
            out[key] = client.zrange(key, 0, -1, withscores=True)
        elif kind == "list":
            out[key] = client.lrange(key, 0, -1)
        elif kind == "stream":
            out[key] = client.xrange(key)
    return out


def lost(before: Content, after: Content) -> list[bytes]:
    """Keys present before whose value is missing or different after."""
    return [key for key, value in before.items() if after.get(key) != value]


class Ticker:
    """Writes a numbered, timestamped entry every few milliseconds until the server dies; after the
    restart, `loss_window` is how long before the kill the last surviving write was made."""

    KEY = "durability:ticks"

    def __init__(self, url: str) -> None:
        self._client = redis.Redis.from_url(url, socket_timeout=1)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.written = 0

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                self._client.rpush(self.KEY, f"{self.written}:{time.time():.6f}")
            except redis.RedisError:
                return
            self.written += 1
            time.sleep(0.005)

    def join(self) -> None:
        self._thread.join(timeout=10)
        self._client.close()

    def loss_window(self, client: redis.Redis, killed_at: float) -> tuple[int, float]:
        """(entries that survived, seconds between the last surviving write and the kill)."""
        entries = client.lrange(self.KEY, 0, -1)
        if not entries:
            return 0, float("inf")
        last_at = float(entries[-1].decode().split(":", 1)[1])
        return len(entries), killed_at - last_at
