"""RQ queues and every job's options, in one place.

Payloads are JSON (pickle would let whoever writes to Redis run code in the worker). Only
idempotent jobs retry: a triage edits one message in place and a postmortem updates one draft,
so running either twice changes nothing; an action never runs twice on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import redis
from rq import Callback, Queue, Retry
from rq.job import Job
from rq.serializers import JSONSerializer

from workers.jobs import recover
from workers.models import PostmortemRequest, PostmortemTrigger, TriageRequest

TRIAGE, POSTMORTEM, ACTIONS = "triage", "postmortem", "actions"
ALERTS = "alerts"
ALL_QUEUES = (TRIAGE, POSTMORTEM, ACTIONS, ALERTS)


@dataclass(frozen=True)
class JobOptions:
    queue: str
    timeout_s: int
    retries: int
    result_ttl_s: int = 86400
    failure_ttl_s: int = 7 * 86400


JOBS: dict[str, JobOptions] = {
    "workers.jobs.triage.run": JobOptions(TRIAGE, timeout_s=180, retries=2),
    # Slack serves thread reads at about 50 a minute: a channel with hundreds of threads takes minutes.
    "workers.jobs.postmortem.run": JobOptions(POSTMORTEM, timeout_s=1800, retries=2),
    "workers.jobs.execute.run": JobOptions(ACTIONS, timeout_s=300, retries=0),  # never run twice on its own
    # Drains the alert inbox; alerts it took are kept in a processing list, so a retry finishes them.
    "workers.jobs.alerts.run": JobOptions(ALERTS, timeout_s=900, retries=2),
}

FAILURE_CALLBACK = "workers.jobs.failure.report_failure"


def queue(client: redis.Redis, name: str) -> Queue:
    return Queue(name, connection=client, serializer=JSONSerializer)


def enqueue(client: redis.Redis, func: str, payload: dict[str, object], job_id: str) -> Job:
    """Enqueue `func(payload)` under a deterministic id, so a repeated enqueue is one job."""
    opts = JOBS[func]
    job = queue(client, opts.queue).enqueue_call(
        func,
        args=[payload],
        job_id=job_id,
        timeout=opts.timeout_s,
        result_ttl=opts.result_ttl_s,
        failure_ttl=opts.failure_ttl_s,
        retry=Retry(max=opts.retries) if opts.retries else None,
        on_failure=Callback(FAILURE_CALLBACK),
        description=f"{func} {job_id}",
    )
    recover.track(client, job_id)
    return job


def enqueue_triage(client: redis.Redis, request: TriageRequest) -> Job:
    return enqueue(
        client, "workers.jobs.triage.run", request.model_dump(mode="json"), f"triage-{request.run_id}"
    )


def enqueue_postmortem(
    client: redis.Redis,
    incident_id: str,
    channel_id: str,
    trigger: PostmortemTrigger,
    user: str,
    run_id: str,
    summary: str = "",
) -> Job:
    """Queue the incident's postmortem job (the same for the command, the button and archiving)."""
    request = PostmortemRequest(
        run_id=run_id,
        incident_id=incident_id,
        channel_id=channel_id,
        trigger=trigger,
        requested_by=user,
        summary=summary,
        requested_at=datetime.now(UTC),
    )
    return enqueue(
        client, "workers.jobs.postmortem.run", request.model_dump(mode="json"), f"postmortem-{request.run_id}"
    )


def enqueue_execution(
    client: redis.Redis, proposal_id: str, run_id: str, *, undo: bool = False, by: str = ""
) -> Job:
    """One job per proposal (and one per undo): a repeated enqueue is the same job."""
    payload: dict[str, object] = {"run_id": run_id, "proposal_id": proposal_id, "undo": undo, "by": by}
    return enqueue(
        client, "workers.jobs.execute.run", payload, f"{'undo' if undo else 'execute'}-{proposal_id}"
    )
