"""structlog, configured once per process.

JSON lines when the output is not a terminal (or `LOG_FORMAT=json`), readable console output on a
terminal. Context is bound per request and per job with `structlog.contextvars`; every event passes
the redaction processor last, so no token reaches a log line whatever a caller put in it.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable, Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any, TextIO

import structlog

from workers.redaction import Redactor
from workers.settings import Settings


class RedactProcessor:
    """Masks secrets in every string value of an event dict, keys included in nested structures."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self._redactor = Redactor.with_secrets(secrets)

    def __call__(self, _logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        for key, value in list(event.items()):
            event[key] = self._clean(value)
        return event

    def _clean(self, value: Any) -> Any:
        if isinstance(value, str):
            return self._redactor.redact(value)
        if isinstance(value, dict):
            return {k: self._clean(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._clean(v) for v in value]
        return value


def secret_values(settings: Settings) -> list[str]:
    values = [settings.slack.bot_token, settings.slack.signing_secret, settings.slack.app_token]
    values += [settings.llm.api_key, settings.redis.url]
    values += [settings.executors.webhook_secret, settings.executors.kubernetes_token]
    return [v.get_secret_value() for v in values if v is not None]


def configure_logging(settings: Settings, stream: TextIO | None = None) -> None:
    """Set up structlog and route the stdlib loggers (rq, slack_bolt, waitress) through it."""
    stream = stream or sys.stderr
    fmt = settings.log.format
    use_json = fmt == "json" or (fmt == "auto" and not stream.isatty())
    level = getattr(logging, settings.log.level.upper())
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info if use_json else structlog.processors.StackInfoRenderer(),
        RedactProcessor(secret_values(settings)),
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=stream.isatty())
    )
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared[:-1],
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        wrapper_class=structlog.stdlib.BoundLogger,
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared[:-1],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            shared[-1],
            renderer,
        ],
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in (
        "urllib3", "slack_sdk.web.base_client", "waitress.queue", "httpx", "httpcore", "openai",
        "botocore", "boto3", "kubernetes", "bm25s",
    ):  # fmt: skip
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


@contextmanager
def unit_of_work(event: str, **context: Any) -> Iterator[dict[str, Any]]:
    """Bind `context` to every log line inside the block and write one canonical `event` line at
    the end with the fields the caller put in the yielded dict, the outcome and the duration."""
    structlog.contextvars.bind_contextvars(**context)
    line: dict[str, Any] = {}
    started = time.monotonic()
    try:
        yield line
    except Exception as exc:
        line.update(outcome="error", error=type(exc).__name__)
        raise
    finally:
        line.setdefault("outcome", "ok")
        line["duration_ms"] = round((time.monotonic() - started) * 1000, 1)
        logger = structlog.get_logger("canonical")
        (logger.error if line["outcome"] == "error" else logger.info)(event, **line)
        structlog.contextvars.unbind_contextvars(*context)
