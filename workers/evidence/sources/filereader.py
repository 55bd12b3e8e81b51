"""Reading one log file for a window: its format told from a sample, a seek by time, then a stream.

A plain file is searched by time (bisection over byte offsets, each probe dated by the file's own
format), so reading the last hour of a 10 GB file costs what the hour costs, not the file. A probe
that finds times going backwards marks the file unordered and it is read from the top. A gzip file
cannot seek and is read from the top. The lines come out one at a time, never all held at once.
"""

from __future__ import annotations

import gzip
import io
import itertools
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import BinaryIO, Literal

from workers.evidence import records
from workers.evidence.model import LogLine, TimeWindow
from workers.evidence.timestamps import FORMAT_BY_NAME, Dater, Detected, detect, to_datetime

GZIP_MAGIC = b"\x1f\x8b"
BLOCK = 1 << 20
SAMPLE_BYTES = 64 * 1024
SAMPLE_LINES = 200
SEEK_FROM_BYTES = 4 * BLOCK  # smaller files are simply read through
# How far lines may be out of order and still be found by the seek and end the read. Concurrent writers
# and buffered appenders reorder lines by milliseconds to a few seconds; a file found more out of order
# by the seek's probes is read whole. Every second of slack is read and thrown away, thousands of lines
# on a busy service.
ORDER_SLACK = timedelta(seconds=10)
_BINARY_BYTES = bytes([*range(1, 9), 11, *range(14, 27), *range(28, 32), 127])
_BINARY_SHARE = 0.05

Mode = Literal["text", "json", "logfmt", "cri"]


def looks_binary(sample: bytes) -> bool:
    sample = sample.lstrip(b"\0")
    return bool(sample) and len(sample.translate(None, _BINARY_BYTES)) < len(sample) * (1 - _BINARY_SHARE)


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", "replace").replace("\0", "")


def _mode(sample: list[str]) -> Mode:
    """How the sample's lines are written: JSON or logfmt records, CRI container lines, or plain text."""
    lines = [line for line in sample if line.strip()]
    if not lines:
        return "text"
    half = len(lines) / 2
    if sum(line.startswith("{") for line in lines) > half:
        return "json"
    if sum(records.cri(line) is not None for line in lines) > half:
        return "cri"
    if sum(records.parse(line) is not None for line in lines) > half:
        return "logfmt"
    return "text"


@dataclass
class LineReader:
    """Turns a file's text lines into `LogLine`s: structured records unpacked, every line dated."""

    path: str
    mode: Mode
    dater: Dater
    _partial: str = ""

    @classmethod
    def for_sample(cls, path: str, sample: list[str], reference: datetime) -> LineReader:
        mode = _mode(sample)
        if mode == "cri":  # the runtime writes RFC 3339 times
            return cls(path, mode, Dater(Detected(FORMAT_BY_NAME["iso8601"], 0, 1.0), reference))
        return cls(path, mode, Dater(detect(sample, reference), reference))

    def line(self, text: str) -> LogLine | None:
        """The line as a `LogLine` (None for the first part of a CRI partial line, kept for the next)."""
        if self.mode == "text":
            return LogLine(text, self.dater.date(text), self.path)
        if self.mode == "cri":
            found = records.cri(text)
            if found is not None:
                stamp, text, partial = found
                if partial:
                    self._partial += text
                    return None
                text, self._partial = self._partial + text, ""
                moment = self.dater.date(stamp)
            else:
                moment = self.dater.date(text)
            return self._record(text, moment)
        return self._record(text, None)

    def _record(self, text: str, moment: datetime | None) -> LogLine:
        record = records.parse(text)
        if record is None:
            return LogLine(text, moment or self.dater.date(text), self.path)
        if record.ts is not None:
            self.dater.record(record.ts)
        ts = record.ts or moment or self.dater.date(record.message)
        return LogLine(record.message, ts, self.path, record.labels, record.level, record.detail)

    def time_of(self, text: str) -> datetime | None:
        """A probe's time, without counting it: the record's own time, else the format's."""
        if self.mode in ("json", "logfmt"):
            record = records.parse(text)
            if record is not None and record.ts is not None:
                return record.ts
        if self.mode == "cri" and (found := records.cri(text)) is not None:
            text = found[0]
        fmt = self.dater.detected.format
        match = fmt.pattern.search(text, 0, self.dater.detected.reach + 64) if fmt is not None else None
        return to_datetime(match, self.dater.reference) if match is not None else None


