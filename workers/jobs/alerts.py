"""The alert drain job: one at a time (a Redis lock), it handles the inbox until it is empty.

A job that finds the lock taken ends at once: the holder looks at the inbox again after it lets go
of the lock, so an alert that arrived meanwhile is not left waiting for the next one."""

from __future__ import annotations

from collections import Counter
from typing import Any

from workers import runtime
from workers.alerts import inbox
from workers.alerts.config import load_rules
from workers.alerts.pipeline import Pipeline
from workers.jobs.context import bind_job

LOCK = "ic:alerts:drain_lock"
LOCK_TTL_S = 300  # renewed every batch; a dead worker's lock frees itself after this


def run(payload: dict[str, Any]) -> dict[str, Any]:
    """RQ entry point."""
    rt = runtime.current()
    run_id = str(payload.get("run_id", ""))
    with bind_job("alerts", run_id) as line:
        rules = load_rules(rt.settings.alerts.config_file)
        client = rt.redis.client
        outcomes: Counter[str] = Counter()
        while True:
            lock = client.lock(LOCK, timeout=LOCK_TTL_S)
            if not lock.acquire(blocking=False):
                line.update(outcome="another drain runs")
                break
            try:
                outcomes += Pipeline(rt, rules, run_id).drain(keepalive=lock.reacquire)
            finally:
                lock.release()
            if not inbox.backlog(client):
                line.update(outcome="drained")
                break
        line.update(**{f"alerts_{k}": v for k, v in outcomes.items()})
        return dict(outcomes)
