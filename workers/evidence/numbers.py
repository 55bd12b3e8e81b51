"""Numbers that carry meaning (latencies, sizes, ratios, status codes, queue depths), kept beside the
masked template as ranges, so that "latency 100 ms → 5,000 ms" survives the masking into `<NUM>`.

A number carries meaning when a unit follows it (`250ms`, `850MB`, `93%`) or a key that names a
measure precedes it (`latency=`, `status:`, `messages_ready=`); ids, ports, pids and times do not.
Each is tracked by its name (the key, else the unit and its place in the line) per window.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_UNIT = r"(?:ms|msec|s|sec|secs|us|µs|ns|m|min|h|%|[KMGT]i?B|[kmgt]b|B|bytes|req/s|rps|qps)"
_MEASURE = (
    r"latency|duration|took|elapsed|time|size|bytes|mem|memory|heap|rss|used|free|avail\w*|usage|"
    r"ratio|rate|hit\w*|miss\w*|pct|percent|load|queue\w*|lag|depth|ready|pending|backlog|retries|retry|"
    r"attempts?|status|code|conn\w*|pool\w*|active|idle|wait\w*|threads?|cpu|disk|inflight|errors?|count|"
    r"p50|p90|p95|p99|max|min|avg|mean|limit|capacity|replicas|restarts?|messages\w*"
)
_NUMBER = re.compile(
    rf"(?:\b(?P<key>[A-Za-z_][\w.-]{{0,40}}+)[\"']?\s?[=:]?\s?)?(?<![\w.])"
    rf"(?P<num>-?\d+(?:\.\d+)?)(?: ?(?P<unit>{_UNIT})(?![\w/]))?(?![\w.:/-])"
)
_MEASURE_WORD = re.compile(rf"(?i:{_MEASURE})")
REACH = 2000  # characters of a line searched for numbers: a huge line is not read to its end


@dataclass(frozen=True)
class Slot:
    """Where a meaningful number stands in a line, and what it is called; lines of one shape (their
    digits all alike) have their numbers at the same places, so a slot found once serves them all."""

    start: int
    end: int
    name: str
    unit: str


def slots(text: str) -> tuple[Slot, ...]:
    """The meaningful numbers of `text`: those a unit follows or a measure's key precedes."""
    found_slots: list[Slot] = []
    for found in _NUMBER.finditer(text, 0, REACH):
        key, unit = found["key"], found["unit"] or ""
        if key is not None and _MEASURE_WORD.search(key) is None:
            key = None
        if key is None and not unit:
            continue
        name = key or f"#{len(found_slots) + 1} ({unit})"
        found_slots.append(Slot(found.start("num"), found.end("num"), name, unit))
        if len(found_slots) >= MAX_NAMES:
            break
    return tuple(found_slots)


_SCALE = {"us": 1e-3, "µs": 1e-3, "ns": 1e-6, "s": 1e3, "sec": 1e3, "secs": 1e3, "m": 6e4, "min": 6e4}
_SCALE.update({"h": 3.6e6, "kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12, "kib": 1024.0, "mib": 1024.0**2})
_SCALE.update({"gib": 1024.0**3, "tib": 1024.0**4})
MAX_NAMES = 4


def _value(number: str, unit: str | None) -> float:
    """The number in its family's base unit (milliseconds, bytes), so `1.2s` and `900ms` compare."""
    return float(number) * _SCALE.get((unit or "").lower(), 1.0)


@dataclass
class Range:
    count: int = 0
    low: float = 0.0
    high: float = 0.0
    first: str = ""
    last: str = ""
    low_text: str = ""
    high_text: str = ""

    def add(self, value: float, text: str) -> None:
        if not self.count:
            self.low = self.high = value
            self.first = self.low_text = self.high_text = text
        elif value < self.low:
            self.low, self.low_text = value, text
        elif value > self.high:
            self.high, self.high_text = value, text
        self.count += 1
        self.last = text

    def span(self) -> str:
        return self.low_text if self.low == self.high else f"{self.low_text}–{self.high_text}"

    def course(self) -> str:
        """How the values went: `100ms → 5000ms (max 5000ms)`, or the one value."""
        if self.low == self.high:
            return self.first
        peak = f" (max {self.high_text})" if self.high_text not in (self.first, self.last) else ""
        return f"{self.first} → {self.last}{peak}"


@dataclass
class Measures:
    """One template's meaningful numbers, by name and window."""

    ranges: dict[str, dict[str, Range]] = field(default_factory=dict)  # name → window → range

    def add(self, text: str, places: tuple[Slot, ...], window: str) -> float:
        """Record the line's numbers at `places`; returns how far they lie outside the baseline's ranges
        (0: inside), in multiples of the baseline's spread, so that the most telling line can be chosen."""
        outside = 0.0
        for slot in places:
            number = text[slot.start : slot.end]
            try:
                value = _value(number, slot.unit)
            except ValueError:  # not the shape the slot was found in
                continue
            by_window = self.ranges.setdefault(slot.name, {})
            by_window.setdefault(window, Range()).add(value, number + slot.unit)
            baseline = by_window.get("baseline")
            if window != "baseline" and baseline is not None:
                spread = max(baseline.high - baseline.low, abs(baseline.high) * 0.1, 1e-9)
                outside = max(outside, max(baseline.low - value, value - baseline.high, 0.0) / spread)
        return outside

    def describe(self, limit: int = 2) -> list[str]:
        """e.g. `latency: baseline 95ms–130ms; incident 110ms → 5000ms`, what changed most first."""
        described: list[tuple[float, str]] = []
        for name, by_window in self.ranges.items():
            incident, baseline = by_window.get("incident"), by_window.get("baseline")
            if incident is None:
                continue
            if baseline is None:
                if incident.low != incident.high:
                    described.append((1.0, f"{name}: {incident.course()}"))
                continue
            spread = max(baseline.high - baseline.low, abs(baseline.high) * 0.1, 1e-9)
            change = max(baseline.low - incident.low, incident.high - baseline.high, 0.0) / spread
            if change > 0:
                text = f"{name}: baseline {baseline.span()}; incident {incident.course()}"
                described.append((change, text))
        return [text for _, text in sorted(described, key=lambda item: -item[0])[:limit]]
