from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from workers.evidence.records import cri, level_of, parse

T = datetime(2026, 3, 14, 10, 41, 2, tzinfo=UTC)


def test_json_keeps_level_and_error_fields_beside_the_message() -> None:
    record = parse(
        json.dumps(
            {
                "ts": "2026-03-14T10:41:02Z",
                "severity": "ERROR",
                "msg": "request failed",
                "error": "dial tcp 10.0.0.1:5432: connect: connection refused",
                "stack_trace": "at db.Pool.get(Pool.java:12)",
                "route": "/pay",
            }
        )
    )
    assert record is not None
    assert (record.message, record.ts, record.level) == ("request failed", T, "error")
    assert record.detail.splitlines() == [
        "error: dial tcp 10.0.0.1:5432: connect: connection refused",
        "stack_trace: at db.Pool.get(Pool.java:12)",
    ]
    assert record.labels == {"route": "/pay"}


def test_nested_error_objects_and_numeric_levels() -> None:
    record = parse(
        json.dumps(
            {
                "time": 1773484862,
                "level": 50,
                "msg": "job aborted",
                "err": {"message": "OOM", "stack": "at x"},
            }
        )
    )
    assert record is not None
    assert (record.level, record.detail) == ("error", "err.message: OOM\nerr.stack: at x")


def test_logfmt_with_quoted_values() -> None:
    record = parse('ts=2026-03-14T10:41:02Z level=warn msg="pool \\"main\\" at limit" err="timeout after 5s"')
    assert record is not None
    assert (record.message, record.ts, record.level, record.detail) == (
        'pool "main" at limit',
        T,
        "warning",
        "err: timeout after 5s",
    )


def test_docker_json_file_with_a_structured_application_line() -> None:
    inner = json.dumps({"level": "error", "message": "boom", "exception": "ValueError: bad"})
    record = parse(json.dumps({"log": inner + "\n", "stream": "stderr", "time": "2026-03-14T10:41:02.5Z"}))
    assert record is not None
    assert (record.message, record.level, record.detail, record.labels) == (
        "boom",
        "error",
        "exception: ValueError: bad",
        {"stream": "stderr"},
    )
    assert record.ts == datetime(2026, 3, 14, 10, 41, 2, 500000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "level"),
    [
        ("WARNING", "warning"),
        ("crit", "fatal"),
        (30, "info"),
        (503, "error"),
        (200, None),
        ("50", "error"),
        (True, None),
    ],
)
def test_level_values(value: object, level: str | None) -> None:
    assert level_of(value) == level


def test_plain_text_and_broken_json_are_not_records() -> None:
    assert parse("2026-03-14 plain line a=1") is None
    assert parse('{"msg": broken') is None
    assert parse("[1, 2]") is None


def test_cri_lines() -> None:
    assert cri("2026-03-14T10:41:02.123456789Z stderr P partial ") == (
        "2026-03-14T10:41:02.123456789Z",
        "partial ",
        True,
    )
    assert cri("not a cri line") is None
