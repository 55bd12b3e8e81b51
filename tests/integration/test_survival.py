"""Jobs that survive faults: a Redis outage under a busy worker, a job a killed worker took off the
queue before it ran, and Slack rate-limiting or failing, all through the real bot, RQ workers, Redis
server and Slack stand-in on loopback."""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from slack_sdk.errors import SlackApiError

from bot.listeners.queueing import SLACK_SLOW
from bot.localstack import PATIENCE, LocalStack
from bot.standin.server import SlackStandIn
from tests.integration.conftest import bot_messages, is_answer, new_channel, wait_answer, wait_until
from tests.support.loopback_redis import LoopbackRedis
from workers.settings import SlackSettings
from workers.slack.client import make_client


@pytest.fixture
def tcp_redis(tmp_path: Path) -> Iterator[LoopbackRedis]:
    server = LoopbackRedis(tmp_path / "tcp-redis").start()
    yield server
    server.stop()


def _one_answer(stack: LocalStack, channel: str, timeout: float) -> None:
    answer = wait_answer(stack, channel, timeout=timeout)
    assert [m["ts"] for m in bot_messages(stack, channel)] == [answer["ts"]]


def test_a_busy_worker_rides_out_a_redis_outage(
    make_stack: Callable[..., LocalStack], tcp_redis: LoopbackRedis
) -> None:
    stack = make_stack(redis_url=tcp_redis.url)
    channel, name = new_channel(stack)
    stack.standin.delay("conversations.history", 9)  # the job is mid-flight through the outage
    stack.driver().slash_command("", user_id="U0ALICE", channel_id=channel, channel_name=name)
    assert wait_until(lambda: len(stack.standin.calls_to("conversations.history")) > 0, PATIENCE)
    tcp_redis.stop()
    # The outage lasts until the worker has met it (a heartbeat or bookkeeping call failed), however slow
    # the machine is, rather than a fixed number of seconds.
    met = "Redis unreachable; carrying on"
    assert wait_until(lambda: met in stack.log("worker-0"), PATIENCE), stack.log("worker-0")
    tcp_redis.start()
    stack.standin.delay("conversations.history", 0)
    _one_answer(stack, channel, timeout=PATIENCE)
    assert stack.workers[0].poll() is None, stack.log("worker-0")
    assert met in stack.log("worker-0")
    again, again_name = new_channel(stack)
    stack.driver().slash_command("", user_id="U0ALICE", channel_id=again, channel_name=again_name)
    _one_answer(stack, again, timeout=PATIENCE)
    assert stack.stop_process(stack.workers[0], signal.SIGTERM, timeout=20) == 0  # still stops on request


def test_a_job_taken_by_a_worker_killed_before_it_ran_is_requeued(
    make_stack: Callable[..., LocalStack],
) -> None:
    stack = make_stack(workers=0)
    channel, name = new_channel(stack)
    stack.driver().slash_command("", user_id="U0ALICE", channel_id=channel, channel_name=name)
    with contextlib.closing(redis.Redis.from_url(stack.redis_url)) as client:
        assert wait_until(lambda: client.llen("rq:queue:triage") == 1, PATIENCE)
        taken = client.lpop("rq:queue:triage")  # what a worker's BLPOP does just before it is killed
        assert taken is not None and taken.decode().startswith("triage-")
        started = time.monotonic()
        stack.start_worker()
        _one_answer(stack, channel, timeout=PATIENCE)
    assert time.monotonic() - started < 60
    assert "requeued jobs a stopped worker had taken off the queue" in stack.log("worker-0")


def test_slack_client_retries_ratelimited_and_5xx_until_its_deadline() -> None:
    with SlackStandIn(bot_token="xoxb-retry") as standin:
        settings = SlackSettings(bot_token="xoxb-retry", api_url=standin.api_url)
        standin.state.add_channel("C0RETRY", "inc-retry", is_member=True)
        client = make_client(settings, deadline_s=10)
        standin.rate_limit("chat.postMessage", count=2, retry_after=1)
        standin.server_error("chat.postMessage", count=2, status=503)
        assert client.chat_postMessage(channel="C0RETRY", text="hello")["ok"]
        assert [c.status for c in standin.calls_to("chat.postMessage")] == [429, 429, 503, 503, 200]

        standin.degrade(30, status=500)
        hasty = make_client(settings, deadline_s=1.5)
        began = time.monotonic()
        with pytest.raises(SlackApiError):
            hasty.chat_postMessage(channel="C0RETRY", text="again")
        assert time.monotonic() - began < 5


def test_a_rate_limited_slack_gets_the_true_state_and_one_answer(
    make_stack: Callable[..., LocalStack],
) -> None:
    stack = make_stack()
    channel, name = new_channel(stack)
    # The bot has read its installation from Slack before (it refuses payloads until it has).
    stack.driver().slash_command("help", user_id="U0ALICE", channel_id=channel, channel_name=name)
    assert wait_until(lambda: len(stack.standin.calls_to("auth.test")) > 0, PATIENCE)
    stack.standin.degrade(4, status=429, retry_after=1)
    stack.driver().slash_command("", user_id="U0ALICE", channel_id=channel, channel_name=name)
    assert stack.standin.wait_for(
        lambda: any(p["channel"] == channel for p in stack.standin.state.response_posts()), PATIENCE
    ), stack.log("bot")
    told = next(p for p in stack.standin.state.response_posts() if p["channel"] == channel)
    run_id = told["text"].split("run id `", 1)[1].split("`", 1)[0]
    assert told["text"] == SLACK_SLOW.format(run_id=run_id)
    _one_answer(stack, channel, timeout=PATIENCE)
    assert is_answer(bot_messages(stack, channel)[0])
