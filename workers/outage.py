"""An RQ worker that rides out a Redis outage instead of exiting.

RQ's own loop retries only while waiting for a job; a heartbeat, a state change, a maintenance pass
or the bookkeeping around a job that meets a dead Redis ends the worker ("unhandled exception,
quitting"). Here each of those logs and carries on; a job whose bookkeeping failed is settled
once Redis is back (`workers.jobs.recover.settle_interrupted`: retried, failed visibly, or put
back on its queue), the worker waiting for Redis with exponential backoff before its next job.
"""

from __future__ import annotations

import time
from typing import Any

import redis
import structlog
from rq import Queue, Worker
from rq.job import Job

from workers.jobs.recover import settle_interrupted

log = structlog.get_logger(__name__)
OUTAGE_ERRORS = (redis.ConnectionError, redis.TimeoutError)
BACKOFF_START_S = 0.25
BACKOFF_CAP_S = 5.0


def wait_for_redis(conn: redis.Redis, stopping: Any = lambda: False) -> float:
    """Block until Redis answers a PING (or `stopping()`); the seconds waited."""
    started = time.monotonic()
    wait = BACKOFF_START_S
    while not stopping():
        try:
            conn.ping()
            break
        except redis.RedisError:
            time.sleep(wait)
            wait = min(wait * 2, BACKOFF_CAP_S)
    return time.monotonic() - started


class OutageTolerantWorker(Worker):
    """RQ's forking worker whose Redis bookkeeping survives an outage (see the module docstring)."""

    _outage_logged = False
    outage_seen = False  # whether this worker ever met an unreachable Redis

    def _outage(self, what: str, exc: BaseException) -> None:
        self.outage_seen = True
        if not self._outage_logged:
            log.warning("Redis unreachable; carrying on", worker=self.name, during=what, error=repr(exc))
            self._outage_logged = True

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        try:
            super().heartbeat(timeout, pipeline)
        except OUTAGE_ERRORS as exc:
            self._outage("heartbeat", exc)

    def maintain_heartbeats(self, job: Job, execution: Any) -> None:
        try:
            super().maintain_heartbeats(job, execution)
        except OUTAGE_ERRORS as exc:
            self._outage("job heartbeat", exc)

    def set_state(self, state: str, pipeline: Any = None) -> None:
        try:
            super().set_state(state, pipeline)
        except OUTAGE_ERRORS as exc:
            self._state = state
            self._outage("state change", exc)

    def check_for_suspension(self, burst: bool) -> None:
        try:
            super().check_for_suspension(burst)
        except OUTAGE_ERRORS as exc:
            self._outage("suspension check", exc)

    def run_maintenance_tasks(self) -> None:
        try:
            super().run_maintenance_tasks()  # type: ignore[no-untyped-call]
        except OUTAGE_ERRORS as exc:
            self._outage("maintenance", exc)

    def execute_job(self, job: Job, queue: Queue) -> None:
        try:
            super().execute_job(job, queue)
        except OUTAGE_ERRORS as exc:
            self._outage("job bookkeeping", exc)
            waited = wait_for_redis(self.connection, lambda: self._stop_requested)
            self._horse_pid = 0
            try:
                done = settle_interrupted(self.connection, job.id, queue.name)
            except redis.RedisError as again:  # gone again: the stranded-job check finds it later
                done = f"left for the maintenance pass ({again!r})"
            log.warning("Redis is back; the interrupted job was settled", worker=self.name,
                        job_id=job.id, waited_s=round(waited, 1), outcome=done)  # fmt: skip

    def dequeue_job_and_maintain_ttl(self, timeout: int | None, max_idle_time: int | None = None) -> Any:
        result = super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)
        if self._outage_logged:
            log.info("Redis reachable again", worker=self.name)
            self._outage_logged = False
        return result
