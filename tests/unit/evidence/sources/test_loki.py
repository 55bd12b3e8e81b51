from __future__ import annotations

from collections import Counter
from datetime import timedelta
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from workers.evidence.model import LogQuery
from workers.evidence.sources.loki import LokiSource, from_ns, to_ns

from .conftest import QUERY, WINDOW, Handler, Servers, reply, reply_json

START, END = to_ns(WINDOW.start), to_ns(WINDOW.end)
Entry = tuple[int, dict[str, str], str]


class FakeLoki:
    """`query_range` as Loki documents it: entries in [start, end), oldest first, at most `limit`."""

    def __init__(self, entries: list[Entry], expected_query: str = '{app="checkout"}') -> None:
        self.entries = sorted(entries, key=lambda e: e[0])
        self.expected_query = expected_query
        self.requests: list[dict[str, str]] = []
        self.headers: list[dict[str, str]] = []

    def __call__(self, handler: Handler, body: bytes) -> None:
        url = urlsplit(handler.path)
        assert url.path == "/loki/api/v1/query_range"
        params = dict(parse_qsl(url.query))
        self.requests.append(params)
        self.headers.append(dict(handler.headers))
        assert params["query"] == self.expected_query
        assert params["direction"] == "forward"
        start, end, limit = int(params["start"]), int(params["end"]), int(params["limit"])
        selected = [e for e in self.entries if start <= e[0] < end][:limit]
        streams: dict[tuple[tuple[str, str], ...], list[list[str]]] = {}
        for ns, labels, line in selected:
            streams.setdefault(tuple(sorted(labels.items())), []).append([str(ns), line])
        result = [{"stream": dict(key), "values": values} for key, values in reversed(streams.items())]
        reply_json(handler, {"status": "success", "data": {"resultType": "streams", "result": result}})


