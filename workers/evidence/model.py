"""The shapes every evidence module shares: what a log source is asked, and what it answers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

SourceStatus = Literal["ok", "partial", "empty", "error"]


@dataclass(frozen=True)
class TimeWindow:
    start: datetime  # timezone-aware UTC
    end: datetime

    def label(self) -> str:
        return f"{self.start:%H:%M}–{self.end:%H:%M}"


@dataclass(frozen=True)
class LogQuery:
    """What to fetch: one service's logs in one window, at most `max_lines` of them."""

    service: str
    window: TimeWindow
    max_lines: int = 5_000_000


@dataclass(slots=True)
class LogLine:
    text: str  # the raw message line, as the source gave it (never altered before redaction)
    ts: datetime | None = None  # when the source knows it
    source: str = ""  # the source's name, e.g. "loki" or a file path
    labels: dict[str, str] = field(default_factory=dict)
    level: str | None = None  # from a structured record's level field; else read from the text
    detail: str = ""  # a structured record's error, exception and stack fields, shown when quoted


@dataclass
class SourceResult:
    """A source's answer. An outage is a result with status "error" and a note, never an exception."""

    source: str  # e.g. "loki", "files"
    status: SourceStatus
    query: str  # the exact query it ran (LogQL, ES JSON, filter pattern, glob list, pod/container)
    window: TimeWindow
    lines: list[LogLine] = field(default_factory=list)
    note: str = ""  # e.g. "timeout after 10 s", "unreadable: a.log (permission denied)"
    elapsed_s: float = 0.0
    # Large sources (files) hand their lines over as a stream, read once by the digest; the stream
    # keeps `streamed`, `status`, `note` and `dating` up to date as it goes.
    stream: Iterator[LogLine] | None = None
    streamed: int = 0
    dating: str = ""  # how the lines were dated, e.g. "100.0% dated (iso8601)"

    def line_count(self) -> int:
        return len(self.lines) + self.streamed

    def iter_lines(self) -> Iterator[LogLine]:
        """Every line once: the held ones, then the stream (which is used up)."""
        yield from self.lines
        stream, self.stream = self.stream, None
        if stream is not None:
            yield from stream

    def gap(self) -> str | None:
        """One plain sentence for the answer when this source failed or was cut, else None."""
        if self.status in ("error", "partial"):
            return f"{self.source}: {self.note or self.status}, window {self.window.label()}"
        return None


class LogSource(Protocol):
    """One backend. `fetch` never raises for backend trouble: it returns status "error" with a note."""

    name: str

    async def fetch(self, query: LogQuery) -> SourceResult: ...
