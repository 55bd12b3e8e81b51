"""A real Redis server (the embedded one) for unit tests of what keeps state in Redis."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from workers.redisconn import EmbeddedRedis


@pytest.fixture
def client(tmp_path: Path) -> Iterator[redis.Redis]:
    server = EmbeddedRedis(tmp_path / "r", persist=False)
    conn = redis.Redis.from_url(server.ensure_running())
    yield conn
    conn.close()
    server.stop()
