from __future__ import annotations

import asyncio
import gzip
import itertools
import json
import os
import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from workers.evidence.model import LogQuery, SourceResult, TimeWindow
from workers.evidence.sources.files import FileSource

from .conftest import QUERY, WINDOW


def at(minute: int, second: int = 0) -> datetime:
    return datetime(2026, 3, 14, 10, minute, second, tzinfo=UTC)


async def fetch(*paths: Path | str, query: LogQuery = QUERY, **options: object) -> SourceResult:
    """The source's answer with its stream drained into `lines`, as the digest drains it."""
    result = await FileSource("files", [str(p) for p in paths], **options).fetch(query)  # type: ignore[arg-type]
    result.lines = await asyncio.to_thread(list, result.iter_lines())
    return result


def texts(result: SourceResult) -> list[str]:
    return [line.text for line in result.lines]


@pytest.mark.asyncio
async def test_plain_lines_are_cut_to_the_window(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text(
        "2026-03-14T10:39:59Z before\n"
        "2026-03-14T10:40:00Z first\n"
        "2026-03-14T11:09:59.999Z last\n"
        "2026-03-14T11:10:00Z after\n"
    )

    result = await fetch(log)

    assert (result.status, result.note) == ("ok", "")
    assert texts(result) == ["2026-03-14T10:40:00Z first", "2026-03-14T11:09:59.999Z last"]
    assert [line.ts for line in result.lines] == [
        at(40),
        datetime(2026, 3, 14, 11, 9, 59, 999000, tzinfo=UTC),
    ]
    assert {line.source for line in result.lines} == {str(log)}
    assert result.query == f"{log} from 2026-03-14T10:40:00+00:00 to 2026-03-14T11:10:00+00:00"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("line", "ts"),
    [
        ("2026-03-14T10:41:02.5+01:00 zone", None),  # 09:41 UTC: outside
        ("2026-03-14T11:41:02.123456789+01:00 nanos", at(41, 2) + timedelta(microseconds=123456)),
        ("2026-03-14T10:11:02-0030 compact zone", at(41, 2)),
        ("2026-03-14 10:41:02,250 ERROR python logging", at(41, 2) + timedelta(milliseconds=250)),
        ("2026-03-14 10:41:02.250 dot millis", at(41, 2) + timedelta(milliseconds=250)),
        ("[2026-03-14T10:41:02] bracketed", at(41, 2)),
        ("2026/03/14 10:41:02 [error] nginx", at(41, 2)),
        ("Mar 14 10:41:02 host app[12]: syslog", at(41, 2)),
        ("Mar  4 10:41:02 host app[12]: syslog outside", None),
    ],
)
async def test_timestamp_formats(tmp_path: Path, line: str, ts: datetime | None) -> None:
    log = tmp_path / "app.log"
    log.write_text(line + "\n")

    result = await fetch(log)

    assert [(x.text, x.ts) for x in result.lines] == ([] if ts is None else [(line, ts)])