@dataclass
class FileRead:
    """One file read for one window; its counts feed the source's notes once the stream is drained."""

    path: str
    window: TimeWindow
    max_bytes: int
    max_lines: int
    lines: int = 0
    truncated: int = 0
    skipped_lines: int = 0  # over `max_lines`: the oldest of the window, left out
    unordered: bool = False
    seeked: bool = False
    binary: bool = False
    problem: str = ""  # why the file could not be read (to its end)
    reader: LineReader | None = None

    def stream(self) -> Iterator[LogLine]:
        """The window's lines, oldest first in an ordered file. The file is opened on the first `next`
        and closed when the stream ends or is dropped; OSError and gzip errors reach the caller."""
        with open(self.path, "rb") as raw:
            compressed = raw.peek(2)[:2] == GZIP_MAGIC
            head = _head(raw, compressed)
            if looks_binary(head[:8192]):
                self.binary = True
                return
            status = os.fstat(raw.fileno())
            reference = datetime.fromtimestamp(status.st_mtime, UTC)  # a year-less time's year
            sample = _decode(head).splitlines()[:SAMPLE_LINES]
            reader = self.reader = LineReader.for_sample(self.path, sample, reference)
            start, end = 0, None
            if not compressed and status.st_size >= SEEK_FROM_BYTES and reader.dater.detected.format:
                start, end = self._seek(raw, reader)
            skip = 0
            if _count_lines(_body(raw, compressed, start), end) > self.max_lines:
                counter = LineReader.for_sample(self.path, sample, reference)
                inside = sum(1 for _ in self._lines(_body(raw, compressed, start), counter, end, 0))
                skip, self.lines = max(0, inside - self.max_lines), 0
            yield from self._lines(_body(raw, compressed, start), reader, end, skip)

    def _seek(self, raw: BinaryIO, reader: LineReader) -> tuple[int, int | None]:
        """Offsets around the window: the last probe before its start, past the first probe after its end.
        Probes whose times go backwards mark the file unordered: it is then read whole."""
        size = os.fstat(raw.fileno()).st_size
        probes: list[tuple[int, datetime]] = []

        def first_after(target: datetime) -> int:
            low, high = 0, size
            while high - low > SAMPLE_BYTES:  # a probe reads this much: finer is no cheaper
                middle = (low + high) // 2
                moment = _probe(raw, middle, reader)
                if moment is None:
                    return 0
                probes.append((middle, moment))
                low, high = (middle, high) if moment < target else (low, middle)
            return low

        start = first_after(self.window.start - ORDER_SLACK)
        end = first_after(self.window.end + ORDER_SLACK) + 2 * BLOCK
        probes.sort()
        if any(later[1] < earlier[1] - ORDER_SLACK for earlier, later in itertools.pairwise(probes)):
            self.unordered = True
            return 0, None
        self.seeked = True
        return start, (end if end < size else None)

    def _lines(self, body: BinaryIO, reader: LineReader, end: int | None, skip: int) -> Iterator[LogLine]:
        """The lines inside the window, the first `skip` of them left out (counted). A run of whole
        lines is decoded at once; a blank line is no line."""
        window, limit = self.window, self.window.end + ORDER_SLACK
        start, stop = window.start, window.end
        make, plain, date, path = reader.line, reader.mode == "text", reader.dater.date, reader.path
        for chunk in _raw_chunks(body, end, self.max_bytes, self):
            for text in _decode(chunk).split("\n"):
                if not text or text.isspace():
                    continue
                if text[-1] == "\r":
                    text = text[:-1]
                line = LogLine(text, date(text), path) if plain else make(text)  # `line`, inlined
                if line is None:
                    continue
                ts = line.ts
                if ts is not None and not start <= ts < stop:
                    if ts > limit and self.seeked:
                        return
                    continue
                if skip:
                    skip -= 1
                    self.skipped_lines += 1
                    continue
                self.lines += 1
                yield line


def _head(raw: io.BufferedReader, compressed: bool) -> bytes:
    if not compressed:
        return raw.peek(SAMPLE_BYTES)[:SAMPLE_BYTES]
    raw.seek(0)
    head = gzip.GzipFile(fileobj=raw, mode="rb").read(SAMPLE_BYTES)
    raw.seek(0)
    return head


