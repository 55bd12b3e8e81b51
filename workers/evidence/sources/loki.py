"""Grafana Loki: one LogQL stream query over the window, paged forward in time.

Loki caps the entries of one query (`limit`), so each page starts at the newest timestamp of the
previous one; the entries already taken at that nanosecond are skipped, so none is lost or repeated.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from workers.evidence.model import LogLine, LogQuery, SourceResult
from workers.evidence.records import line_from
from workers.evidence.sources._http import BadResponse, collect, json_body

BACKEND = "Loki"
_PATH = "/loki/api/v1/query_range"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

_StreamKey = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class _Entry:
    ns: int
    line: str
    labels: dict[str, str]
    key: tuple[_StreamKey, str]  # (stream, line): what tells two entries of one nanosecond apart


class LokiSource:
    """Logs from Loki's `query_range` API; `query_template` is LogQL with `{service}` in it."""

    def __init__(
        self,
        name: str,
        base_url: str,
        query_template: str,
        *,
        http: httpx.AsyncClient | None = None,
        timeout_s: float = 10,
        page_limit: int = 5000,
        headers: dict[str, str] | None = None,
        tenant: str | None = None,
    ) -> None:
        self.name = name
        self._url = base_url.rstrip("/") + _PATH
        self._template = query_template
        self._http = http
        self._timeout_s = timeout_s
        self._page_limit = page_limit
        self._headers = dict(headers or {})
        if tenant:
            self._headers["X-Scope-OrgID"] = tenant

    def logql(self, service: str) -> str:
        """The LogQL for one service; the template should quote `{service}`, as in `{app="{service}"}`."""
        return self._template.replace("{service}", service.replace("\\", "\\\\").replace('"', '\\"'))

    async def fetch(self, query: LogQuery) -> SourceResult:
        expr = self.logql(query.service)

        async def pager(client: httpx.AsyncClient, lines: list[LogLine], notes: list[str]) -> None:
            await self._page_through(client, expr, query, lines, notes)

        return await collect(
            source=self.name,
            backend=BACKEND,
            query_text=expr,
            window=query.window,
            timeout_s=self._timeout_s,
            http=self._http,
            pager=pager,
        )

    async def _page_through(
        self, client: httpx.AsyncClient, expr: str, query: LogQuery, lines: list[LogLine], notes: list[str]
    ) -> None:
        start, end = to_ns(query.window.start), to_ns(query.window.end)
        taken = _Taken()
        while start < end:
            entries = await self._page(client, expr, start, end)
            if not entries:
                return
            fresh = taken.fresh(entries)
            for entry in fresh:
                if len(lines) >= query.max_lines:
                    notes.append(f"capped at {query.max_lines} lines")
                    return
                lines.append(line_from(entry.line, from_ns(entry.ns), self.name, entry.labels))
            if len(entries) < self._page_limit:
                return
            if fresh:
                start = taken.ns
            else:  # a whole page of one nanosecond, all taken already: Loki cannot page inside it
                at = from_ns(taken.ns).isoformat()
                notes.append(f"over {self._page_limit} lines at {at}, some skipped")
                start = taken.ns + 1

    async def _page(self, client: httpx.AsyncClient, expr: str, start: int, end: int) -> list[_Entry]:
        params = {
            "query": expr,
            "start": str(start),
            "end": str(end),
            "limit": str(self._page_limit),
            "direction": "forward",
        }
        response = await client.get(self._url, params=params, headers=self._headers)
        return _entries(json_body(response, BACKEND))


class _Taken:
    """How many of each (stream, line) were taken at the newest nanosecond so far."""

    def __init__(self) -> None:
        self.ns = -1
        self._counts: Counter[tuple[_StreamKey, str]] = Counter()

    def fresh(self, entries: list[_Entry]) -> list[_Entry]:
        """The entries not taken before; `entries` is a time-ordered page starting at or after `ns`."""
        again: Counter[tuple[_StreamKey, str]] = Counter()
        new: list[_Entry] = []
        for entry in entries:
            if entry.ns == self.ns:
                again[entry.key] += 1
                if again[entry.key] <= self._counts[entry.key]:
                    continue
            new.append(entry)
        last = entries[-1].ns
        if last == self.ns:
            self._counts |= again
        else:
            self.ns = last
            self._counts = Counter(entry.key for entry in entries if entry.ns == last)
        return new


def _entries(body: Any) -> list[_Entry]:
    """The entries of a `streams` answer, merged across streams in time order."""
    try:
        kind, result = body["data"]["resultType"], body["data"]["result"]
    except (KeyError, TypeError) as exc:
        raise BadResponse(f"unexpected response from {BACKEND}: no data.result") from exc
    if kind != "streams":
        raise BadResponse(f"unexpected response from {BACKEND}: {kind} result, not log streams")
    entries: list[_Entry] = []
    try:
        for stream in result:
            labels = {str(k): str(v) for k, v in stream["stream"].items()}
            stream_key = tuple(sorted(labels.items()))
            entries.extend(
                _Entry(int(value[0]), str(value[1]), labels, (stream_key, str(value[1])))
                for value in stream["values"]
            )
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        raise BadResponse(f"unexpected response from {BACKEND}: malformed stream") from exc
    entries.sort(key=lambda entry: entry.ns)
    return entries


def to_ns(moment: datetime) -> int:
    """Nanoseconds since the epoch, exactly."""
    return (moment - _EPOCH) // _MICROSECOND * 1000


def from_ns(ns: int) -> datetime:
    return _EPOCH + timedelta(microseconds=ns // 1000)
