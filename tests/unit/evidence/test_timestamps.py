from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from workers.evidence.timestamps import Dater, detect

REFERENCE = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("line", "name", "moment"),
    [
        ("2026-03-14T10:41:02.123Z GET /x", "iso8601", datetime(2026, 3, 14, 10, 41, 2, 123000, tzinfo=UTC)),
        (
            "2026-03-14 10:41:02,5 INFO python",
            "iso8601",
            datetime(2026, 3, 14, 10, 41, 2, 500000, tzinfo=UTC),
        ),
        ("2026/03/14 10:41:02 [error] nginx", "iso8601", datetime(2026, 3, 14, 10, 41, 2, tzinfo=UTC)),
        (
            "<165>1 2026-03-14T11:41:02+01:00 host app - - msg",
            "iso8601",
            datetime(2026, 3, 14, 10, 41, 2, tzinfo=UTC),
        ),
        ("Mar 14 10:41:02 host sshd[1]: ok", "syslog", datetime(2026, 3, 14, 10, 41, 2, tzinfo=UTC)),
        ("[Sat Mar 14 10:41:02 2026] [error] apache", "syslog", datetime(2026, 3, 14, 10, 41, 2, tzinfo=UTC)),
        (
            '10.0.0.1 - - [14/Mar/2026:12:41:02 +0200] "GET / HTTP/1.1" 200 5',
            "common-log",
            datetime(2026, 3, 14, 10, 41, 2, tzinfo=UTC),
        ),
        (
            "14 Mar 2026 10:41:02,250 WARN log4j",
            "log4j-date",
            datetime(2026, 3, 14, 10, 41, 2, 250000, tzinfo=UTC),
        ),
        (
            "E0314 10:41:02.000123  7 main.go:1] klog",
            "klog",
            datetime(2026, 3, 14, 10, 41, 2, 123, tzinfo=UTC),
        ),
        ("260314 104102 148 INFO hdfs", "compact", datetime(2026, 3, 14, 10, 41, 2, tzinfo=UTC)),
        ("26/03/14 10:41:02 INFO spark", "yy/mm/dd", datetime(2026, 3, 14, 10, 41, 2, tzinfo=UTC)),
        (
            "20260314-10:41:2:606|Step|1|x",
            "yyyymmdd-clock",
            datetime(2026, 3, 14, 10, 41, 2, 606000, tzinfo=UTC),
        ),
        (
            "03-14 10:41:02.811  1702  2395 D Tag: x",
            "mm-dd",
            datetime(2026, 3, 14, 10, 41, 2, 811000, tzinfo=UTC),
        ),
        ("[03.14 10:41:02] chrome.exe - proxy", "mm.dd", datetime(2026, 3, 14, 10, 41, 2, tzinfo=UTC)),
        ("1773484862 node-1 kernel: x", "epoch", datetime(2026, 3, 14, 10, 41, 2, tzinfo=UTC)),
        ("1773484862250 node-1 kernel: x", "epoch", datetime(2026, 3, 14, 10, 41, 2, 250000, tzinfo=UTC)),
        (
            "[pod/checkout-7d9f8b6c5-x2k9p/app] 2026-03-14T10:41:02Z INFO x",
            "iso8601",
            datetime(2026, 3, 14, 10, 41, 2, tzinfo=UTC),
        ),
    ],
)
def test_each_format_is_detected_and_dated(line: str, name: str, moment: datetime) -> None:
    detected = detect([line] * 3, REFERENCE)
    assert detected.format is not None and detected.format.name == name
    dater = Dater(detected, REFERENCE)
    assert dater.date(line) == moment
    assert dater.summary() == f"100.0% dated ({name})"


def test_a_yearless_time_after_the_reference_is_last_year() -> None:
    lines = ["Dec 31 23:59:58 host a: old", "Jan  1 00:00:03 host a: new"]
    dater = Dater(
        detect(lines, datetime(2027, 1, 1, 0, 1, tzinfo=UTC)), datetime(2027, 1, 1, 0, 1, tzinfo=UTC)
    )
    assert [dater.date(line) for line in lines] == [
        datetime(2026, 12, 31, 23, 59, 58, tzinfo=UTC),
        datetime(2027, 1, 1, 0, 0, 3, tzinfo=UTC),
    ]


def test_continuations_take_the_previous_time_and_are_counted() -> None:
    lines = ["2026-03-14T10:41:02Z boom", "Traceback (most recent call last):", '  File "x.py", line 1', "ok"]
    dater = Dater(detect(lines, REFERENCE), REFERENCE)
    moments = [dater.date(line) for line in lines]
    assert moments == [datetime(2026, 3, 14, 10, 41, 2, tzinfo=UTC)] * 4
    assert dater.summary() == "25.0% dated (iso8601), 75.0% without a time of their own"
    assert not dater.undated_only()


def test_a_second_format_in_the_same_file_is_still_dated() -> None:
    lines = ["2026-03-14T10:41:02Z one"] * 5 + ["Mar 14 10:45:00 host other format"]
    dater = Dater(detect(lines, REFERENCE), REFERENCE)
    assert [dater.date(line) for line in lines][-1] == datetime(2026, 3, 14, 10, 45, tzinfo=UTC)
    assert set(dater.counts) == {"iso8601", "syslog"}


def test_zones_and_impossible_dates() -> None:
    dater = Dater(detect(["2026-03-14T10:41:02+05:30 x"], REFERENCE), REFERENCE)
    assert dater.date("2026-03-14T10:41:02+05:30 x") == datetime(
        2026, 3, 14, 10, 41, 2, tzinfo=timezone(timedelta(hours=5, minutes=30))
    )
    assert dater.date("2026-02-30T10:41:02Z not a day") == datetime(2026, 3, 14, 5, 11, 2, tzinfo=UTC)
    assert dater.counts["undated"] == 1


def test_nothing_dated_is_said() -> None:
    lines = ["no time here", "nor here"]
    dater = Dater(detect(lines, REFERENCE), REFERENCE)
    assert [dater.date(line) for line in lines] == [None, None]
    assert (
        dater.undated_only()
        and dater.summary() == "0.0% dated (no format), 100.0% without a time of their own"
    )