def _body(raw: io.BufferedReader, compressed: bool, start: int) -> BinaryIO:
    raw.seek(start if not compressed else 0)
    if compressed:
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    if start:
        raw.readline()  # the probe landed inside a line
    return raw


def _blocks(body: BinaryIO, end: int | None) -> Iterator[bytes]:
    """The body's bytes in blocks, up to the absolute offset `end` when given (never for gzip)."""
    while True:
        if end is not None:
            left = end - body.tell()
            if left <= 0:
                return
            block = body.read(min(BLOCK, left))
        else:  # a gzip body: read1 hands over what was decompressed before a corrupt tail
            block = body.read1(BLOCK) if isinstance(body, gzip.GzipFile) else body.read(BLOCK)
        if not block:
            return
        yield block


def _count_lines(body: BinaryIO, end: int | None) -> int:
    """Newlines up to `end`; a corrupt gzip is counted up to where it breaks (the read reports it)."""
    count = 0
    try:
        for block in _blocks(body, end):
            count += block.count(b"\n")
    except (EOFError, zlib.error, gzip.BadGzipFile):
        pass
    return count


def _raw_chunks(body: BinaryIO, end: int | None, max_bytes: int, read: FileRead) -> Iterator[bytes]:
    """Runs of whole lines without their last newline; a line over `max_bytes` is cut (counted in
    `read`) and a run of NUL padding dropped. With `end`, the line that straddles it is read to its end."""
    rest = b""
    skipping = False  # inside the tail of a line already cut
    for block in itertools.chain(_blocks(body, end), [_line_tail(body, end)]):
        chunk = rest + block
        cut = chunk.rfind(b"\n")
        if cut < 0:
            rest = chunk
        else:
            rest = chunk[cut + 1 :]
            chunk = chunk[:cut]
            if skipping:  # the first line of the chunk is the tail of a cut line
                chunk, skipping = chunk.partition(b"\n")[2], False
            if b"\0" in chunk:
                chunk = b"\n".join(line.lstrip(b"\0") for line in chunk.split(b"\n"))
            if len(chunk) > max_bytes and any(len(line) > max_bytes for line in chunk.split(b"\n")):
                chunk = b"\n".join(_cut(line, max_bytes, read) for line in chunk.split(b"\n"))
            yield chunk
        if rest[:1] == b"\0":  # copytruncate's padding is not part of a line
            rest = rest.lstrip(b"\0")
        if len(rest) > max_bytes:
            if not skipping:
                read.truncated += 1
                yield rest[:max_bytes]
            rest, skipping = b"", True
    if rest and not skipping:
        yield rest


def _cut(line: bytes, max_bytes: int, read: FileRead) -> bytes:
    if len(line) <= max_bytes:
        return line
    read.truncated += 1
    return line[:max_bytes]


def _line_tail(body: BinaryIO, end: int | None) -> bytes:
    return body.readline() if end is not None else b""


def _probe(raw: BinaryIO, offset: int, reader: LineReader) -> datetime | None:
    """The time of the first dated line that starts after `offset`."""
    raw.seek(offset)
    block = raw.read(SAMPLE_BYTES)
    for text in _decode(block).split("\n")[1:-1]:
        moment = reader.time_of(text)
        if moment is not None:
            return moment
    return None


def bounds(path: str) -> tuple[datetime | None, datetime | None]:
    """The times of the file's first and last dated lines, read from its head and its tail only."""
    with open(path, "rb") as raw:
        compressed = raw.peek(2)[:2] == GZIP_MAGIC
        head = _head(raw, compressed)
        if looks_binary(head[:8192]):
            return None, None
        reference = datetime.fromtimestamp(os.fstat(raw.fileno()).st_mtime, UTC)
        reader = LineReader.for_sample(path, _decode(head).splitlines()[:SAMPLE_LINES], reference)
        if compressed:
            tail = b""
            for block in _blocks(_body(raw, True, 0), None):
                tail = (tail + block)[-SAMPLE_BYTES:]
        else:
            raw.seek(max(0, os.fstat(raw.fileno()).st_size - SAMPLE_BYTES))
            tail = raw.read(SAMPLE_BYTES)
    # The extremes of the head and the tail, not their first and last lines: a log written by several
    # threads or appended late is only roughly in order.
    firsts = [t for text in _decode(head).splitlines() if (t := reader.time_of(text))]
    lasts = [t for text in _decode(tail).splitlines() if (t := reader.time_of(text))]
    return (min(firsts) if firsts else None), (max(lasts) if lasts else None)
