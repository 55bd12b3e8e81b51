"""Proposals stuck after a worker death: approved or executing, but with no execution job queued or
running any more (a worker killed after it took the job off the queue, a work horse killed
mid-action). They are moved to failed, audited, reported in the answer's thread and shown on the
board: never retried on its own. The bot checks every `INTERVAL_S` (an idle RQ worker wakes only
every few minutes), and every worker in its maintenance pass too; the move is a compare-and-set,
so whoever gets there first reports it, once.
"""

from __future__ import annotations

import threading
import time

import structlog
from rq.registry import StartedJobRegistry
from rq.serializers import JSONSerializer

from workers import audit, runtime
from workers.jobs.execute import post_in_thread
from workers.proposals.model import Proposal
from workers.proposals.store import INFLIGHT, ProposalStore
from workers.queue import ACTIONS, queue
from workers.slack.neutral import neutralize
from workers.slack.proposal_blocks import show_outcome

log = structlog.get_logger(__name__)
INTERVAL_S = 15.0
GRACE_S = 10.0  # a job between the queue and the started registry is there for milliseconds
LOST = "the execution job was lost (its worker stopped after taking it off the queue)"


def fail_stuck(rt: runtime.Runtime, proposal_id: str, reason: str) -> Proposal | None:
    """approved or executing → failed, audited and reported; None when it was not stuck."""

    def change(p: Proposal) -> Proposal | None:
        if p.state not in ("approved", "executing"):
            return None
        return p.model_copy(update={"state": "failed", "result": f"not completed: {reason}"})

    store = ProposalStore(rt.redis.client)
    before = store.get(proposal_id)
    after, moved = store.update(proposal_id, change)
    if after is None or not moved or before is None:
        return None
    audit.record(
        rt.redis.client,
        after.incident_id,
        "executed",
        by="bot",
        proposal=after.id,
        action=after.action.model_dump(mode="json"),
        result="failed",
        reason=f"{reason} (was {before.state}; never retried on its own)",
        proposed_under=after.policy_sha256,
    )
    post_in_thread(
        rt,
        after,
        f":x: `{neutralize(after.label())}` failed: {neutralize(reason)}. It was {before.state} and is not "
        "retried; check the target before approving it again.",
    )
    show_outcome(rt.slack, after)
    return after


def _alive(rt: runtime.Runtime, job_id: str) -> bool:
    """Whether the execution job is still queued or running somewhere."""
    client = rt.redis.client
    if job_id in queue(client, ACTIONS).get_job_ids():
        return True
    started = StartedJobRegistry(ACTIONS, connection=client, serializer=JSONSerializer)
    return job_id in started.get_job_ids(cleanup=False)


def reconcile(rt: runtime.Runtime, now: float | None = None) -> list[str]:
    """Fail every proposal stuck in approved or executing without a live job; their ids."""
    now = time.time() if now is None else now
    failed = []
    for proposal_id, since in ProposalStore(rt.redis.client).inflight():
        if now - since < GRACE_S or _alive(rt, f"execute-{proposal_id}"):
            continue
        if fail_stuck(rt, proposal_id, LOST) is not None:
            failed.append(proposal_id)
        else:
            rt.redis.client.zrem(INFLIGHT, proposal_id)  # decided meanwhile, or gone
    if failed:
        log.warning("stuck proposals failed", proposals=failed)
    return failed


def keep_reconciling(
    rt: runtime.Runtime, stop: threading.Event, interval: float = INTERVAL_S
) -> threading.Thread:
    """A daemon thread reconciling every `interval` seconds until `stop` is set."""

    def loop() -> None:
        while not stop.wait(interval):
            try:
                reconcile(rt)
            except Exception as exc:  # Redis or Slack down: the next pass retries
                log.error("reconciling stuck proposals failed", error=repr(exc))

    thread = threading.Thread(target=loop, name="reconcile", daemon=True)
    thread.start()
    return thread