def many_entries(count: int, per_ns: int) -> list[Entry]:
    """`count` distinct lines over three streams, `per_ns` of them at each nanosecond."""
    return [
        (START + (i // per_ns) * 1_000_000, {"app": "checkout", "pod": f"p{i % 3}"}, f"line {i}")
        for i in range(count)
    ]


@pytest.mark.asyncio
async def test_pages_through_ties_without_losing_or_repeating_a_line(
    servers: Servers, http: httpx.AsyncClient
) -> None:
    entries = many_entries(12_345, per_ns=7)  # 7 per ns: page ends fall inside a nanosecond
    fake = FakeLoki(entries)
    source = LokiSource(
        "loki", servers.start(fake), '{app="{service}"}', http=http, page_limit=1000, timeout_s=120
    )

    result = await source.fetch(QUERY)

    assert (result.status, result.note) == ("ok", "")
    assert len(result.lines) == 12_345
    assert Counter(line.text for line in result.lines) == Counter(e[2] for e in entries)
    times = [line.ts for line in result.lines]
    assert times == sorted(times)  # type: ignore[type-var]
    got = {line.text: (line.ts, line.labels) for line in result.lines}
    assert got == {text: (from_ns(ns), labels) for ns, labels, text in entries}
    assert len(fake.requests) >= 13
    assert all(int(r["limit"]) == 1000 for r in fake.requests)
    assert fake.requests[0]["start"] == str(START) and fake.requests[0]["end"] == str(END)
    assert not http.is_closed  # an injected client is the caller's to close


@pytest.mark.asyncio
async def test_window_is_start_inclusive_end_exclusive(servers: Servers, http: httpx.AsyncClient) -> None:
    labels = {"app": "checkout"}
    entries = [(START - 1, labels, "before"), (START, labels, "first"), (END - 1, labels, "last")]
    entries.append((END, labels, "after"))
    source = LokiSource(
        "loki", servers.start(FakeLoki(entries)), '{app="{service}"}', http=http, timeout_s=120
    )

    result = await source.fetch(QUERY)

    assert [line.text for line in result.lines] == ["first", "last"]
    assert result.lines[0].ts == WINDOW.start
    assert result.lines[0].labels == {"app": "checkout"}
    assert result.lines[0].source == "loki"
    assert result.query == '{app="checkout"}'


@pytest.mark.asyncio
async def test_cap_at_max_lines_is_partial(servers: Servers, http: httpx.AsyncClient) -> None:
    entries = many_entries(3000, per_ns=4)
    source = LokiSource(
        "loki",
        servers.start(FakeLoki(entries)),
        '{app="{service}"}',
        http=http,
        page_limit=700,
        timeout_s=120,
    )

    result = await source.fetch(LogQuery("checkout", WINDOW, max_lines=2500))

    assert (result.status, result.note) == ("partial", "capped at 2500 lines")
    assert Counter(line.text for line in result.lines) == Counter(e[2] for e in entries[:2500])


@pytest.mark.asyncio
async def test_exactly_max_lines_is_not_capped(servers: Servers, http: httpx.AsyncClient) -> None:
    source = LokiSource(
        "loki", servers.start(FakeLoki(many_entries(50, 1))), '{app="{service}"}', http=http, timeout_s=120
    )

    result = await source.fetch(LogQuery("checkout", WINDOW, max_lines=50))

    assert (result.status, len(result.lines)) == ("ok", 50)


@pytest.mark.asyncio
async def test_more_lines_in_one_nanosecond_than_a_page_skips_on_with_a_note(
    servers: Servers, http: httpx.AsyncClient
) -> None:
    crowded = [(START + 5, {"app": "checkout"}, f"same {i}") for i in range(25)]
    entries = [*crowded, (START + 6, {"app": "checkout"}, "after the crowd")]
    source = LokiSource(
        "loki", servers.start(FakeLoki(entries)), '{app="{service}"}', http=http, page_limit=10, timeout_s=120
    )

    result = await source.fetch(QUERY)

    assert result.status == "partial"
    assert result.note == f"over 10 lines at {from_ns(START + 5).isoformat()}, some skipped"
    assert [line.text for line in result.lines] == [f"same {i}" for i in range(10)] + ["after the crowd"]


@pytest.mark.asyncio
async def test_nothing_matched_is_empty(servers: Servers, http: httpx.AsyncClient) -> None:
    source = LokiSource("loki", servers.start(FakeLoki([])), '{app="{service}"}', http=http, timeout_s=120)

    result = await source.fetch(QUERY)

    assert (result.status, result.lines, result.note, result.gap()) == ("empty", [], "", None)


@pytest.mark.asyncio
async def test_tenant_and_headers_are_sent_with_every_page(servers: Servers, http: httpx.AsyncClient) -> None:
    fake = FakeLoki(many_entries(30, 1))
    source = LokiSource(
        "loki",
        servers.start(fake) + "/",
        '{app="{service}"}',
        http=http,
        page_limit=10,
        headers={"Authorization": "Bearer t0ken"},
        tenant="team-a",
        timeout_s=120,
    )

    result = await source.fetch(QUERY)

    assert len(result.lines) == 30
    assert len(fake.headers) == 4
    assert all(h["X-Scope-OrgID"] == "team-a" and h["Authorization"] == "Bearer t0ken" for h in fake.headers)


@pytest.mark.asyncio
async def test_service_is_escaped_inside_the_logql_string(servers: Servers, http: httpx.AsyncClient) -> None:
    fake = FakeLoki([], expected_query='{app="we\\"ird\\\\name"}')
    source = LokiSource("loki", servers.start(fake), '{app="{service}"}', http=http, timeout_s=120)

    result = await source.fetch(LogQuery('we"ird\\name', WINDOW))

    assert result.status == "empty"
    assert result.query == '{app="we\\"ird\\\\name"}'


@pytest.mark.asyncio
async def test_without_an_injected_client_it_makes_and_closes_its_own(servers: Servers) -> None:
    source = LokiSource(
        "loki", servers.start(FakeLoki(many_entries(5, 1))), '{app="{service}"}', timeout_s=120
    )

    result = await source.fetch(QUERY)

    assert (result.status, len(result.lines)) == ("ok", 5)


@pytest.mark.asyncio
async def test_metric_query_answer_is_an_error(servers: Servers, http: httpx.AsyncClient) -> None:
    def matrix(handler: Handler, body: bytes) -> None:
        reply_json(handler, {"status": "success", "data": {"resultType": "matrix", "result": []}})

    source = LokiSource(
        "loki", servers.start(matrix), 'rate({app="{service}"}[1m])', http=http, timeout_s=120
    )

    result = await source.fetch(QUERY)

    assert result.status == "error"
    assert result.note == "unexpected response from Loki: matrix result, not log streams"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "payload",
    [{"status": "success"}, {"data": {"resultType": "streams", "result": [{"values": [["1", "x"]]}]}}],
)
async def test_malformed_answer_is_an_error(
    servers: Servers, http: httpx.AsyncClient, payload: dict[str, object]
) -> None:
    source = LokiSource(
        "loki", servers.start(lambda h, b: reply_json(h, payload)), "{}", http=http, timeout_s=120
    )

    result = await source.fetch(QUERY)

    assert result.status == "error"
    assert result.note.startswith("unexpected response from Loki: ")


@pytest.mark.asyncio
async def test_failure_after_some_pages_keeps_them_as_partial(
    servers: Servers, http: httpx.AsyncClient
) -> None:
    fake = FakeLoki(many_entries(25, 1))

    def fails_on_third_page(handler: Handler, body: bytes) -> None:
        if len(fake.requests) == 2:
            reply(handler, 400, "max entries limit per query exceeded, limit > max_entries_limit (10 > 5)\n")
            return
        fake(handler, body)

    source = LokiSource(
        "loki",
        servers.start(fails_on_third_page),
        '{app="{service}"}',
        http=http,
        page_limit=10,
        timeout_s=120,
    )

    result = await source.fetch(QUERY)

    assert result.status == "partial"
    assert [line.text for line in result.lines] == [f"line {i}" for i in range(19)]  # pages overlap by one
    assert (
        result.note
        == "HTTP 400 from Loki: max entries limit per query exceeded, limit > max_entries_limit (10 > 5)"
    )
    assert result.gap() == f"loki: {result.note}, window 10:40–11:10"


def test_nanoseconds_round_trip() -> None:
    moment = WINDOW.start + timedelta(microseconds=123_456)
    assert to_ns(moment) == 1_773_484_800_123_456_000
    assert from_ns(to_ns(moment) + 999) == moment


@pytest.mark.asyncio
async def test_timeout_after_some_pages_keeps_them_as_partial(
    servers: Servers, http: httpx.AsyncClient
) -> None:
    fake = FakeLoki(many_entries(25, 1))

    def hangs_on_second_page(handler: Handler, body: bytes) -> None:
        if fake.requests:
            servers.hang(handler, body)
            return
        fake(handler, body)

    url = servers.start(hangs_on_second_page)
    source = LokiSource("loki", url, '{app="{service}"}', http=http, page_limit=10, timeout_s=5)

    result = await source.fetch(QUERY)

    assert (result.status, result.note) == ("partial", "timeout after 5 s")
    assert [line.text for line in result.lines] == [f"line {i}" for i in range(10)]
