from datetime import UTC, datetime, timedelta

import pytest

from workers.errors import WindowParseError
from workers.timewindow import parse_lines, parse_window

NOW = datetime(2026, 3, 14, 11, 10, 30, tzinfo=UTC)


def parse(text: str, zone: str = "UTC"):
    return parse_window(text, now=NOW, zone=zone, default_minutes=30)


@pytest.mark.parametrize(
    ("text", "start", "end", "rest"),
    [
        ("checkout slow since 10:40", "10:40:00", "11:10:30", "checkout slow"),
        ("last 30m errors on payments", "10:40:30", "11:10:30", "errors on payments"),
        ("past 2 hours", "09:10:30", "11:10:30", ""),
        ("last 45 minutes", "10:25:30", "11:10:30", ""),
        ("from 10:40 to 11:05 payments", "10:40:00", "11:05:00", "payments"),
        ("between 10:40 and 11:00", "10:40:00", "11:00:00", ""),
        ("10:40-11:00 db", "10:40:00", "11:00:00", "db"),
        ("since 10:40:15", "10:40:15", "11:10:30", ""),
    ],
)
def test_forms(text: str, start: str, end: str, rest: str) -> None:
    window, remainder = parse(text)
    assert window.start.strftime("%H:%M:%S") == start
    assert window.end.strftime("%H:%M:%S") == end
    assert remainder == rest


def test_default_window_keeps_all_text() -> None:
    window, rest = parse("users see 502s")
    assert window.end - window.start == timedelta(minutes=30)
    assert window.phrase == ""
    assert rest == "users see 502s"


def test_clock_time_later_than_now_means_yesterday() -> None:
    window, _ = parse("since 23:50")
    assert window.start == datetime(2026, 3, 13, 23, 50, tzinfo=UTC)


def test_local_zone() -> None:
    window, _ = parse("since 10:40", zone="Europe/Berlin")  # 10:40 CET is 09:40 UTC
    assert window.start == datetime(2026, 3, 14, 9, 40, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("since 25:99", "not a time of day"),
        ("last 0m", "empty window"),
        ("last 9d", "longer than 7 days"),
        ("since 10am", "could not read the time"),
        ("from 11:05 to 11:30", "ends in the future"),
    ],
)
def test_bad_windows_explain_themselves(text: str, says: str) -> None:
    with pytest.raises(WindowParseError, match=says):
        parse(text)


@pytest.mark.parametrize(
    ("text", "tail", "errors_only", "rest"),
    [
        ("post the last 10 logs", 10, False, "post"),
        ("checkout last 25 lines since 10:40", 25, False, "checkout since 10:40"),
        ("tail payments", 20, False, "payments"),
        ("errors only last 30m", None, True, "last 30m"),
        ("show me only errors from the newest 5 log lines", 5, True, "show me from"),
        ("checkout slow since 10:40", None, False, "checkout slow since 10:40"),
    ],
)
def test_requests_about_lines_are_read_as_they_say(
    text: str, tail: int | None, errors_only: bool, rest: str
) -> None:
    request, left = parse_lines(text)
    assert (request.tail, request.errors_only, left) == (tail, errors_only, rest)
    parse(left)  # what is left is a window phrase or none, never an error


def test_a_line_count_out_of_range_is_explained() -> None:
    with pytest.raises(WindowParseError, match="between 1 and 200 of the newest lines"):
        parse_lines("last 5000 lines")
