"""The Slack retry rule on its own clock: which answers are retried, how long it waits, and that no
wait starts that would end past the deadline."""

from __future__ import annotations

import itertools

import pytest
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from workers.slack.retry import SlackFaultRetryHandler

REQUEST = HttpRequest(method="POST", url="https://slack.example/api/chat.postMessage", headers={})


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def attempts(handler: SlackFaultRetryHandler, response: HttpResponse) -> int:
    """Retries the handler allows for a call that keeps getting `response`."""
    state = RetryState()
    retries = 0
    while handler.can_retry(state=state, request=REQUEST, response=response):
        handler.prepare_for_next_attempt(state=state, request=REQUEST, response=response)
        retries += 1
    return retries


def test_ratelimited_waits_retry_after_until_the_deadline() -> None:
    clock = Clock()
    handler = SlackFaultRetryHandler(10, clock=lambda: clock.now, sleep=clock.sleep)
    limited = HttpResponse(status_code=429, headers={"Retry-After": "3"})
    assert attempts(handler, limited) == 3
    assert clock.slept == [3.0, 3.0, 3.0] and clock.now <= 10


def test_server_errors_back_off_exponentially_within_the_deadline() -> None:
    clock = Clock()
    handler = SlackFaultRetryHandler(20, base_s=1, cap_s=8, clock=lambda: clock.now, sleep=clock.sleep)
    assert attempts(handler, HttpResponse(status_code=503, headers={})) >= 3
    assert all(later >= earlier * 0.5 for earlier, later in zip(clock.slept, clock.slept[1:], strict=False))
    assert max(clock.slept) <= 8 and clock.now <= 20


def test_the_wait_slept_is_the_one_checked_against_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Jitter draws alternate between shortest and longest: a wait re-drawn after the deadline check
    would be twice as long as the one that was checked (or, past the deadline, skipped as zero)."""
    draws = itertools.cycle([0.0, 1.0])
    monkeypatch.setattr("workers.slack.retry.random.random", lambda: next(draws))
    clock = Clock()
    handler = SlackFaultRetryHandler(6, base_s=1, cap_s=8, clock=lambda: clock.now, sleep=clock.sleep)
    assert attempts(handler, HttpResponse(status_code=503, headers={})) >= 3
    assert 0.0 not in clock.slept and clock.now <= 6, clock.slept


def test_other_answers_are_not_retried() -> None:
    clock = Clock()
    handler = SlackFaultRetryHandler(60, clock=lambda: clock.now, sleep=clock.sleep)
    for status in (200, 400, 404):
        assert attempts(handler, HttpResponse(status_code=status, headers={})) == 0
    assert clock.slept == []
