"""What every job needs, loaded once per worker process, before RQ forks its work horses.

RQ runs each job in a fresh fork of the worker. The fork inherits whatever the worker has imported
and cached; whatever it has not, every job loads again and throws away at exit. Loading the
Kubernetes and AWS clients added seconds to every triage with log sources configured. So the
worker, at start-up, imports the job modules and the configured sources' backends, compiles the
prompt templates, and builds each backend's client once (no request is sent), so each horse starts
with all of it in memory.
"""

from __future__ import annotations

import asyncio
import importlib
import time
from collections.abc import Callable, Sequence

import structlog

from workers import queue
from workers.evidence.config import CloudWatchConfig, SourceConfig
from workers.triage.engine import Engine

log = structlog.get_logger(__name__)


def preload(engine: Engine, sources: Sequence[SourceConfig]) -> float:
    """Load it all; the seconds it took. Nothing here reaches the network, and a source that cannot
    be pre-loaded is only logged: its jobs load it themselves and report what goes wrong."""
    started = time.monotonic()
    for func in [*queue.JOBS, queue.FAILURE_CALLBACK]:
        importlib.import_module(func.rsplit(".", 1)[0])  # what RQ imports to call the job
    engine.prompts.compile_all()
    if engine.llm is not None:
        importlib.import_module("openai.resources.chat")  # what the client loads on its first call
    for config in sources:
        try:
            _WARM[config.type](config)
        except Exception as exc:
            log.warning("log source not pre-loaded", source=config.name, error=f"{type(exc).__name__}: {exc}")
    return time.monotonic() - started


def _files(config: SourceConfig) -> None:
    importlib.import_module("workers.evidence.sources.files")


def _http(config: SourceConfig) -> None:
    """Loki and Elasticsearch: the shared TLS context, and an async client in a loop (httpx loads its
    transport, and anyio its asyncio backend, on first use)."""
    import anyio
    import httpx

    from workers.evidence.sources._http import tls_context

    module = "elasticsearch" if config.type in ("elasticsearch", "opensearch") else config.type
    importlib.import_module(f"workers.evidence.sources.{module}")

    async def touch() -> None:
        async with httpx.AsyncClient(verify=tls_context()):
            await anyio.sleep(0)

    asyncio.run(touch())


def _cloudwatch(config: SourceConfig) -> None:
    """botocore and the `logs` service: its model and endpoint rules load when a client is built. The
    credentials are placeholders, so the worker's own are not looked up (that may ask the network)."""
    assert isinstance(config, CloudWatchConfig)
    import botocore.session

    from workers.evidence.sources.cloudwatch import service_models

    session = botocore.session.Session()
    session.register_component("data_loader", service_models())
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


_WARM: dict[str, Callable[[SourceConfig], None]] = {
    "files": _files,
    "loki": _http,
    "elasticsearch": _http,
    "opensearch": _http,
    "cloudwatch": _cloudwatch,
    "kubernetes": _kubernetes,
}