@pytest.mark.asyncio
async def test_continuation_lines_take_the_previous_time(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text(
        "2026-03-14 10:30:00,000 ERROR old failure\n"
        "Traceback (most recent call last):\n"
        '  File "old.py", line 1\n'
        "2026-03-14 10:45:00,000 ERROR new failure\n"
        "Traceback (most recent call last):\n"
        '  File "new.py", line 2\n'
        "\n"
        "ValueError: boom\n"
    )

    result = await fetch(log)

    assert texts(result) == [
        "2026-03-14 10:45:00,000 ERROR new failure",
        "Traceback (most recent call last):",
        '  File "new.py", line 2',
        "ValueError: boom",
    ]
    assert {line.ts for line in result.lines} == {at(45)}


@pytest.mark.asyncio
async def test_a_file_without_times_is_kept_whole(tmp_path: Path) -> None:
    log = tmp_path / "plain.log"
    log.write_text("starting\nlistening on :8080\n")

    result = await fetch(log)

    assert [(line.text, line.ts) for line in result.lines] == [
        ("starting", None),
        ("listening on :8080", None),
    ]


@pytest.mark.asyncio
async def test_json_lines(tmp_path: Path) -> None:
    records = [
        {"time": "2026-03-14T10:41:00Z", "level": "error", "msg": "boom", "user": 42, "ctx": {"db": "main"}},
        {"ts": 1773485000, "message": "epoch seconds", "list": [1, 2], "none": None},  # 10:43:20
        {"timestamp": 1773485000500, "log": "docker style\n", "stream": "stdout"},
        {"@timestamp": "2026-03-14T10:44:00.000Z", "text": "at-timestamp", "ok": True},
        {"time": "2026-03-14T09:00:00Z", "msg": "outside"},
        {"level": "info", "note": "no message key, no time: inherits"},
    ]
    log = tmp_path / "app.jsonl"
    log.write_text("".join(json.dumps(r) + "\n" for r in records))

    result = await fetch(log)

    assert [(line.text, line.ts, line.labels, line.level) for line in result.lines] == [
        ("boom", at(41), {"user": "42", "ctx.db": "main"}, "error"),
        ("epoch seconds", at(43, 20), {}, None),
        ("docker style", at(43, 20) + timedelta(milliseconds=500), {"stream": "stdout"}, None),
        ("at-timestamp", at(44), {"ok": "true"}, None),
    ]


@pytest.mark.asyncio
async def test_json_without_time_inherits_and_bad_json_is_text(tmp_path: Path) -> None:
    log = tmp_path / "app.jsonl"
    log.write_text(
        '{"time": "2026-03-14T10:50:00Z", "msg": "first"}\n'
        '{"msg": "second", "level": "warn"}\n'
        '{"msg": broken json\n'
        '{"time": "yesterday", "msg": "unparseable time"}\n' + '{"deep": ' + "[" * 5000 + "\n"
    )

    result = await fetch(log)

    assert [(line.text, line.ts) for line in result.lines] == [
        ("first", at(50)),
        ("second", at(50)),
        ('{"msg": broken json', at(50)),
        ("unparseable time", at(50)),
        ('{"deep": ' + "[" * 5000, at(50)),
    ]
    assert (result.lines[1].labels, result.lines[1].level) == ({}, "warning")


@pytest.mark.asyncio
async def test_gzip_by_name_and_by_magic_bytes(tmp_path: Path) -> None:
    (tmp_path / "app.log.2.gz").write_bytes(gzip.compress(b"2026-03-14T10:41:00Z oldest\n"))
    (tmp_path / "app.log.1").write_bytes(gzip.compress(b"2026-03-14T10:42:00Z older\n"))
    (tmp_path / "app.log").write_text("2026-03-14T10:43:00Z newest\n")

    result = await fetch(tmp_path / "app.log*")

    assert texts(result) == [
        "2026-03-14T10:41:00Z oldest",
        "2026-03-14T10:42:00Z older",
        "2026-03-14T10:43:00Z newest",
    ]
    assert [Path(line.source).name for line in result.lines] == ["app.log.2.gz", "app.log.1", "app.log"]


@pytest.mark.asyncio
async def test_globs_read_each_file_once_and_report_unmatched_ones(tmp_path: Path) -> None:
    (tmp_path / "a.log").write_text("2026-03-14T10:41:00Z a\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.log").write_text("2026-03-14T10:42:00Z b\n")

    result = await fetch(
        tmp_path / "*.log", tmp_path / "a.log", tmp_path / "**" / "*.log", tmp_path / "*.none"
    )

    assert texts(result) == ["2026-03-14T10:41:00Z a", "2026-03-14T10:42:00Z b"]
    assert (result.status, result.note) == ("ok", f"no file matches {tmp_path / '*.none'}")


@pytest.mark.asyncio
async def test_nothing_found_is_an_error_listing_the_paths(tmp_path: Path) -> None:
    (tmp_path / "dir.log").mkdir()

    result = await fetch(tmp_path / "missing.log", tmp_path / "*.gz", tmp_path / "dir.log")

    assert result.status == "error"
    assert (
        result.note
        == f"no file matches {tmp_path / 'missing.log'}, {tmp_path / '*.gz'}, {tmp_path / 'dir.log'}"
    )
    assert result.gap() == f"files: {result.note}, window 10:40–11:10"


@pytest.mark.asyncio
async def test_a_long_unmatched_list_is_shortened(tmp_path: Path) -> None:
    result = await fetch(*(tmp_path / f"{i}.log" for i in range(8)))

    assert result.note.endswith(f"{tmp_path / '4.log'} and 3 more")


@pytest.mark.asyncio
async def test_empty_files_are_empty(tmp_path: Path) -> None:
    (tmp_path / "a.log").write_text("")
    (tmp_path / "b.log.gz").write_bytes(gzip.compress(b""))

    result = await fetch(tmp_path / "a.log", tmp_path / "b.log.gz")

    assert (result.status, result.note, result.lines) == ("empty", "", [])


@pytest.mark.asyncio
async def test_binary_files_are_skipped(tmp_path: Path) -> None:
    garbage = tmp_path / "core.log"
    garbage.write_bytes(random.Random(7).randbytes(50_000))
    zipped_garbage = tmp_path / "blob.log.gz"
    zipped_garbage.write_bytes(gzip.compress(random.Random(8).randbytes(20_000)))

    only_binary = await fetch(garbage)
    mixed = await fetch(garbage, zipped_garbage, _text_log(tmp_path))

    assert (only_binary.status, only_binary.note) == ("error", f"skipped binary {garbage}")
    assert (mixed.status, mixed.note) == ("ok", f"skipped binary {garbage}, {zipped_garbage}")
    assert texts(mixed) == ["2026-03-14T10:41:00Z fine"]


def _text_log(tmp_path: Path) -> Path:
    log = tmp_path / "text.log"
    log.write_text("2026-03-14T10:41:00Z fine\n")
    return log


@pytest.mark.asyncio
async def test_invalid_utf8_and_nul_padding_are_tolerated(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    # copytruncate leaves NULs where the old content was
    log.write_bytes(b"\0" * 200_000 + b"2026-03-14T10:41:00Z caf\xe9 \xff\xfe\n2026-03-14T10:42:00Z ok\n")

    result = await fetch(log)

    assert (result.status, result.note) == ("ok", "")
    assert texts(result) == ["2026-03-14T10:41:00Z caf\ufffd \ufffd\ufffd", "2026-03-14T10:42:00Z ok"]


@pytest.mark.asyncio
async def test_huge_lines_are_cut_and_said_so(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    huge = "x" * 1_000_000
    log.write_text(f"2026-03-14T10:41:00Z {huge}\n2026-03-14T10:42:00Z after\n2026-03-14T10:43:00Z {huge}")

    result = await fetch(log, max_bytes_per_line=64_000)

    assert [len(t) for t in texts(result)] == [64_000, len("2026-03-14T10:42:00Z after"), 64_000]
    assert texts(result)[1] == "2026-03-14T10:42:00Z after"
    assert (result.status, result.note) == ("ok", "2 lines cut to 64000 bytes")


@pytest.mark.asyncio
async def test_a_line_of_exactly_the_limit_is_whole(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("y" * 100 + "\n")

    result = await fetch(log, max_bytes_per_line=100)

    assert texts(result) == ["y" * 100]
    assert "cut" not in result.note and result.note.startswith("no readable time in")


@pytest.mark.asyncio
async def test_corrupt_gzip_keeps_what_was_read(tmp_path: Path) -> None:
    good = _text_log(tmp_path)
    lines = "".join(f"2026-03-14T10:{40 + i % 30:02d}:00Z line {i}\n" for i in range(20_000))
    cut = tmp_path / "cut.log.gz"
    cut.write_bytes(gzip.compress(lines.encode())[:-2_000])
    bad = tmp_path / "bad.log.gz"
    bad.write_bytes(b"\x1f\x8b not really gzip")

    result = await fetch(good, cut, bad)

    assert result.status == "partial"
    assert result.note == f"unreadable: {cut} (corrupt gzip), {bad} (corrupt gzip)"
    assert 1 < len(result.lines) < 20_001
    assert "2026-03-14T10:41:00Z fine" in texts(result)


@pytest.mark.asyncio
async def test_over_max_lines_the_newest_are_kept_and_the_rest_counted(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text(
        "2026-03-14T10:39:00Z before the window\n"
        + "".join(f"2026-03-14T10:41:{i:02d}Z line {i}\n" for i in range(50))
        + "2026-03-14T11:20:00Z after the window\n"
    )

    capped = await fetch(log, query=LogQuery("checkout", WINDOW, max_lines=10))
    exact = await fetch(log, query=LogQuery("checkout", WINDOW, max_lines=50))

    assert (capped.status, capped.note) == (
        "partial",
        "over 10 lines: the oldest 40 of the window were left out",
    )
    assert texts(capped) == [f"2026-03-14T10:41:{i:02d}Z line {i}" for i in range(40, 50)]
    assert (exact.status, len(exact.lines), exact.note) == ("ok", 50, "")


@pytest.mark.asyncio
async def test_syslog_year_across_new_year(tmp_path: Path) -> None:
    log = tmp_path / "syslog"
    log.write_text("Dec 31 23:55:00 host a: old year\nJan  1 00:05:00 host a: new year\n")
    written = datetime(2027, 1, 1, 0, 6, tzinfo=UTC).timestamp()  # the year comes from the file's time
    os.utime(log, (written, written))
    window = TimeWindow(datetime(2026, 12, 31, 23, 50, tzinfo=UTC), datetime(2027, 1, 1, 0, 10, tzinfo=UTC))

    result = await fetch(log, query=LogQuery("checkout", window))

    assert [line.ts for line in result.lines] == [
        datetime(2026, 12, 31, 23, 55, tzinfo=UTC),
        datetime(2027, 1, 1, 0, 5, tzinfo=UTC),
    ]


@pytest.mark.asyncio
async def test_lines_of_several_files_come_out_in_time_order(tmp_path: Path) -> None:
    (tmp_path / "b.log").write_text("2026-03-14T10:41:00Z b1\n2026-03-14T10:43:00Z b2\n")
    (tmp_path / "a.log").write_text("2026-03-14T10:42:00Z a1\n2026-03-14T10:44:00Z a2\n")

    result = await fetch(tmp_path / "*.log")

    assert [t.split()[1] for t in texts(result)] == ["b1", "a1", "b2", "a2"]


def test_paths_are_required() -> None:
    with pytest.raises(ValueError, match="at least one path"):
        FileSource("files", [])


@pytest.mark.asyncio
async def test_reading_leaves_the_event_loop_free(tmp_path: Path) -> None:
    """While a big file is read, the loop keeps running other tasks: no pause between two ticks of a
    1 ms ticker comes near the length of the read (a blocked loop would pause for all of it; a busy
    machine may pause it for a while, never that long)."""
    log = tmp_path / "big.log"
    log.write_text("".join(f"2026-03-14T10:41:00Z line {i} {'x' * 100}\n" for i in range(150_000)))
    stamps: list[float] = []
    reading = True

    async def tick() -> None:
        while reading:
            stamps.append(time.monotonic())
            await asyncio.sleep(0.001)

    started = time.monotonic()
    ticker = asyncio.create_task(tick())
    result = await fetch(log, query=LogQuery("checkout", WINDOW, max_lines=1_000_000))
    ended = time.monotonic()
    reading = False
    await ticker

    assert len(result.lines) == 150_000
    moments = [started, *(t for t in stamps if t <= ended), ended]
    longest = max(b - a for a, b in itertools.pairwise(moments))
    assert len(moments) > 3 and longest < 0.8 * (ended - started)  # blocked: one pause, all of it


@pytest.mark.asyncio
async def test_a_big_file_is_searched_by_time_not_scanned(tmp_path: Path) -> None:
    """The window at the end of a 9 MB file is found by bisection: the lines before it are never read,
    and what is read is exactly the window."""
    log = tmp_path / "big.log"
    start = datetime(2026, 3, 14, 0, 0, tzinfo=UTC)
    with log.open("w") as out:
        for second in range(86_400):
            out.write(
                f"{start + timedelta(seconds=second):%Y-%m-%dT%H:%M:%S}Z worker {second} tick {'x' * 60}\n"
            )
    window = TimeWindow(datetime(2026, 3, 14, 23, 0, tzinfo=UTC), datetime(2026, 3, 14, 23, 30, tzinfo=UTC))

    source = FileSource("files", [str(log)])
    result = await source.fetch(LogQuery("checkout", window))
    before = _bytes_read()
    lines = list(result.iter_lines())
    read = _bytes_read() - before

    assert (
        len(lines) == 1800
        and lines[0].ts == window.start
        and lines[-1].ts == window.end - timedelta(seconds=1)
    )
    assert read < log.stat().st_size / 4  # a scan would read all of it
    assert (result.status, result.note) == ("ok", "")
    assert result.dating == "big.log 100.0% dated (iso8601)"


@pytest.mark.asyncio
async def test_a_file_out_of_time_order_is_read_whole(tmp_path: Path) -> None:
    log = tmp_path / "shuffled.log"
    rows = [
        f"2026-03-14T{(h * 7) % 24:02d}:{m:02d}:00Z line {h} {m} {'y' * 700}\n"
        for h in range(24)
        for m in range(60)
    ]
    log.write_text("".join(rows * 5))
    window = TimeWindow(datetime(2026, 3, 14, 10, 0, tzinfo=UTC), datetime(2026, 3, 14, 11, 0, tzinfo=UTC))

    result = await fetch(log, query=LogQuery("checkout", window))

    assert len(result.lines) == 60 * 5
    assert "out of time order, read whole" in result.note


@pytest.mark.asyncio
async def test_undated_lines_under_a_window_are_all_read_and_said(tmp_path: Path) -> None:
    log = tmp_path / "plain.log"
    log.write_text("no time at all\nstill none\n")

    result = await fetch(log)

    assert texts(result) == ["no time at all", "still none"]
    assert result.note == f"no readable time in {log}: the window could not be applied, all of it was read"


@pytest.mark.asyncio
async def test_cri_partial_lines_are_joined(tmp_path: Path) -> None:
    log = tmp_path / "container.log"
    log.write_text(
        "2026-03-14T10:41:00.000000001Z stdout P first half \n"
        "2026-03-14T10:41:00.000000002Z stdout F second half\n"
        "2026-03-14T10:42:00Z stderr F whole\n"
    )

    result = await fetch(log)

    assert [(line.text, line.ts) for line in result.lines] == [
        ("first half second half", at(41)),
        ("whole", at(42)),
    ]


def _bytes_read() -> int:
    """What this process has read so far, from the kernel's count."""
    with open("/proc/self/io") as counters:
        return next(int(line.split()[1]) for line in counters if line.startswith("rchar:"))
