"""Log files on disk: plain text, JSON or logfmt records, Docker and CRI container logs, gzip.

Each file's timestamp format is told from its first lines (see `timestamps`), a structured record's
time, level and error fields are kept (see `records`), and the window is read in full: a plain file
is searched by time rather than scanned, and the lines stream to the digest instead of being held.
Lines of several files come out merged in time order. A line without a time of its own (a stack
trace's continuation) takes the previous line's; a file in which no line has a readable time cannot
be cut to a window, so all of it is read and the note says so.
"""

from __future__ import annotations

import asyncio
import glob
import gzip
import heapq
import os
import time
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from workers.evidence.model import LogLine, LogQuery, SourceResult, TimeWindow
from workers.evidence.sources.filereader import FileRead, bounds

_LISTED = 5
_EVERYTHING_START = datetime(1970, 1, 1, tzinfo=UTC)


class FileSource:
    """Log lines from local files; `paths` are file names or globs (`/var/log/app/*.log*`)."""

    def __init__(self, name: str, paths: list[str], *, max_bytes_per_line: int = 64_000) -> None:
        if not paths:
            raise ValueError("FileSource needs at least one path or glob")
        self.name = name
        self._paths = list(paths)
        self._max_bytes = max_bytes_per_line

    def describe(self, query: LogQuery) -> str:
        """What a fetch reads: the globs and the window."""
        window = query.window
        return f"{' '.join(self._paths)} from {window.start.isoformat()} to {window.end.isoformat()}"

    async def fetch(self, query: LogQuery) -> SourceResult:
        files, unmatched = await asyncio.to_thread(expand, self._paths)
        result = SourceResult(
            source=self.name,
            status="ok" if files else "error",
            query=self.describe(query),
            window=query.window,
        )
        scan = _Scan(result, files, unmatched, query, self._max_bytes)
        result.note = "; ".join(scan.notes())
        if files:
            result.stream = scan.lines()
        return result


class _Scan:
    """One fetch's reading, done by whoever drains the stream (the digest, in a worker thread)."""

    def __init__(
        self, result: SourceResult, files: list[str], unmatched: list[str], query: LogQuery, max_bytes: int
    ) -> None:
        self.result, self.files, self.unmatched, self.query = result, files, unmatched, query
        self.reads = [FileRead(path, query.window, max_bytes, query.max_lines) for path in files]
        self.started = time.monotonic()

    def lines(self) -> Iterator[LogLine]:
        streams = [self._guarded(read) for read in self.reads]
        merged = streams[0] if len(streams) == 1 else heapq.merge(*streams, key=_order)
        try:
            yield from merged
        finally:
            self._finish()

    def _guarded(self, read: FileRead) -> Iterator[LogLine]:
        """One file's lines; a file that vanishes, is denied or is corrupt ends as a note, not a crash."""
        try:
            yield from read.stream()
        except FileNotFoundError:  # rotated away since the glob
            self.unmatched.append(read.path)
        except PermissionError:
            read.problem = "permission denied"
        except (OSError, EOFError, zlib.error) as exc:
            corrupt = isinstance(exc, gzip.BadGzipFile | EOFError | zlib.error)
            read.problem = "corrupt gzip" if corrupt else str(exc)

    def _finish(self) -> None:
        result = self.result
        result.elapsed_s += time.monotonic() - self.started
        result.streamed = sum(r.lines for r in self.reads)
        read_any = any(r.reader is not None for r in self.reads)
        if not read_any:
            result.status = "error"
        elif any(r.problem or r.skipped_lines for r in self.reads) or self._undated():
            result.status = "partial"  # the answer shows it as a gap
        else:
            result.status = "ok" if result.streamed else "empty"
        result.note = "; ".join(self.notes())
        result.dating = "; ".join(self._dating())

    def _dating(self) -> list[str]:
        described = []
        for read in self.reads:
            if read.reader is not None and (summary := read.reader.dater.summary()):
                described.append(f"{os.path.basename(read.path)} {summary}")
        return described

    def _undated(self) -> list[str]:
        """Files in which no line had a readable time, when a real window was asked for."""
        if self.query.window.start <= _EVERYTHING_START:
            return []
        return [r.path for r in self.reads if r.reader is not None and r.reader.dater.undated_only()]

    def notes(self) -> list[str]:
        notes = []
        skipped = sum(r.skipped_lines for r in self.reads)
        if skipped:
            notes.append(
                f"over {self.query.max_lines} lines: the oldest {skipped} of the window were left out"
            )
        undated = self._undated()
        if undated:
            notes.append(
                f"no readable time in {_listing(undated)}: "
                "the window could not be applied, all of it was read"
            )
        unordered = [r.path for r in self.reads if r.unordered]
        if unordered:
            notes.append(f"out of time order, read whole: {_listing(unordered)}")
        unreadable = [f"{r.path} ({r.problem})" for r in self.reads if r.problem]
        if unreadable:
            notes.append(f"unreadable: {_listing(unreadable)}")
        if self.unmatched:
            notes.append(f"no file matches {_listing(self.unmatched)}")
        binary = [r.path for r in self.reads if r.binary]
        if binary:
            notes.append(f"skipped binary {_listing(binary)}")
        truncated = sum(r.truncated for r in self.reads)
        if truncated:
            plural = "s" if truncated > 1 else ""
            notes.append(f"{truncated} line{plural} cut to {self.reads[0].max_bytes} bytes")
        return notes


def _order(line: LogLine) -> datetime:
    return line.ts or _EVERYTHING_START


def expand(patterns: list[str]) -> tuple[list[str], list[str]]:
    """The files the globs name, in order and without repeats, and the globs that named none."""
    found: dict[str, None] = {}
    unmatched = []
    for pattern in patterns:
        matches = glob.glob(os.path.expanduser(pattern), recursive=True)
        files = sorted(p for p in matches if os.path.isfile(p))
        if not files:
            unmatched.append(pattern)
        found.update(dict.fromkeys(files))
    return list(found), unmatched


def span(paths: list[str]) -> TimeWindow | None:
    """From the oldest to just past the newest dated line of the files (windows typed as "last 30m"
    are read relative to the logs, not the wall clock); None when no line has a readable time."""
    files, _ = expand(paths)
    found: list[datetime] = []
    for path in files:
        try:
            found += [moment for moment in bounds(path) if moment is not None]
        except (OSError, EOFError, zlib.error):
            continue
    return TimeWindow(min(found), max(found) + timedelta(seconds=1)) if found else None


def _listing(items: list[str]) -> str:
    shown = ", ".join(items[:_LISTED])
    return shown if len(items) <= _LISTED else f"{shown} and {len(items) - _LISTED} more"
