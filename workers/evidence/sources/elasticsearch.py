"""Elasticsearch and OpenSearch: a query-string search over the window, paged with `search_after`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from workers.evidence.model import LogLine, LogQuery, SourceResult
from workers.evidence.records import line_from_document
from workers.evidence.sources._http import BadResponse, collect, json_body

BACKEND = "Elasticsearch"


class ElasticsearchSource:
    """Logs from `POST /{index}/_search`; `query_template` is a Lucene query string with `{service}` in it.

    Hits are sorted by the timestamp field, then by `tiebreaker` (default `_doc`), and paged with
    `search_after` on those sort values.
    """

    def __init__(
        self,
        name: str,
        base_url: str,
        index: str,
        query_template: str,
        *,
        http: httpx.AsyncClient | None = None,
        timeout_s: float = 10,
        page_size: int = 1000,
        timestamp_field: str = "@timestamp",
        message_field: str = "message",
        tiebreaker: str = "_doc",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self._url = f"{base_url.rstrip('/')}/{quote(index, safe=',*')}/_search"
        self._template = query_template
        self._http = http
        self._timeout_s = timeout_s
        self._page_size = page_size
        self._timestamp_field = timestamp_field
        self._message_field = message_field
        self._tiebreaker = tiebreaker
        self._headers = {**(headers or {}), "Content-Type": "application/json"}

    def search_body(self, query: LogQuery) -> dict[str, Any]:
        """The first page's request body; later pages add `search_after`."""
        service = query.service.replace("\\", "\\\\").replace('"', '\\"')
        window = {
            "gte": _iso(query.window.start),
            "lt": _iso(query.window.end),
            "format": "strict_date_optional_time",
        }
        return {
            "size": self._page_size,
            "query": {
                "bool": {
                    "filter": [
                        {"query_string": {"query": self._template.replace("{service}", service)}},
                        {"range": {self._timestamp_field: window}},
                    ]
                }
            },
            "sort": [{self._timestamp_field: {"order": "asc"}}, {self._tiebreaker: {"order": "asc"}}],
            "track_total_hits": False,
        }

    async def fetch(self, query: LogQuery) -> SourceResult:
        body = self.search_body(query)
        first = json.dumps(body)

        async def pager(client: httpx.AsyncClient, lines: list[LogLine], notes: list[str]) -> None:
            request = first
            while True:
                response = await client.post(self._url, content=request, headers=self._headers)
                answer = json_body(response, BACKEND)
                hits = _hits(answer)
                _note_incomplete(answer, notes)
                for hit in hits:
                    if len(lines) >= query.max_lines:
                        notes.append(f"capped at {query.max_lines} lines")
                        return
                    lines.append(self._line(hit["_source"]))
                if len(hits) < self._page_size:
                    return
                request = json.dumps({**body, "search_after": hits[-1]["sort"]})

        return await collect(
            source=self.name,
            backend=BACKEND,
            query_text=first,
            window=query.window,
            timeout_s=self._timeout_s,
            http=self._http,
            pager=pager,
        )

    def _line(self, doc: Mapping[str, Any]) -> LogLine:
        return line_from_document(doc, self._message_field, self._timestamp_field, self.name)


def _hits(answer: Any) -> list[dict[str, Any]]:
    try:
        hits = answer["hits"]["hits"]
    except (KeyError, TypeError) as exc:
        raise BadResponse(f"unexpected response from {BACKEND}: no hits.hits") from exc
    if not isinstance(hits, list) or not all(_is_hit(hit) for hit in hits):
        raise BadResponse(f"unexpected response from {BACKEND}: a hit without _source or sort")
    return hits


def _is_hit(hit: Any) -> bool:
    return (
        isinstance(hit, dict) and isinstance(hit.get("_source"), dict) and isinstance(hit.get("sort"), list)
    )


def _note_incomplete(answer: dict[str, Any], notes: list[str]) -> None:
    """Notes, once each, a search that timed out or lost shards: its hits are only some of them."""
    shards = answer.get("_shards")
    shards = shards if isinstance(shards, dict) else {}
    found = []
    if answer.get("timed_out") is True:
        found.append(f"{BACKEND} search timed out, some hits missing")
    if isinstance(shards.get("failed"), int) and shards["failed"] > 0:
        found.append(f"{shards['failed']} of {shards.get('total', '?')} shards failed")
    notes.extend(note for note in found if note not in notes)


def _lookup(doc: Mapping[str, Any], field: str) -> Any:
    """A field by name, or by dotted path into nested objects (`log.level`)."""
    if field in doc:
        return doc[field]
    value: Any = doc
    for part in field.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
