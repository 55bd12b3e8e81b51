"""RQ failure callback: tell the channel what failed, with the run id, once retries are spent."""

from __future__ import annotations

from types import TracebackType
from typing import Any

import structlog
from rq.exceptions import AbandonedJobError
from rq.job import Job
from rq.timeouts import JobTimeoutException
from slack_sdk.errors import SlackApiError

from workers import metrics, runtime
from workers.jobs.placeholder import stored_placeholder
from workers.jobs.reconcile import fail_stuck
from workers.slack import blocks

log = structlog.get_logger(__name__)


def describe(exc_type: type[BaseException], job: Job) -> str:
    if issubclass(exc_type, AbandonedJobError):
        return "the worker running it stopped before it finished"
    if issubclass(exc_type, JobTimeoutException):
        return f"it took longer than the {job.timeout} s limit"
    if issubclass(exc_type, SlackApiError):
        return "Slack refused the answer"
    return "an internal error (details are in the worker log under the run id)"


def report_failure(
    job: Job,
    connection: Any,
    exc_type: type[BaseException],
    exc_value: BaseException | None,
    tb: TracebackType | None,
) -> None:
    payload: dict[str, Any] = job.args[0] if job.args else {}
    run_id = str(payload.get("run_id", job.id))
    if job.retries_left:
        log.warning("job attempt failed; retrying", run_id=run_id, job_id=job.id, error=exc_type.__name__)
        return
    reason = describe(exc_type, job)
    metrics.inc(runtime.current().redis.client, "jobs", type=job.origin, outcome="failed")
    log.error("job failed", run_id=run_id, job_id=job.id, error=exc_type.__name__, reason=reason)
    if proposal_id := payload.get("proposal_id"):
        _fail_proposal(str(proposal_id), reason)
    channel = payload.get("channel_id")
    ts = payload.get("placeholder_ts") or stored_placeholder(runtime.current(), run_id)
    if not channel:
        return
    text, failure_blocks = blocks.failure(run_id, reason)
    slack = runtime.current().slack
    try:
        if ts:
            slack.chat_update(channel=channel, ts=ts, text=text, blocks=failure_blocks)
        else:
            slack.chat_postMessage(channel=channel, text=text, blocks=failure_blocks)
    except SlackApiError as exc:
        log.error(
            "could not report the failure to Slack", run_id=run_id, slack_error=exc.response.get("error")
        )


def _fail_proposal(proposal_id: str, reason: str) -> None:
    """An execution that crashed is failed, not left approved or executing: never retried on its own."""
    fail_stuck(runtime.current(), proposal_id, reason)
