"""Log files on disk: plain text, JSON lines and gzip, read in a worker thread and cut to the window.

A line's time comes from its start (ISO 8601, `YYYY-MM-DD HH:MM:SS,fff`, syslog `Mon dd HH:MM:SS`) or,
for JSON lines, from a time field; zoneless times are taken as UTC. A line without one (a stack
trace's continuation) takes the previous line's; in a file with no times at all, lines are kept
with `ts=None`.
"""

from __future__ import annotations

import asyncio
import glob
import gzip
import io
import json
import os
import re
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from workers.evidence.model import LogLine, LogQuery, SourceResult, SourceStatus, TimeWindow
from workers.evidence.sources._fields import parse_iso, scalar_labels, to_datetime

_GZIP_MAGIC = b"\x1f\x8b"
_MESSAGE_KEYS = ("message", "msg", "log", "text")
_TIME_KEYS = ("time", "timestamp", "ts", "@timestamp")
_SYSLOG = re.compile(r"([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d{2}):(\d{2}):(\d{2})")
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTHS = {name: number for number, name in enumerate(_MONTH_NAMES, 1)}
_SNIFF_BYTES = 8192
# Control bytes that text never holds (NUL aside: copytruncate pads rotated logs with it).
_BINARY_BYTES = bytes([*range(1, 9), 11, *range(14, 27), *range(28, 32), 127])
_BINARY_SHARE = 0.05
_SKIP_CHUNK = 1 << 16
_LISTED = 5

_Stream = gzip.GzipFile | io.BufferedReader


class FileSource:
    """Log lines from local files; `paths` are file names or globs (`/var/log/app/*.log*`)."""

    def __init__(
        self, name: str, paths: list[str], *, max_bytes_per_line: int = 64_000, timeout_s: float = 10
    ) -> None:
        if not paths:
            raise ValueError("FileSource needs at least one path or glob")
        self.name = name
        self._paths = list(paths)
        self._max_bytes = max_bytes_per_line
        self._timeout_s = timeout_s

    def describe(self, query: LogQuery) -> str:
        """What a fetch reads: the globs and the window."""
        window = query.window
        return f"{' '.join(self._paths)} from {window.start.isoformat()} to {window.end.isoformat()}"

    async def fetch(self, query: LogQuery) -> SourceResult:
        # Reading, sorting and building the result all happen off the event loop.
        return await asyncio.to_thread(self._fetch, query)

    def _fetch(self, query: LogQuery) -> SourceResult:
        started = time.monotonic()
        scan = _Scan(query, self._max_bytes, started + self._timeout_s)
        scan.run(self._paths)
        scan.lines.sort(key=lambda line: line.ts or query.window.start)
        return SourceResult(
            source=self.name,
            status=scan.status(),
            query=self.describe(query),
            window=query.window,
            lines=scan.lines,
            note="; ".join(scan.notes(self._timeout_s)),
            elapsed_s=time.monotonic() - started,
        )


