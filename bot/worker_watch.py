"""A placeholder that would otherwise spin for good: when no worker has taken a triage job after
`NO_WORKER_AFTER_S` and none serves its queue, the placeholder says so. The worker that takes the
job later edits it as usual."""

from __future__ import annotations

import contextlib
import heapq
import itertools
import threading
import time
from collections.abc import Callable

import redis
import structlog
from rq.job import Job, JobStatus
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from workers.liveness import workers_by_queue
from workers.queue import TRIAGE
from workers.slack import blocks

NO_WORKER_AFTER_S = 15.0
NO_WORKER = (
    "No worker is serving the `{queue}` queue, so this triage is waiting: it runs as soon as one "
    "starts. Admins: start one with `incident-copilot worker` (or check the workers' deployment)."
)

log = structlog.get_logger("bot.worker_watch")


class _Watcher:
    """One thread for every pending check (a burst of /triage must not start a thread each)."""

    def __init__(self) -> None:
        self._due: list[tuple[float, int, Callable[[], None]]] = []
        self._count = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def at(self, due: float, check: Callable[[], None]) -> None:
        with self._wake:
            heapq.heappush(self._due, (due, next(self._count), check))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="worker-watch", daemon=True)
                self._thread.start()
            self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._due or self._due[0][0] > time.monotonic():
                    self._wake.wait(self._due[0][0] - time.monotonic() if self._due else None)
                _, _, check = heapq.heappop(self._due)
            try:
                check()
            except Exception as exc:  # one failed check never stops the others
                log.error("placeholder check failed", error=repr(exc))


_watcher = _Watcher()


def watch_placeholder(
    client: WebClient,
    conn: redis.Redis,
    job: Job,
    channel: str,
    ts: str,
    run_id: str,
    after_s: float = NO_WORKER_AFTER_S,
) -> None:
    """Check once, `after_s` from now, that the job was taken or a worker serves its queue."""
    _watcher.at(time.monotonic() + after_s, lambda: _check(client, conn, job, channel, ts, run_id))


def _check(client: WebClient, conn: redis.Redis, job: Job, channel: str, ts: str, run_id: str) -> None:
    try:
        if job.get_status(refresh=True) != JobStatus.QUEUED or workers_by_queue(conn)[TRIAGE] > 0:
            return
    except Exception:
        return
    text = NO_WORKER.format(queue=TRIAGE)
    log.warning("no worker serves the queue", queue=TRIAGE, run_id=run_id, channel=channel)
    with contextlib.suppress(SlackApiError, OSError):
        client.chat_update(
            channel=channel,
            ts=ts,
            text=text,
            blocks=[blocks.section(f":hourglass: {text}"), blocks.context(f"run id `{run_id}`")],
        )
