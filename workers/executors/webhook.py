"""Runbook automation over a webhook (Rundeck, StackStorm, a CI workflow dispatch): one HMAC-signed
POST per approved action. The receiver verifies `X-Copilot-Signature: v1=<hex>`, the HMAC-SHA256 of
`<timestamp>.<body>` under the shared secret, and rejects stale timestamps."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable

import httpx

from workers.errors import ExecutorError
from workers.executors.base import ActionRequest, Outcome, Plan, Verification


def signature(secret: bytes, timestamp: str, body: bytes) -> str:
    return "v1=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


class WebhookExecutor:
    kinds = frozenset({"run_runbook"})

    def __init__(
        self,
        url: str,
        secret: bytes,
        http: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.url = url
        self.secret = secret
        self.http = http or httpx.Client(timeout=15.0)
        self.clock = clock

    def _body(self, action: ActionRequest) -> bytes:
        payload = {
            "proposal_id": action.proposal_id,
            "action": action.action,
            "target": action.target,
            "params": action.params,
            "requested_by": action.requested_by,
        }
        return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()

    def dry_run(self, action: ActionRequest) -> Plan:
        return Plan([f"POST {self.url} (HMAC-signed)", f"body: {self._body(action).decode()}"])

    def execute(self, action: ActionRequest) -> Outcome:
        body = self._body(action)
        stamp = str(int(self.clock()))
        headers = {
            "Content-Type": "application/json",
            "X-Copilot-Timestamp": stamp,
            "X-Copilot-Signature": signature(self.secret, stamp, body),
        }
        try:
            resp = self.http.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise ExecutorError(f"runbook endpoint unreachable: {type(exc).__name__}") from exc
        if resp.status_code // 100 != 2:
            return Outcome(False, f"runbook endpoint answered HTTP {resp.status_code}: {resp.text[:200]}")
        run = ""
        try:
            answer = resp.json()
            run = str(answer.get("id") or answer.get("run_id") or "") if isinstance(answer, dict) else ""
        except ValueError:
            pass
        return Outcome(True, f"runbook accepted (HTTP {resp.status_code}{', run ' + run if run else ''})")

    def verify(self, action: ActionRequest, outcome: Outcome) -> Verification:
        return Verification(outcome.ok, "the endpoint acknowledged the run" if outcome.ok else outcome.detail)

    def undo(self, action: ActionRequest, outcome: Outcome) -> Outcome | None:
        return None  # a runbook run is not undone by the bot
