"""The alert inbox in Redis: receivers append and make sure one drain job is queued; the drain job
moves alerts to a processing list before it handles them, so alerts a crashed job took are handled
by its retry (handling an alert twice changes nothing: it is deduplicated by fingerprint)."""

from __future__ import annotations

import secrets

import redis

from workers.alerts.model import Alert
from workers.queue import enqueue
from workers.redisconn import as_text

INBOX = "ic:alerts:inbox"
PROCESSING = "ic:alerts:processing"
PENDING = "ic:alerts:drain_pending"
PENDING_TTL_S = 900  # a drain job that vanished without running is replaced after this long


def record(client: redis.Redis, alerts: list[Alert]) -> None:
    """Append the alerts, then queue a drain job unless one is already waiting."""
    if not alerts:
        return
    client.rpush(INBOX, *(a.model_dump_json() for a in alerts))
    if client.set(PENDING, 1, nx=True, ex=PENDING_TTL_S):
        run_id = secrets.token_hex(6)
        enqueue(client, "workers.jobs.alerts.run", {"run_id": run_id}, f"alerts-{run_id}")


def take(client: redis.Redis, count: int) -> list[Alert]:
    """Up to `count` alerts: first those a crashed drain left in processing, then new ones (moved to
    processing). Clears the pending mark first, so an alert arriving later queues a new drain."""
    left = client.lrange(PROCESSING, 0, count - 1)
    if left:
        return [Alert.model_validate_json(as_text(raw)) for raw in left]
    client.delete(PENDING)
    with client.pipeline(transaction=False) as pipe:
        for _ in range(count):
            pipe.lmove(INBOX, PROCESSING, "LEFT", "RIGHT")
        moved = [m for m in pipe.execute() if m is not None]
    return [Alert.model_validate_json(as_text(raw)) for raw in moved]


def done(client: redis.Redis, count: int) -> None:
    """The first `count` alerts in processing are handled."""
    client.ltrim(PROCESSING, count, -1)


def backlog(client: redis.Redis) -> int:
    return int(client.llen(INBOX)) + int(client.llen(PROCESSING))
