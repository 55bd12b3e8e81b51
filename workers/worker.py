"""`incident-copilot worker`: an RQ worker on the triage, postmortem and actions queues.

SIGTERM (or Ctrl-C) is a warm shutdown: the current job finishes, then the worker exits. A job
whose process died (SIGKILL, OOM) is found by the next worker on the same host at start-up and
every maintenance pass, and handed to RQ's abandoned-job handling: retried if it is idempotent,
otherwise failed and reported in the channel. On another host RQ finds it once its heartbeat
expires (20 s after the last one). A job a worker popped and died before starting is requeued
(`workers.jobs.recover`); a Redis outage is ridden out, not fatal (`workers.outage`).
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import redis
import structlog
from rq import Queue, Worker
from rq.executions import Execution
from rq.job import Job
from rq.registry import StartedJobRegistry
from rq.serializers import JSONSerializer

from workers import queue as queues
from workers import retention, runtime, warmup
from workers.jobs.reconcile import reconcile
from workers.jobs.recover import requeue_stranded
from workers.outage import OutageTolerantWorker, wait_for_redis
from workers.redisconn import connect
from workers.settings import Settings

log = structlog.get_logger(__name__)
# Every worker, busy or idle, looks for dead workers' jobs this often (an idle one wakes from its
# blocking pop every WORKER_TTL_S - 15 s); a job whose worker stops heartbeating (every
# JOB_MONITORING_S) is abandoned HEARTBEAT_GRACE_S later. Together: recovered well within a minute.
MAINTENANCE_INTERVAL_S = 10
WORKER_TTL_S = 25
JOB_MONITORING_S = 5
HEARTBEAT_GRACE_S = 15
# How often RQ's command listener (stop, kill-horse) wakes; RQ's 60 s held a warm shutdown that long.
COMMAND_POLL_S = 1.0


def _pid_alive(pid: int) -> bool:
    """True while `pid` runs here; a zombie (killed, not yet reaped by its new parent) is dead."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


def _owner(conn: redis.Redis, job: Job, execution_id: str) -> tuple[str, int] | None:
    """(host, pid) of the process running the job: the work horse if it marked the job, else its worker."""
    if "pid" in job.meta:
        return str(job.meta.get("host", "")), int(job.meta["pid"])
    try:
        execution = Execution.fetch(execution_id, job.id, connection=conn)
    except ValueError:
        return None
    worker = Worker.find_by_key(Worker.redis_worker_namespace_prefix + execution.worker_name, connection=conn)
    if worker is None or worker.pid is None:
        return None
    return str(worker.hostname), int(worker.pid)


def expire_dead_executions(conn: redis.Redis, names: Sequence[str]) -> list[str]:
    """Mark jobs whose process on this host is gone as expired, then let RQ clean them up."""
    host = socket.gethostname()
    found: list[str] = []
    for name in names:
        registry = StartedJobRegistry(name, connection=conn, serializer=JSONSerializer)
        for job_id, execution_id in registry.get_job_and_execution_ids(cleanup=False):
            try:
                job = Job.fetch(job_id, connection=conn, serializer=JSONSerializer)
            except Exception:
                continue
            owner = _owner(conn, job, execution_id)
            if owner is None or owner[0] != host or _pid_alive(owner[1]):
                continue
            conn.zadd(registry.key, {f"{job_id}:{execution_id}": 0}, xx=True)
            found.append(job_id)
        if found:
            registry.cleanup()
    if found:
        log.warning("requeued or failed jobs whose process died", jobs=found)
    return found


