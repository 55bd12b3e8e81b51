"""Integration fixtures: real Redis, the real bot process behind its HTTP endpoint, real RQ
worker processes, and the Slack stand-in, all on loopback (see `bot.localstack`)."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from rq import Queue
from rq.serializers import JSONSerializer

from bot.localstack import PATIENCE, LocalStack
from workers.queue import ALL_QUEUES

_channels = itertools.count(1)
__all__ = ["PATIENCE"]  # re-exported: the cap of every wait for something that must happen


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with LocalStack(tmp_path_factory.mktemp("stack")) as running:
        running.standin.state.add_user("U0ALICE", "alice", "Alice Moreau")
        running.standin.state.add_user("U0BRUNO", "bruno", "Bruno Silva")
        yield running


@pytest.fixture
def make_stack(tmp_path: Path) -> Iterator[Callable[..., LocalStack]]:
    """A stack of the test's own, for tests that kill or stop parts of it."""
    started: list[LocalStack] = []

    def make(**kwargs: Any) -> LocalStack:
        s = LocalStack(tmp_path / f"stack{len(started)}", **kwargs)
        started.append(s)  # stopped at teardown even when start() fails half-way
        s.start()
        s.standin.state.add_user("U0ALICE", "alice", "Alice Moreau")
        return s

    yield make
    for s in started:
        s.stop()


def new_channel(stack: LocalStack, prefix: str = "inc-test", member: bool = True) -> tuple[str, str]:
    n = next(_channels)
    channel_id, name = f"C0T{n:06d}", f"{prefix}-{n}"
    stack.standin.state.add_channel(channel_id, name, is_member=member)
    return channel_id, name


def bot_messages(stack: LocalStack, channel: str) -> list[dict[str, Any]]:
    """The bot's messages in the channel itself, not in threads."""
    return [
        m
        for m in stack.standin.messages(channel)
        if m.get("bot_id") and m.get("thread_ts", m["ts"]) == m["ts"]
    ]


def details_reply(stack: LocalStack, channel: str, answer: dict[str, Any]) -> dict[str, Any]:
    """The one thread reply under an answer that holds its log evidence and the channel summary."""
    replies = [
        m
        for m in stack.standin.messages(channel)
        if m.get("bot_id") and m.get("thread_ts") == answer["ts"] and m["ts"] != answer["ts"]
    ]
    assert len(replies) == 1, f"expected one details reply, found {len(replies)}"
    return replies[0]


def is_answer(message: dict[str, Any]) -> bool:
    return any(b.get("type") == "header" for b in message.get("blocks") or [])


def wait_answer(stack: LocalStack, channel: str, timeout: float = PATIENCE) -> dict[str, Any]:
    assert stack.standin.wait_for(lambda: any(is_answer(m) for m in bot_messages(stack, channel)), timeout), (
        f"no answer in {channel}; worker log:\n{stack.log('worker-0')}"
    )
    return next(m for m in bot_messages(stack, channel) if is_answer(m))


def job_ids(stack: LocalStack) -> set[str]:
    """Every job RQ knows about on our queues, whatever its state."""
    client = redis.Redis.from_url(stack.redis_url)
    try:
        ids: set[str] = set()
        for name in ALL_QUEUES:
            q = Queue(name, connection=client, serializer=JSONSerializer)
            ids.update(q.job_ids)
            for registry in (q.started_job_registry, q.finished_job_registry, q.failed_job_registry):
                ids.update(registry.get_job_ids())
        return ids
    finally:
        client.close()


def jobs_enqueued(stack: LocalStack) -> int:
    return len(job_ids(stack))


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
