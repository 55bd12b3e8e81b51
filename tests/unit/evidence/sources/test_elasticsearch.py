from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from workers.evidence.model import LogQuery
from workers.evidence.sources.elasticsearch import ElasticsearchSource

from .conftest import QUERY, WINDOW, Handler, Servers, reply_json

SORT = [{"@timestamp": {"order": "asc"}}, {"_doc": {"order": "asc"}}]


def _millis(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


class FakeSearch:
    """`_search` as documented: query_string + range filter, sort, `size`, and `search_after`."""

    def __init__(
        self, docs: list[dict[str, Any]], *, index: str = "logs-app", ts: str = "@timestamp", **extra: Any
    ) -> None:
        self.docs = docs
        self.index, self.ts = index, ts
        self.extra = extra  # merged into every answer, e.g. _shards
        self.bodies: list[bytes] = []
        self.headers: list[dict[str, str]] = []

    def __call__(self, handler: Handler, body: bytes) -> None:
        assert handler.command == "POST"
        assert handler.path == f"/{self.index}/_search"
        self.bodies.append(body)
        self.headers.append(dict(handler.headers))
        request = json.loads(body)
        query_string, window = request["query"]["bool"]["filter"]
        assert query_string == {"query_string": {"query": 'service:"checkout"'}}
        assert request["sort"] == [{self.ts: {"order": "asc"}}, {"_doc": {"order": "asc"}}]
        gte, lt = _millis(window["range"][self.ts]["gte"]), _millis(window["range"][self.ts]["lt"])
        keyed = sorted(
            ((_millis(doc[self.ts]), position), doc)
            for position, doc in enumerate(self.docs)
            if gte <= _millis(doc[self.ts]) < lt
        )
        after = tuple(request.get("search_after", ()))
        page = [(key, doc) for key, doc in keyed if not after or key > after][: request["size"]]
        hits = [
            {"_index": self.index, "_id": f"id{key[1]}", "_score": None, "_source": doc, "sort": list(key)}
            for key, doc in page
        ]
        answer = {
            "took": 3,
            "timed_out": False,
            "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
            "hits": {"max_score": None, "hits": hits},
        }
        reply_json(handler, {**answer, **self.extra})


def _doc(i: int, at: datetime, **fields: Any) -> dict[str, Any]:
    return {"@timestamp": at.isoformat().replace("+00:00", "Z"), "message": f"line {i}", **fields}


def source(url: str, http: httpx.AsyncClient | None, **options: Any) -> ElasticsearchSource:
    options.setdefault("timeout_s", 120)  # generous: a busy machine is not what these tests measure
    return ElasticsearchSource("es", url, "logs-app", 'service:"{service}"', http=http, **options)


@pytest.mark.asyncio
async def test_pages_with_search_after_without_losing_or_repeating_a_line(
    servers: Servers, http: httpx.AsyncClient
) -> None:
    docs = [_doc(i, WINDOW.start + timedelta(milliseconds=i // 7)) for i in range(12_345)]
    fake = FakeSearch(docs)

    result = await source(servers.start(fake), http, page_size=1000).fetch(QUERY)

    assert (result.status, result.note) == ("ok", "")
    assert [line.text for line in result.lines] == [f"line {i}" for i in range(12_345)]
    assert Counter(line.ts for line in result.lines) == Counter(
        WINDOW.start + timedelta(milliseconds=i // 7) for i in range(12_345)
    )
    assert len(fake.bodies) == 13
    assert all(json.loads(body)["size"] == 1000 for body in fake.bodies)
    assert "search_after" not in json.loads(fake.bodies[0])
    assert json.loads(fake.bodies[1])["search_after"] == [_millis(docs[999]["@timestamp"]), 999]


@pytest.mark.asyncio
async def test_query_is_the_exact_first_request_body(servers: Servers, http: httpx.AsyncClient) -> None:
    fake = FakeSearch([])

    result = await source(servers.start(fake), http).fetch(QUERY)

    assert result.status == "empty"
    assert result.query == fake.bodies[0].decode()
    assert json.loads(result.query) == {
        "size": 1000,
        "query": {
            "bool": {
                "filter": [
                    {"query_string": {"query": 'service:"checkout"'}},
                    {
                        "range": {
                            "@timestamp": {
                                "gte": "2026-03-14T10:40:00.000Z",
                                "lt": "2026-03-14T11:10:00.000Z",
                                "format": "strict_date_optional_time",
                            }
                        }
                    },
                ]
            }
        },
        "sort": SORT,
        "track_total_hits": False,
    }
    assert fake.headers[0]["Content-Type"] == "application/json"


@pytest.mark.asyncio
async def test_window_edges_and_fields(servers: Servers, http: httpx.AsyncClient) -> None:
    docs = [
        _doc(0, WINDOW.start - timedelta(milliseconds=1)),
        _doc(1, WINDOW.start, level="error", log={"logger": "db", "origin": {"line": 12}}, tags=["a"]),
        _doc(2, WINDOW.end - timedelta(milliseconds=1), status=503, ok=False, trace=None),
        _doc(3, WINDOW.end),
    ]

    result = await source(servers.start(FakeSearch(docs)), http).fetch(QUERY)

    assert [line.text for line in result.lines] == ["line 1", "line 2"]
    first, second = result.lines
    assert (first.ts, first.source) == (WINDOW.start, "es")
    assert first.labels == {"log.logger": "db", "log.origin.line": "12"}
    assert first.level == "error"
    assert second.labels == {"status": "503", "ok": "false"}


@pytest.mark.asyncio
async def test_custom_timestamp_and_nested_message_fields(servers: Servers, http: httpx.AsyncClient) -> None:
    docs = [
        {"ts": "2026-03-14T11:41:00.5+01:00", "event": {"original": "raw text"}, "host": "h1"},
        {"ts": "2026-03-14T10:41:00Z", "host": "h2"},  # no message: the whole document stands in
    ]
    es = source(
        servers.start(FakeSearch(docs, ts="ts")), http, timestamp_field="ts", message_field="event.original"
    )

    result = await es.fetch(QUERY)

    assert [line.text for line in result.lines] == [json.dumps(docs[1]), "raw text"]
    assert [line.labels for line in result.lines] == [{"host": "h2"}, {"host": "h1"}]
    assert result.lines[1].ts == WINDOW.start + timedelta(minutes=1, milliseconds=500)


@pytest.mark.asyncio
async def test_cap_at_max_lines_is_partial(servers: Servers, http: httpx.AsyncClient) -> None:
    docs = [_doc(i, WINDOW.start + timedelta(seconds=i)) for i in range(300)]

    result = await source(servers.start(FakeSearch(docs)), http, page_size=100).fetch(
        LogQuery("checkout", WINDOW, max_lines=250)
    )

    assert (result.status, result.note) == ("partial", "capped at 250 lines")
    assert [line.text for line in result.lines] == [f"line {i}" for i in range(250)]


@pytest.mark.asyncio
async def test_failed_shards_and_search_timeout_make_it_partial(
    servers: Servers, http: httpx.AsyncClient
) -> None:
    docs = [_doc(i, WINDOW.start + timedelta(seconds=i)) for i in range(5)]
    shards = {"total": 5, "successful": 3, "skipped": 0, "failed": 2}
    fake = FakeSearch(docs, _shards=shards, timed_out=True)

    result = await source(servers.start(fake), http, page_size=2).fetch(QUERY)

    assert len(result.lines) == 5
    assert result.status == "partial"
    assert result.note == "Elasticsearch search timed out, some hits missing; 2 of 5 shards failed"


@pytest.mark.asyncio
async def test_error_reason_is_taken_from_the_root_cause(servers: Servers, http: httpx.AsyncClient) -> None:
    error = {
        "error": {
            "root_cause": [{"type": "query_shard_exception", "reason": "Failed to parse query [service:(]"}],
            "type": "search_phase_execution_exception",
            "reason": "all shards failed",
        },
        "status": 400,
    }
    url = servers.start(lambda handler, body: reply_json(handler, error, status=400))

    result = await source(url, http).fetch(QUERY)

    assert (result.status, result.note) == (
        "error",
        "HTTP 400 from Elasticsearch: Failed to parse query [service:(]",
    )


@pytest.mark.asyncio
async def test_headers_and_escaped_service(servers: Servers, http: httpx.AsyncClient) -> None:
    seen: list[tuple[str, str]] = []

    def check(handler: Handler, body: bytes) -> None:
        query = json.loads(body)["query"]["bool"]["filter"][0]["query_string"]["query"]
        seen.append((query, handler.headers["Authorization"]))
        reply_json(handler, {"hits": {"hits": []}})

    es = source(servers.start(check), http, headers={"Authorization": "ApiKey k"})

    result = await es.fetch(LogQuery('a"b\\c', WINDOW))

    assert result.status == "empty"
    assert seen == [('service:"a\\"b\\\\c"', "ApiKey k")]


@pytest.mark.asyncio
async def test_hit_without_sort_values_is_an_error(servers: Servers, http: httpx.AsyncClient) -> None:
    answer = {"hits": {"hits": [{"_id": "1", "_source": {"message": "x"}}]}}
    url = servers.start(lambda handler, body: reply_json(handler, answer))

    result = await source(url, http).fetch(QUERY)

    assert (result.status, result.note) == (
        "error",
        "unexpected response from Elasticsearch: a hit without _source or sort",
    )


@pytest.mark.asyncio
async def test_without_an_injected_client_it_makes_and_closes_its_own(servers: Servers) -> None:
    docs = [_doc(i, WINDOW.start) for i in range(3)]

    result = await source(servers.start(FakeSearch(docs)), None).fetch(QUERY)

    assert (result.status, len(result.lines)) == ("ok", 3)
