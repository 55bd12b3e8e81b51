"""Gathering across sources: caps, and a source that breaks its promise not to raise."""

import asyncio
from datetime import UTC, datetime, timedelta

from workers.evidence.gather import gather_windows
from workers.evidence.model import LogLine, LogQuery, SourceResult, TimeWindow

NOW = datetime(2026, 3, 14, 11, 0, tzinfo=UTC)
INCIDENT = TimeWindow(NOW - timedelta(minutes=30), NOW)
BASELINE = TimeWindow(NOW - timedelta(minutes=90), NOW - timedelta(minutes=30))


class Recording:
    """A backend that answers with as many lines as it is allowed, and remembers what it was asked."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.asked: list[LogQuery] = []

    async def fetch(self, query: LogQuery) -> SourceResult:
        self.asked.append(query)
        lines = [LogLine(text=f"line {i}", ts=query.window.start) for i in range(query.max_lines)]
        return SourceResult(self.name, "ok", f"all of {query.service}", query.window, lines)


class Broken:
    name = "broken"

    async def fetch(self, query: LogQuery) -> SourceResult:
        raise ConnectionResetError("peer went away")


def test_each_source_gets_the_lower_of_its_own_cap_and_the_global_one() -> None:
    small, big = Recording("small"), Recording("big")
    gathered = asyncio.run(gather_windows([(small, 5), (big, None)], "svc", INCIDENT, BASELINE, max_lines=20))
    assert [q.max_lines for q in small.asked] == [5, 5]
    assert [q.max_lines for q in big.asked] == [20, 20]
    assert [len(r.lines) for r in gathered.incident] == [5, 20]
    assert {q.window for q in small.asked} == {INCIDENT, BASELINE}
    assert gathered.gaps() == []


def test_a_raising_source_becomes_a_gap_in_both_windows() -> None:
    gathered = asyncio.run(gather_windows([(Broken(), None)], "svc", INCIDENT, BASELINE, max_lines=10))
    assert [r.status for r in (*gathered.incident, *gathered.baseline)] == ["error", "error"]
    assert gathered.gaps()[0] == "broken: ConnectionResetError: peer went away, window 10:30–11:00"
