"""Alertmanager silences through its v2 API: create one for the alert's service (and alert name),
check it is active, and expire it for Undo."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from workers.errors import ExecutorError
from workers.executors.base import ActionRequest, Outcome, Plan, Verification

DEFAULT_DURATION = "1h"
MAX_DURATION = timedelta(hours=24)
_DURATION = re.compile(r"^(\d{1,4})([mh])$")


def duration(text: str) -> timedelta:
    found = _DURATION.match(text.strip().lower())
    if not found:
        raise ExecutorError(f"duration {text!r} is not like 30m or 2h")
    amount, unit = int(found.group(1)), found.group(2)
    span = timedelta(minutes=amount) if unit == "m" else timedelta(hours=amount)
    if not timedelta(minutes=1) <= span <= MAX_DURATION:
        raise ExecutorError(f"duration {text!r} must be between 1m and 24h")
    return span


class AlertmanagerExecutor:
    kinds = frozenset({"silence_alert"})

    def __init__(
        self, base_url: str, http: httpx.Client | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self.url = base_url.rstrip("/")
        self.http = http or httpx.Client(timeout=10.0)
        self.clock = clock

    def _silence(self, action: ActionRequest) -> dict[str, Any]:
        start = datetime.fromtimestamp(self.clock(), tz=UTC)
        end = start + duration(action.params.get("duration", DEFAULT_DURATION))
        matchers = [{"name": "service", "value": action.target, "isRegex": False, "isEqual": True}]
        if alertname := action.params.get("alertname"):
            matchers.append({"name": "alertname", "value": alertname, "isRegex": False, "isEqual": True})
        return {
            "matchers": matchers,
            "startsAt": start.isoformat(),
            "endsAt": end.isoformat(),
            "createdBy": f"incident-copilot for {action.requested_by or 'unknown'}",
            "comment": f"approved proposal {action.proposal_id}",
        }

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            resp = self.http.request(method, f"{self.url}{path}", **kwargs)
        except httpx.HTTPError as exc:
            raise ExecutorError(f"Alertmanager at {self.url} unreachable: {type(exc).__name__}") from exc
        if resp.status_code // 100 != 2:
            raise ExecutorError(f"Alertmanager answered HTTP {resp.status_code}: {resp.text[:200]}")
        return resp

    def dry_run(self, action: ActionRequest) -> Plan:
        s = self._silence(action)
        matchers = ", ".join(f"{m['name']}={m['value']}" for m in s["matchers"])
        return Plan([f"create a silence on {self.url} matching {matchers}", f"until {s['endsAt']}"])

    def execute(self, action: ActionRequest) -> Outcome:
        answer = self._call("POST", "/api/v2/silences", json=self._silence(action)).json()
        silence = str(answer.get("silenceID", ""))
        if not silence:
            return Outcome(False, f"Alertmanager returned no silence id: {str(answer)[:200]}")
        return Outcome(True, f"silence {silence} created", undo_token=silence)

    def state(self, silence: str) -> str:
        return str(self._call("GET", f"/api/v2/silence/{silence}").json().get("status", {}).get("state", ""))

    def verify(self, action: ActionRequest, outcome: Outcome) -> Verification:
        state = self.state(outcome.undo_token)
        return Verification(state == "active", f"silence {outcome.undo_token} is {state or 'missing'}")

    def undo(self, action: ActionRequest, outcome: Outcome) -> Outcome | None:
        self._call("DELETE", f"/api/v2/silence/{outcome.undo_token}")
        state = self.state(outcome.undo_token)
        return Outcome(state == "expired", f"silence {outcome.undo_token} is {state}")