@dataclass
class _Scan:
    """One fetch's reading, done in a worker thread."""

    query: LogQuery
    max_bytes: int
    deadline: float
    lines: list[LogLine] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    binary: list[str] = field(default_factory=list)
    read_any: bool = False
    truncated: int = 0
    capped: bool = False
    timed_out: bool = False

    def run(self, patterns: list[str]) -> None:
        for path in self._expand(patterns):
            if self.capped or self.timed_out:
                return
            self._read(path)

    def status(self) -> SourceStatus:
        if not self.read_any:
            return "error"
        if self.capped or self.timed_out or self.unreadable:
            return "partial"
        return "ok" if self.lines else "empty"

    def notes(self, timeout_s: float) -> list[str]:
        notes = []
        if self.capped:
            notes.append(f"capped at {self.query.max_lines} lines")
        if self.timed_out:
            notes.append(f"timeout after {timeout_s:g} s")
        if self.unreadable:
            notes.append(f"unreadable: {_listing(self.unreadable)}")
        if self.unmatched:
            notes.append(f"no file matches {_listing(self.unmatched)}")
        if self.binary:
            notes.append(f"skipped binary {_listing(self.binary)}")
        if self.truncated:
            plural = "s" if self.truncated > 1 else ""
            notes.append(f"{self.truncated} line{plural} cut to {self.max_bytes} bytes")
        return notes

    def _expand(self, patterns: list[str]) -> list[str]:
        found: dict[str, None] = {}  # ordered and without repeats
        for pattern in patterns:
            matches = glob.glob(os.path.expanduser(pattern), recursive=True)
            files = sorted(p for p in matches if os.path.isfile(p))
            if not files:
                self.unmatched.append(pattern)
            found.update(dict.fromkeys(files))
        return list(found)

    def _read(self, path: str) -> None:
        try:
            with open(path, "rb") as raw, _decompressed(raw) as stream:
                if _looks_binary(stream.peek(_SNIFF_BYTES)[:_SNIFF_BYTES]):
                    self.binary.append(path)
                    return
                self.read_any = True
                self._take_all(path, self._texts(stream))
        except FileNotFoundError:  # rotated away since the glob
            self.unmatched.append(path)
        except PermissionError:
            self.unreadable.append(f"{path} (permission denied)")
        except (OSError, EOFError, zlib.error) as exc:
            reason = "corrupt gzip" if isinstance(exc, gzip.BadGzipFile | EOFError | zlib.error) else exc
            self.unreadable.append(f"{path} ({reason})")

    def _texts(self, stream: _Stream) -> Iterator[str]:
        """The file's lines as text, each cut to `max_bytes`, until the deadline."""
        while raw := stream.readline(self.max_bytes + 1):
            if time.monotonic() > self.deadline:
                self.timed_out = True
                return
            raw = raw.lstrip(b"\0")  # a run of copytruncate padding longer than a line is not a line
            if len(raw) > self.max_bytes and not raw.endswith(b"\n"):
                self.truncated += 1
                raw = raw[: self.max_bytes]
                while (rest := stream.readline(_SKIP_CHUNK)) and not rest.endswith(b"\n"):
                    pass
            text = raw.decode("utf-8", "replace").replace("\0", "").rstrip("\r\n")
            if text.strip():
                yield text

    def _take_all(self, path: str, texts: Iterator[str]) -> None:
        window = self.query.window
        previous: datetime | None = None
        for text in texts:
            message, ts, labels = _parse(text, window)
            ts = ts or previous
            previous = ts
            if ts is not None and not window.start <= ts < window.end:
                continue
            if len(self.lines) >= self.query.max_lines:
                self.capped = True
                return
            self.lines.append(LogLine(message, ts, path, labels))


def _decompressed(raw: io.BufferedReader) -> _Stream:
    """A gzip reader when the file starts with gzip's magic bytes, whatever its name; else the file."""
    return gzip.GzipFile(fileobj=raw, mode="rb") if raw.peek(2)[:2] == _GZIP_MAGIC else raw


def _looks_binary(sample: bytes) -> bool:
    sample = sample.lstrip(b"\0")
    return bool(sample) and len(sample.translate(None, _BINARY_BYTES)) < len(sample) * (1 - _BINARY_SHARE)


def _parse(text: str, window: TimeWindow) -> tuple[str, datetime | None, dict[str, str]]:
    """A line's message, time and labels: JSON records give all three, other lines only a time."""
    if text.startswith("{"):
        try:
            record = json.loads(text)
        except (ValueError, RecursionError):
            record = None
        if isinstance(record, dict):
            message_key = next((k for k in _MESSAGE_KEYS if isinstance(record.get(k), str)), None)
            time_key = next((k for k in _TIME_KEYS if k in record), None)
            message = record[message_key].rstrip("\r\n") if message_key else text
            ts = to_datetime(record[time_key]) if time_key else _line_time(message, window)
            return message, ts, scalar_labels(record, skip={k for k in (message_key, time_key) if k})
    return text, _line_time(text, window), {}


def _line_time(text: str, window: TimeWindow) -> datetime | None:
    return parse_iso(text) or _syslog_time(text, window)


def _syslog_time(text: str, window: TimeWindow) -> datetime | None:
    """`Mon dd HH:MM:SS`, in the window's year (the year before, for December lines read in January)."""
    match = _SYSLOG.match(text)
    if match is None or match.group(1) not in _MONTHS:
        return None
    month, day, hour, minute, second = _MONTHS[match.group(1)], *map(int, match.groups()[1:])
    try:
        ts = datetime(window.end.year, month, day, hour, minute, second, tzinfo=UTC)
        return ts if ts <= window.end + timedelta(days=1) else ts.replace(year=ts.year - 1)
    except ValueError:
        return None


def _listing(items: list[str]) -> str:
    shown = ", ".join(items[:_LISTED])
    return shown if len(items) <= _LISTED else f"{shown} and {len(items) - _LISTED} more"
