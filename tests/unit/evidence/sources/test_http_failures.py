"""Backend trouble becomes a result with a note, never an exception: the same for every HTTP source."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest

from workers.evidence.model import LogSource
from workers.evidence.sources.elasticsearch import ElasticsearchSource
from workers.evidence.sources.loki import LokiSource

from .conftest import QUERY, Servers, closed_port, reply, reset

Make = Callable[[str, httpx.AsyncClient | None, float], LogSource]


def loki(url: str, http: httpx.AsyncClient | None, timeout_s: float) -> LogSource:
    return LokiSource("loki", url, '{app="{service}"}', http=http, timeout_s=timeout_s)


def elasticsearch(url: str, http: httpx.AsyncClient | None, timeout_s: float) -> LogSource:
    return ElasticsearchSource("es", url, "logs-*", 'service:"{service}"', http=http, timeout_s=timeout_s)


BACKENDS = [pytest.param(loki, "Loki", id="loki"), pytest.param(elasticsearch, "Elasticsearch", id="es")]


@pytest.mark.asyncio
@pytest.mark.parametrize(("make", "backend"), BACKENDS)
@pytest.mark.parametrize("injected", [True, False], ids=["injected-client", "own-client"])
async def test_a_hanging_server_is_a_timeout(
    servers: Servers, http: httpx.AsyncClient, make: Make, backend: str, injected: bool
) -> None:
    started = time.monotonic()

    result = await make(servers.start(servers.hang), http if injected else None, 0.3).fetch(QUERY)

    assert time.monotonic() - started < 60  # cut by its timeout, not by the server's 120 s hang
    assert (result.status, result.note, result.lines) == ("error", "timeout after 0.3 s", [])
    assert result.gap() == f"{result.source}: timeout after 0.3 s, window 10:40–11:10"
    assert 0.3 <= result.elapsed_s < 60


@pytest.mark.asyncio
@pytest.mark.parametrize(("make", "backend"), BACKENDS)
@pytest.mark.parametrize(
    ("status", "body", "hint"),
    [
        (500, "boom: store unavailable\nmore detail", ": boom: store unavailable"),
        (502, "<html><body>Bad Gateway</body></html>", ""),
        (503, "", ""),
        (
            429,
            '{"status": "error", "error": "too many outstanding requests"}',
            ": too many outstanding requests",
        ),
    ],
)
async def test_http_errors_are_named_with_their_status(
    servers: Servers, http: httpx.AsyncClient, make: Make, backend: str, status: int, body: str, hint: str
) -> None:
    url = servers.start(lambda handler, _: reply(handler, status, body))

    result = await make(url, http, 5).fetch(QUERY)

    assert (result.status, result.note) == ("error", f"HTTP {status} from {backend}{hint}")


@pytest.mark.asyncio
@pytest.mark.parametrize(("make", "backend"), BACKENDS)
@pytest.mark.parametrize("body", [b"not json {", b"\xff\xfe\x00garbage", b""])
async def test_garbage_json_is_an_error(
    servers: Servers, http: httpx.AsyncClient, make: Make, backend: str, body: bytes
) -> None:
    url = servers.start(lambda handler, _: reply(handler, 200, body, "application/json"))

    result = await make(url, http, 5).fetch(QUERY)

    assert (result.status, result.note) == ("error", f"invalid JSON from {backend}")


@pytest.mark.asyncio
@pytest.mark.parametrize(("make", "backend"), BACKENDS)
async def test_a_reset_connection_is_an_error(
    servers: Servers, http: httpx.AsyncClient, make: Make, backend: str
) -> None:
    result = await make(servers.start(reset), http, 5).fetch(QUERY)

    assert result.status == "error"
    assert result.note in (
        f"request to {backend} failed: ReadError",
        f"request to {backend} failed: Server disconnected without sending a response.",
    )


@pytest.mark.asyncio
@pytest.mark.parametrize(("make", "backend"), BACKENDS)
async def test_nothing_listening_is_an_error(http: httpx.AsyncClient, make: Make, backend: str) -> None:
    result = await make(closed_port(), http, 5).fetch(QUERY)

    assert (result.status, result.note) == (
        "error",
        f"cannot connect to {backend}: All connection attempts failed",
    )


@pytest.mark.asyncio
@pytest.mark.parametrize(("make", "backend"), BACKENDS)
async def test_the_injected_client_still_works_after_a_timeout(
    servers: Servers, http: httpx.AsyncClient, make: Make, backend: str
) -> None:
    await make(servers.start(servers.hang), http, 0.2).fetch(QUERY)

    answer = await http.get(servers.start(lambda handler, _: reply(handler, 200, "fine")))

    assert (answer.status_code, answer.text) == (200, "fine")
    assert not http.is_closed
