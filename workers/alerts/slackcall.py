"""Slack writes from the alert pipeline: a `ratelimited` answer is waited out (its `Retry-After`) and
tried again, never dropped; an overall budget of writes per minute keeps a storm from flooding Slack."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import redis
from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse

from workers import metrics

ATTEMPTS = 8
WRITES_KEY = "ic:alerts:writes:"


def call(
    client: redis.Redis, method: Callable[..., SlackResponse], attempts: int = ATTEMPTS, **kwargs: Any
) -> SlackResponse:
    """`method(**kwargs)`, waiting out `ratelimited` answers (the client's own retries come first)."""
    for attempt in range(attempts):
        try:
            return method(**kwargs)
        except SlackApiError as exc:
            if exc.response.get("error") != "ratelimited" or attempt == attempts - 1:
                raise
            metrics.inc(client, "alert_slack_ratelimited", outcome="waited")
            time.sleep(min(30.0, _retry_after(exc.response.headers)))
    raise AssertionError("unreachable")


def may_write(client: redis.Redis, per_minute: int) -> bool:
    """Take one write from this minute's budget; False when it is spent (the caller defers)."""
    key = WRITES_KEY + str(int(time.time() // 60))
    with client.pipeline(transaction=False) as pipe:
        pipe.incr(key)
        pipe.expire(key, 120)
        used = int(pipe.execute()[0])
    return used <= per_minute


def _retry_after(headers: Any) -> float:
    for name, value in dict(headers or {}).items():
        if name.lower() == "retry-after":
            try:
                return max(0.0, float(value[0] if isinstance(value, list) else value))
            except (TypeError, ValueError):
                break
    return 1.0
