"""The alert drain job: one at a time (a Redis lock), it handles the inbox until it is empty."""

from __future__ import annotations

from typing import Any

from workers import runtime
from workers.alerts.config import load_rules
from workers.alerts.pipeline import Pipeline
from workers.jobs.context import bind_job

LOCK = "ic:alerts:drain_lock"
LOCK_TTL_S = 960


def run(payload: dict[str, Any]) -> dict[str, Any]:
    """RQ entry point."""
    rt = runtime.current()
    run_id = str(payload.get("run_id", ""))
    with bind_job("alerts", run_id) as line:
        rules = load_rules(rt.settings.alerts.config_file)
        lock = rt.redis.client.lock(LOCK, timeout=LOCK_TTL_S, blocking_timeout=LOCK_TTL_S)
        if not lock.acquire():
            raise TimeoutError("another alert drain held the lock too long")
        try:
            outcomes = Pipeline(rt, rules, run_id).drain()
        finally:
            lock.release()
        line.update(outcome="drained", **{f"alerts_{k}": v for k, v in outcomes.items()})
        return dict(outcomes)