class CopilotWorker(OutageTolerantWorker):
    """RQ's forking worker that survives Redis outages, plus the same-host crash check, the
    stranded-job check, the stuck-proposal reconciler and the retention sweep in every maintenance
    pass, and a knowledge
    index and policy refreshed before each fork so every work horse starts with them current (a
    rejected policy edit is logged once, here)."""

    max_connection_wait_time = 5  # RQ's backoff while Redis is down when waiting for a job

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        """RQ adds 60 s; a dead worker's job should be found well within a minute."""
        remaining = (job.timeout or 0) - working_time if job.timeout and job.timeout > 0 else JOB_MONITORING_S
        return int(min(remaining, JOB_MONITORING_S)) + HEARTBEAT_GRACE_S

    def subscribe(self) -> None:
        """RQ's command listener, waking every COMMAND_POLL_S. A warm shutdown unsubscribes, then joins
        the listener; one that already saw the unsubscription waits out its whole poll first."""
        self.log.info("Worker %s: subscribing to channel %s", self.name, self.pubsub_channel_name)
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        self.pubsub_thread = self.pubsub.run_in_thread(  # type: ignore[assignment]  # RQ types it as None
            sleep_time=COMMAND_POLL_S, daemon=True, exception_handler=self._pubsub_exception_handler
        )

    def bootstrap(self, *args: Any, **kwargs: Any) -> None:
        """Registered first (so the worker holds its Redis connection from the start), then warmed up:
        what every job needs is loaded here, once, before the first fork."""
        super().bootstrap(*args, **kwargs)
        rt = runtime.current()
        preloaded_s = warmup.preload(rt.engine, rt.evidence.sources.sources if rt.evidence else [])
        log.info("worker warm", worker=self.name, preloaded_s=round(preloaded_s, 3))

    def fork_work_horse(self, job: Job, queue: Queue) -> None:
        rt = runtime.current()
        _ = rt.ladder.policy
        with contextlib.suppress(redis.RedisError):
            rt.knowledge.refresh()
        super().fork_work_horse(job, queue)

    def run_maintenance_tasks(self) -> None:
        try:
            expire_dead_executions(self.connection, self.queue_names())
            requeue_stranded(self.connection)
        except redis.RedisError as exc:
            log.error("recovering dead workers' jobs failed", error=repr(exc))
        super().run_maintenance_tasks()
        rt = runtime.current()
        try:
            _ = rt.ladder.policy
            reconcile(rt)
        except Exception as exc:  # a maintenance pass never stops the worker; the next one retries
            log.error("reconciling stuck proposals failed", error=repr(exc))
        try:
            retention.sweep(self.connection, rt.settings.retention)
        except redis.RedisError as exc:
            log.error("retention sweep failed", error=repr(exc))


def _answers(conn: redis.Redis) -> bool:
    try:
        return bool(conn.ping())
    except redis.RedisError:
        return False


def run_worker(settings: Settings, names: Sequence[str] = queues.ALL_QUEUES, burst: bool = False) -> bool:
    rt = runtime.Runtime.build(settings, worker=True)
    runtime.install(rt)
    conn = rt.redis.client
    worked = False
    try:
        while True:
            worker = CopilotWorker(
                [Queue(n, connection=conn, serializer=JSONSerializer) for n in names],
                connection=conn,
                serializer=JSONSerializer,
                maintenance_interval=MAINTENANCE_INTERVAL_S,
                job_monitoring_interval=JOB_MONITORING_S,
                worker_ttl=WORKER_TTL_S,
            )
            log.info("worker starting", queues=list(names), worker=worker.name, pid=os.getpid())
            try:
                level = settings.log.level.upper()
                worked |= worker.work(burst=burst, with_scheduler=False, logging_level=level)
            except redis.RedisError as exc:  # its start or its teardown met the outage
                log.warning("worker loop ended by Redis", error=repr(exc))
                worker.outage_seen = True
            stopped = worker._stop_requested or worker._shutdown_requested_date is not None
            if burst or stopped or not (worker.outage_seen or not _answers(conn)):
                # Done, SIGTERM / SIGINT (RQ sets no flag when it stops an idle worker), or an
                # error that is not Redis going away: exit as RQ would.
                return worked
            # RQ's loop ended on an error it does not retry during an outage: start again once Redis answers.
            log.warning("worker loop ended; restarting it when Redis answers", worker=worker.name)
            wait_for_redis(conn)
    finally:
        rt.close()


def probe_worker(settings: Settings) -> int:
    """0 when Redis answers and RQ lists a worker of this host (its key expires when heartbeats stop)."""
    try:
        handle = connect(settings.redis)
    except Exception as exc:  # a probe reports, it never raises
        print(f"not live: Redis: {exc}")
        return 1
    try:
        host = socket.gethostname()
        mine = [w.name for w in Worker.all(connection=handle.client) if w.hostname == host]
    except redis.RedisError as exc:
        print(f"not live: Redis: {exc}")
        return 1
    finally:
        handle.close()
    print(f"live: {', '.join(mine)}" if mine else f"not live: no worker registered for {host}")
    return 0 if mine else 1
