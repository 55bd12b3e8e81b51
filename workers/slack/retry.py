"""Retrying Slack's transient refusals: `ratelimited` (HTTP 429, after its `Retry-After`) and 5xx
answers (exponential backoff with jitter), until a deadline measured from the first refusal. A wait
that would end past the deadline is not started: the call fails with Slack's own error at once, so
the caller can tell the user the true state instead of hanging."""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

_STARTED = "slack_fault_started"
_NEXT_WAIT = "slack_fault_next_wait"  # drawn once when deciding to retry, slept in the next attempt
DEFAULT_RETRY_AFTER_S = 1.0


def is_transient(status: int) -> bool:
    """Slack answers that a later identical call may not get: rate limited, or a server fault."""
    return status == 429 or status >= 500


class SlackFaultRetryHandler(RetryHandler):
    def __init__(
        self,
        deadline_s: float,
        *,
        base_s: float = 0.5,
        cap_s: float = 8.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(max_retry_count=1_000)  # the deadline bounds the retries, not a count
        self.deadline_s = deadline_s
        self.base_s = base_s
        self.cap_s = cap_s
        self._clock = clock
        self._sleep = sleep

    def _wait(self, state: RetryState, response: HttpResponse) -> float | None:
        """How long to wait before the next attempt; None when it would end past the deadline."""
        if state.custom_values is None:
            state.custom_values = {}
        started: float = state.custom_values.setdefault(_STARTED, self._clock())
        if response.status_code == 429:
            wait = _retry_after(response)
        else:
            backoff = min(self.cap_s, self.base_s * 2**state.current_attempt)
            wait = backoff * (0.5 + random.random() / 2)
        return wait if self._clock() - started + wait <= self.deadline_s else None

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is None or not is_transient(response.status_code):
            return False
        wait = self._wait(state, response)
        assert state.custom_values is not None  # set by _wait
        state.custom_values[_NEXT_WAIT] = wait
        return wait is not None

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        assert response is not None  # only called after _can_retry said yes
        state.next_attempt_requested = True
        # The very wait checked against the deadline: a fresh jitter draw could cross it.
        values = state.custom_values or {}
        wait = values.pop(_NEXT_WAIT, None)
        self._sleep(wait if wait is not None else self._wait(state, response) or 0.0)
        state.increment_current_attempt()


def _retry_after(response: HttpResponse) -> float:
    for name, values in response.headers.items():
        if name.lower() == "retry-after":
            value = values[0] if isinstance(values, list) else values
            try:
                return max(0.0, float(value))
            except ValueError:
                break
    return DEFAULT_RETRY_AFTER_S
