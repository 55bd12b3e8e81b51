"""Queueing a triage when Redis or Slack is misbehaving, and telling the user exactly what happened.

After the ack the listener may take a few seconds: a Redis that stops answering mid-enqueue is
retried (a job already stored is not queued twice) until `ENQUEUE_DEADLINE_S`, so a user is told
"nothing was queued" only when that is certain, and "I could not confirm" when it is not.
"""

from __future__ import annotations

import time

import redis
import structlog
from rq.job import Job

from bot.deps import BotDeps
from workers.models import TriageRequest
from workers.queue import enqueue_triage

log = structlog.get_logger(__name__)
ENQUEUE_DEADLINE_S = 15.0

SLACK_SLOW = (
    ":hourglass_flowing_sand: Queued (run id `{run_id}`), but Slack is rate-limiting me or failing "
    "right now, so I could not post the placeholder. A worker will post the answer in this channel "
    "as soon as Slack lets it."
)
UNCONFIRMED = (
    ":warning: My job queue (Redis) stopped answering while I queued this run, so I can't tell whether "
    "it was queued. If it was, its answer will replace the triage message; if nothing changes within a "
    "few minutes, run `/triage` again. Run id `{run_id}`."
)


def enqueue_confirmed(
    deps: BotDeps, request: TriageRequest, deadline_s: float = ENQUEUE_DEADLINE_S
) -> Job | None:
    """Queue the triage (and record its run on the incident); None when Redis never confirmed it."""
    job_id = f"triage-{request.run_id}"
    give_up = time.monotonic() + deadline_s
    wait = 0.25
    while True:
        try:
            if Job.exists(job_id, connection=deps.redis):
                job = Job.fetch(job_id, connection=deps.redis)
            else:
                job = enqueue_triage(deps.redis, request)
            if request.placeholder_ts:
                deps.incidents.record_triage(request.incident_id, request.run_id, request.placeholder_ts)
            return job
        except redis.RedisError as exc:
            if time.monotonic() + wait > give_up:
                log.error("triage not confirmed as queued", run_id=request.run_id, error=repr(exc))
                return None
            time.sleep(wait)
            wait = min(wait * 2, 2.0)
