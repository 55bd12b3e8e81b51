"""A worker with every log source type configured loads their clients before it forks: the work
horse that runs a job finds them in memory instead of loading them again."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import redis
from rq import Queue
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from bot.localstack import LocalStack
from tests.integration.conftest import PATIENCE, wait_until
from workers.queue import TRIAGE

SOURCES = """default_service: shop
sources:
  - {name: app, type: files, paths: ["/nonexistent/{service}.log"]}
  - {name: loki, type: loki, url: "http://127.0.0.1:9", query: '{app="{service}"}'}
  - {name: es, type: elasticsearch, url: "http://127.0.0.1:9", index: logs, query: "*"}
  - {name: cw, type: cloudwatch, log_group: "/svc/{service}", endpoint_url: "http://127.0.0.1:9"}
  - {name: kube, type: kubernetes, namespace: shop, selector: "app={service}"}
"""

# What a triage with these sources needs, and no part of the worker imports for its own sake.
PRELOADED = [
    "workers.jobs.triage",
    "workers.jobs.postmortem",
    "workers.jobs.execute",
    "workers.evidence.sources.files",
    "workers.evidence.sources.loki",
    "workers.evidence.sources.elasticsearch",
    "workers.evidence.sources.cloudwatch",
    "workers.evidence.sources.kubernetes",
    "kubernetes.client",
    "botocore.client",
    "httpcore",
]


def test_a_forked_job_finds_every_source_client_loaded(
    make_stack: Callable[..., LocalStack], tmp_path: Path
) -> None:
    sources = tmp_path / "sources.yaml"
    sources.write_text(SOURCES)
    repo = str(Path(__file__).resolve().parents[2])  # so the worker can import the probe job
    stack = make_stack(env={"EVIDENCE_SOURCES_FILE": str(sources), "PYTHONPATH": repo})
    client = redis.Redis.from_url(stack.redis_url)
    try:
        queue = Queue(TRIAGE, connection=client, serializer=JSONSerializer)
        job = queue.enqueue_call("tests.support.horse_probe.loaded", args=[PRELOADED], result_ttl=600)
        done = wait_until(
            lambda: job.get_status(refresh=True) in (JobStatus.FINISHED, JobStatus.FAILED), PATIENCE
        )
        assert done and job.get_status() == JobStatus.FINISHED, stack.log("worker-0")
        found = Job.fetch(job.id, connection=client, serializer=JSONSerializer).return_value()
    finally:
        client.close()
    assert found is not None
    assert found["ppid"] == stack.workers[0].pid  # it ran in a fork of the worker
    assert [name for name, present in found["modules"].items() if not present] == []
    assert found["caches"] == {"tls_context": 1, "service_models": 1}
