"""Finding jobs that a killed worker took off the queue before RQ recorded it running them.

RQ pops a job (BLPOP, or BLMOVE into an intermediate list) and only then adds it to the started
registry; a worker SIGKILLed in between leaves a job that is queued by status and in no list or
registry, so nothing would ever run it. Every job we enqueue is kept in `TRACKED` until it ends;
a maintenance pass requeues one that has been in that state for `GRACE_S` (the gap is
milliseconds for a live worker). A worker that lost Redis around a job settles it itself once
Redis is back (`settle_interrupted`). Jobs in the started registry are RQ's to recover (a dead work
horse on this host, or an expired heartbeat elsewhere: see `workers.worker`).
"""

from __future__ import annotations

import time

import redis
import structlog
from rq import Queue
from rq.job import JobStatus
from rq.registry import StartedJobRegistry
from rq.serializers import JSONSerializer

from workers.redisconn import as_text

log = structlog.get_logger(__name__)
TRACKED = "ic:jobs:tracked"  # job id → when it was enqueued
MISSING = "ic:jobs:missing"  # job id → when a pass first found it queued yet nowhere
GRACE_S = 15.0  # milliseconds for a live worker, seconds for a loaded one; a requeue too soon runs it twice
_LIVE = {s.value for s in (JobStatus.QUEUED, JobStatus.DEFERRED, JobStatus.SCHEDULED, JobStatus.STARTED)}


def track(client: redis.Redis, job_id: str) -> None:
    client.zadd(TRACKED, {job_id: time.time()})


def requeue_stranded(client: redis.Redis, now: float | None = None) -> list[str]:
    """Requeue (at the head of their queue) jobs stranded between the queue and the started
    registry for longer than `GRACE_S`; forget jobs that ended. Returns the ids requeued."""
    now = time.time() if now is None else now
    ids = [as_text(j) for j in client.zrange(TRACKED, 0, -1) if isinstance(j, bytes | str)]
    if not ids:
        return []
    with client.pipeline(transaction=False) as pipe:
        for job_id in ids:
            pipe.hmget(f"rq:job:{job_id}", "status", "origin")
        states = pipe.execute()
    requeued: list[str] = []
    for job_id, (status, origin) in zip(ids, states, strict=True):
        status, queue = as_text(status), as_text(origin)
        if status not in _LIVE:
            client.zrem(TRACKED, job_id)
            client.hdel(MISSING, job_id)
        elif _stranded(client, job_id, status, queue):
            first = client.hget(MISSING, job_id)
            if first is None:
                client.hset(MISSING, job_id, now)
            elif now - float(first) >= GRACE_S and _requeue(client, job_id, queue):
                requeued.append(job_id)
        else:
            client.hdel(MISSING, job_id)
    if requeued:
        log.warning("requeued jobs a stopped worker had taken off the queue", jobs=requeued)
    return requeued


def settle_interrupted(client: redis.Redis, job_id: str, queue: str) -> str:
    """Once Redis is back, a job whose worker lost Redis around its run (its work horse is gone):
    run but not recorded as ended → handed to RQ's abandoned-job handling (retried, or failed and
    reported); never started → its execution record dropped and the job put back at the head of its
    queue. Returns what was done."""
    registry = _started(client, queue)
    mine = [f"{j}:{e}" for j, e in registry.get_job_and_execution_ids(cleanup=False) if j == job_id]
    status = as_text(client.hget(f"rq:job:{job_id}", "status"))
    if status == JobStatus.STARTED.value and mine:
        client.zadd(registry.key, dict.fromkeys(mine, 0), xx=True)
        registry.cleanup()
        return "abandoned"
    if status in (JobStatus.QUEUED.value, JobStatus.STARTED.value):
        if mine:
            client.zrem(registry.key, *mine)
        if not _somewhere(client, job_id, queue):
            client.hset(f"rq:job:{job_id}", "status", JobStatus.QUEUED.value)
            client.lpush(Queue(queue, connection=client).key, job_id)
            return "requeued"
    return "untouched"


def _stranded(client: redis.Redis, job_id: str, status: str, queue: str) -> bool:
    """Queued but in no list, or started but with no execution record: nothing will ever run it."""
    if status == JobStatus.QUEUED.value:
        return not _somewhere(client, job_id, queue)
    if status == JobStatus.STARTED.value:
        started = _started(client, queue).get_job_and_execution_ids(cleanup=False)
        return all(j != job_id for j, _e in started)
    return False


def _started(client: redis.Redis, queue: str) -> StartedJobRegistry:
    return StartedJobRegistry(queue, connection=client, serializer=JSONSerializer)


def _somewhere(client: redis.Redis, job_id: str, queue: str) -> bool:
    """Waiting in its queue or RQ's intermediate list (a queued job in the started registry is a
    half-made execution whose work horse never ran it: not somewhere)."""
    q = Queue(queue, connection=client)
    return client.lpos(q.key, job_id) is not None or client.lpos(q.intermediate_queue_key, job_id) is not None


def _requeue(client: redis.Redis, job_id: str, queue: str) -> bool:
    """Put the job back unless someone else just did (the MISSING entry is the claim)."""
    if not client.hdel(MISSING, job_id):
        return False
    return settle_interrupted(client, job_id, queue) == "requeued"
