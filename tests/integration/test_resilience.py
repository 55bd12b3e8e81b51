"""Crashes and outages: a killed worker, a stopped worker, Redis going away and coming back."""

from __future__ import annotations

import signal
import urllib.error
import urllib.request
from collections.abc import Callable

import redis
from rq import Queue
from rq.serializers import JSONSerializer

from bot.localstack import LocalStack
from tests.integration.conftest import (
    PATIENCE,
    bot_messages,
    details_reply,
    is_answer,
    new_channel,
    wait_answer,
    wait_until,
)
from workers.queue import TRIAGE
from workers.redisconn import EmbeddedRedis


def _started_jobs(stack: LocalStack) -> int:
    client = redis.Redis.from_url(stack.redis_url)
    try:
        return Queue(TRIAGE, connection=client, serializer=JSONSerializer).started_job_registry.count
    finally:
        client.close()


def _queued_jobs(stack: LocalStack) -> int:
    client = redis.Redis.from_url(stack.redis_url)
    try:
        return Queue(TRIAGE, connection=client, serializer=JSONSerializer).count
    finally:
        client.close()


def test_worker_killed_mid_job_answers_exactly_once_after_restart(
    make_stack: Callable[..., LocalStack],
) -> None:
    stack = make_stack()
    channel, name = new_channel(stack)
    stack.standin.delay("conversations.history", 30)  # keeps the job busy mid-flight
    stack.driver().slash_command("", user_id="U0ALICE", channel_id=channel, channel_name=name)
    assert wait_until(
        lambda: len(stack.standin.calls_to("conversations.info")) > 0 and _started_jobs(stack) == 1, PATIENCE
    )
    stack.stop_process(stack.workers[0], signal.SIGKILL)
    assert not any(is_answer(m) for m in bot_messages(stack, channel))

    stack.standin.delay("conversations.history", 0)
    stack.start_worker()
    answer = wait_answer(stack, channel, timeout=PATIENCE)
    # A duplicate, if any, would come from a job still queued or running: wait until none is left.
    assert wait_until(lambda: _started_jobs(stack) == 0 and _queued_jobs(stack) == 0, PATIENCE)
    assert [m["ts"] for m in bot_messages(stack, channel)] == [answer["ts"]]
    posts = [c for c in stack.standin.calls_to("chat.postMessage") if c.args.get("channel") == channel]
    assert len(posts) == 2  # the placeholder, edited into the answer, and its one details reply
    assert details_reply(stack, channel, answer)["thread_ts"] == answer["ts"]
    assert "requeued or failed jobs whose process died" in stack.log("worker-1")


def test_sigterm_finishes_the_current_job_then_exits(make_stack: Callable[..., LocalStack]) -> None:
    stack = make_stack()
    channel, name = new_channel(stack)
    stack.standin.delay("conversations.history", 1.5)
    stack.driver().slash_command("", user_id="U0ALICE", channel_id=channel, channel_name=name)
    assert wait_until(lambda: _started_jobs(stack) == 1, PATIENCE)
    code = stack.stop_process(stack.workers[0], signal.SIGTERM, timeout=PATIENCE)
    assert code == 0
    assert any(is_answer(m) for m in bot_messages(stack, channel))  # answered before it exited


def test_redis_down_gives_a_clear_ephemeral_error_fast_and_recovers_without_restart(
    make_stack: Callable[..., LocalStack], tmp_path
) -> None:
    server = EmbeddedRedis(tmp_path / "own-redis", persist=False)
    url = server.ensure_running()
    try:
        stack = make_stack(redis_url=url)
        channel, name = new_channel(stack)
        driver = stack.driver()
        server.stop()

        resp = driver.slash_command("last 5m", user_id="U0ALICE", channel_id=channel, channel_name=name)
        assert resp.status == 200  # acked, not left to Slack's timeout (how fast: bench_triage_ack.py)
        assert stack.standin.wait_for(
            lambda: any(p["channel"] == channel for p in stack.standin.state.response_posts()), PATIENCE
        )
        post = next(p for p in stack.standin.state.response_posts() if p["channel"] == channel)
        assert post["response_type"] == "ephemeral"
        assert "can't reach my job queue (Redis)" in post["text"] and "nothing was queued" in post["text"]
        assert bot_messages(stack, channel) == []
        try:
            urllib.request.urlopen(f"{stack.base_url}/readyz", timeout=PATIENCE)
            raise AssertionError("readyz should fail while Redis is down")
        except urllib.error.HTTPError as exc:
            assert exc.code == 503

        server.ensure_running()  # Redis comes back on the same socket; nothing is restarted
        stack.wait_ready(timeout=PATIENCE)
        driver.slash_command("last 5m", user_id="U0ALICE", channel_id=channel, channel_name=name)
        wait_answer(stack, channel, timeout=PATIENCE)
        assert stack.bot is not None and stack.bot.poll() is None
        assert all(w.poll() is None for w in stack.workers)
    finally:
        server.stop()


def test_messages_in_incident_channels_are_kept_once_per_event(stack: LocalStack) -> None:
    channel, _name = new_channel(stack, prefix="inc-events")
    quiet, _ = new_channel(stack, prefix="random")
    driver = stack.driver()
    ts = stack.standin.state.add_message(channel, "U0BRUNO", "db pool saturated")
    event = {"type": "message", "channel": channel, "user": "U0BRUNO", "text": "db pool saturated", "ts": ts}
    first = driver.event(event)
    assert first.status == 200
    body = first  # Slack redelivers with the same event id: simulate by resending the stored id below
    driver.message_event(
        quiet, "U0BRUNO", "lunch?", stack.standin.state.add_message(quiet, "U0BRUNO", "lunch?")
    )

    client = redis.Redis.from_url(stack.redis_url)
    try:

        def stored(ch: str) -> list[dict]:
            pointer = client.get(f"ic:channel:{ch}:incident")
            if pointer is None:
                return []
            return [
                {k.decode(): v.decode() for k, v in fields.items()}
                for _id, fields in client.xrange(f"ic:incident:{pointer.decode()}:messages")
            ]

        assert wait_until(lambda: len(stored(channel)) == 1, PATIENCE)
        assert stored(channel)[0]["text"] == "db pool saturated"
        assert stored(quiet) == []
        assert body.status == 200
    finally:
        client.close()
