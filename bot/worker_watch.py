"""A placeholder that would otherwise spin for good: when no worker has taken a triage job after
`NO_WORKER_AFTER_S` and none serves its queue, the placeholder says so. The worker that takes the
job later edits it as usual."""

from __future__ import annotations

import contextlib
import threading

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


def watch_placeholder(
    client: WebClient,
    conn: redis.Redis,
    job: Job,
    channel: str,
    ts: str,
    run_id: str,
    after_s: float = NO_WORKER_AFTER_S,
) -> threading.Timer:
    """Check once, `after_s` from now, that the job was taken or a worker serves its queue."""
    timer = threading.Timer(after_s, _check, (client, conn, job, channel, ts, run_id))
    timer.daemon = True
    timer.start()
    return timer


def _check(client: WebClient, conn: redis.Redis, job: Job, channel: str, ts: str, run_id: str) -> None:
    try:
        if job.get_status(refresh=True) != JobStatus.QUEUED or workers_by_queue(conn)[TRIAGE] > 0:
            return
    except redis.RedisError:
        return  # Redis trouble is reported where it happens; this check stays quiet
    text = NO_WORKER.format(queue=TRIAGE)
    log.warning("no worker serves the queue", queue=TRIAGE, run_id=run_id, channel=channel)
    with contextlib.suppress(SlackApiError):
        client.chat_update(
            channel=channel,
            ts=ts,
            text=text,
            blocks=[blocks.section(f":hourglass: {text}"), blocks.context(f"run id `{run_id}`")],
        )
