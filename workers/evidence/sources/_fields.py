"""Timestamps and labels out of log records, shared by the sources that read structured logs."""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping
from datetime import UTC, datetime, timedelta, timezone

_ISO = re.compile(
    r"\[?(\d{4})[-/](\d{2})[-/](\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?(Z|[+-]\d{2}(?::?\d{2})?)?"
)
_EPOCH_SCALES = (1, 10**3, 10**6, 10**9)  # seconds, millis, micros, nanos
_LARGEST_SECONDS = 10**11  # the year 5138: anything larger is in a finer unit


def parse_iso(text: str) -> datetime | None:
    """The ISO 8601-like timestamp that `text` starts with, in UTC (a zoneless one is taken as UTC)."""
    match = _ISO.match(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micros = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        parsed = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), micros, _zone(zone)
        )
    except ValueError:
        return None
    return parsed.astimezone(UTC)


def _zone(text: str | None) -> timezone:
    if not text or text == "Z":
        return UTC
    digits = text[1:].replace(":", "")
    offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:] or 0))
    return timezone(-offset if text[0] == "-" else offset)


def from_epoch(value: float) -> datetime | None:
    """Epoch seconds, millis, micros or nanos, told apart by magnitude."""
    for scale in _EPOCH_SCALES:
        if abs(value) < _LARGEST_SECONDS * scale:
            try:
                return datetime.fromtimestamp(value / scale, UTC)
            except (OverflowError, OSError, ValueError):
                return None
    return None


def to_datetime(value: object) -> datetime | None:
    """A record's time field (ISO string, or epoch number or numeric string) as a UTC datetime."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return from_epoch(value)
    if isinstance(value, str):
        parsed = parse_iso(value)
        if parsed is None:
            try:
                return from_epoch(float(value))
            except ValueError:
                return None
        return parsed
    return None


def scalar_labels(record: Mapping[str, object], skip: Collection[str], prefix: str = "") -> dict[str, str]:
    """The record's scalar fields as strings, nested objects flattened to dotted names."""
    labels: dict[str, str] = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if name in skip or value is None:
            continue
        if isinstance(value, Mapping):
            labels.update(scalar_labels(value, skip, f"{name}."))
        elif isinstance(value, str):
            labels[name] = value
        elif isinstance(value, int | float | bool):
            labels[name] = json.dumps(value)
    return labels
