"""What the HTTP log sources share: a client for one fetch, one deadline, and failures turned into notes."""

from __future__ import annotations

import asyncio
import functools
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx

from workers.evidence.model import LogLine, SourceResult, SourceStatus, TimeWindow

_HINT_CHARS = 200

# Fetches pages into `lines`; appends a note for each reason the answer is incomplete.
Pager = Callable[[httpx.AsyncClient, list[LogLine], list[str]], Awaitable[None]]


class BadResponse(Exception):
    """The backend answered, but not in the documented shape; the message is the note to show."""


def json_body(response: httpx.Response, backend: str) -> Any:
    """The response's JSON, after raising `httpx.HTTPStatusError` for a non-2xx status."""
    response.raise_for_status()
    try:
        return response.json()
    except ValueError as exc:
        raise BadResponse(f"invalid JSON from {backend}") from exc


async def collect(
    *,
    source: str,
    backend: str,
    query_text: str,
    window: TimeWindow,
    timeout_s: float,
    http: httpx.AsyncClient | None,
    pager: Pager,
) -> SourceResult:
    """Run `pager` under one deadline; any backend trouble becomes a note, never an exception."""
    started = time.monotonic()
    lines: list[LogLine] = []
    notes: list[str] = []
    status: SourceStatus
    try:
        async with _client(http, timeout_s) as client, asyncio.timeout(timeout_s):
            await pager(client, lines, notes)
    except (TimeoutError, httpx.HTTPError, BadResponse) as exc:
        notes.append(_describe(exc, backend, timeout_s))
        status = "partial" if lines else "error"
    else:
        status = "partial" if notes else "ok" if lines else "empty"
    return SourceResult(
        source=source,
        status=status,
        query=query_text,
        window=window,
        lines=lines,
        note="; ".join(notes),
        elapsed_s=time.monotonic() - started,
    )


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The CA bundle httpx would load for every client (a tenth of a second each), loaded once per process."""
    return httpx.create_ssl_context()


@asynccontextmanager
async def _client(http: httpx.AsyncClient | None, timeout_s: float) -> AsyncIterator[httpx.AsyncClient]:
    if http is not None:
        yield http
        return
    async with httpx.AsyncClient(timeout=timeout_s, verify=tls_context()) as client:
        yield client


def _describe(exc: Exception, backend: str, timeout_s: float) -> str:
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return f"timeout after {timeout_s:g} s"
    if isinstance(exc, httpx.HTTPStatusError):
        return f"HTTP {exc.response.status_code} from {backend}{_hint(exc.response)}"
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect to {backend}: {exc}"
    if isinstance(exc, httpx.HTTPError):  # some (a reset connection's ReadError) have no message
        return f"request to {backend} failed: {str(exc) or type(exc).__name__}"
    return str(exc)


def _hint(response: httpx.Response) -> str:
    """The first line of the error the backend gave, when it is short plain text or a JSON error."""
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):  # Elasticsearch: the root cause says more than "all shards failed"
        causes = error.get("root_cause")
        cause = causes[0] if isinstance(causes, list) and causes and isinstance(causes[0], dict) else error
        error = cause.get("reason")
    text = error if isinstance(error, str) else response.text
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    if not first or first.startswith("<"):  # nothing, or an HTML error page
        return ""
    return f": {first[:_HINT_CHARS]}"
