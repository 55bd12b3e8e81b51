"""What every job needs, loaded once per worker process, before RQ forks its work horses.

RQ runs each job in a fresh fork of the worker. The fork inherits whatever the worker has imported
and cached; whatever it has not, every job loads again and throws away at exit. Importing the
Kubernetes and AWS clients and building their first client took 5–7 s of every triage with log
sources configured, against 0.1 s once loaded. So the worker, at start-up, imports the job modules
and the configured sources' backends, compiles the prompt templates, and builds each client once
(no request is sent), so each horse starts with all of it in memory.
"""

from __future__ import annotations

import asyncio
import importlib
import time
from collections.abc import Callable

import anyio
import botocore.session
import httpx

from workers import queue
from workers.evidence.config import CloudWatchConfig, SourceConfig
from workers.evidence.sources._http import tls_context
from workers.runtime import EvidenceDeps
from workers.triage.engine import Engine


def preload(engine: Engine, evidence: EvidenceDeps | None) -> float:
    """Load it all; the seconds it took. Nothing here reaches the network."""
    started = time.monotonic()
    for func in [*queue.JOBS, queue.FAILURE_CALLBACK]:
        importlib.import_module(func.rsplit(".", 1)[0])  # what RQ imports to call the job
    engine.prompts.compile_all()
    if engine.llm is not None:
        importlib.import_module("openai.resources.chat")  # what the client loads on its first call
    for config in evidence.sources.sources if evidence is not None else []:
        _WARM[config.type](config)
    return time.monotonic() - started


def _httpx(config: SourceConfig) -> None:
    """Loki and Elasticsearch: an async client (httpx loads its transport on first use) in a loop
    (anyio loads its asyncio backend on first use)."""
    importlib.import_module(f"workers.evidence.sources.{_MODULE[config.type]}")

    async def touch() -> None:
        async with httpx.AsyncClient(verify=tls_context()):
            await anyio.sleep(0)

    asyncio.run(touch())


def _cloudwatch(config: SourceConfig) -> None:
    """boto3 and the `logs` service: its model and endpoint rules load when a client is built. The
    credentials are placeholders, so the worker's own are not looked up (that may ask the network)."""
    assert isinstance(config, CloudWatchConfig)
    from workers.evidence.sources import cloudwatch

    session = botocore.session.Session()
    session.register_component("data_loader", cloudwatch.service_models())
    client = session.create_client(
        "logs",
        region_name=config.region,
        endpoint_url=config.endpoint_url,
        aws_access_key_id="warm-up",
        aws_secret_access_key="warm-up",
    )
    client.close()


def _kubernetes(config: SourceConfig) -> None:
    """The Kubernetes client: its API and every model class load with the package."""
    importlib.import_module("workers.evidence.sources.kubernetes")


def _files(config: SourceConfig) -> None:
    importlib.import_module("workers.evidence.sources.files")


_MODULE = {"loki": "loki", "elasticsearch": "elasticsearch", "opensearch": "elasticsearch"}
_WARM: dict[str, Callable[[SourceConfig], None]] = {
    "files": _files,
    "loki": _httpx,
    "elasticsearch": _httpx,
    "opensearch": _httpx,
    "cloudwatch": _cloudwatch,
    "kubernetes": _kubernetes,
}
