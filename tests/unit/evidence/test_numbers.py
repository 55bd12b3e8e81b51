from __future__ import annotations

from workers.evidence.numbers import Measures, slots


def test_meaningful_numbers_are_found_by_unit_or_measure_key() -> None:
    line = "GET /api/7 status=504 latency=5075ms from 10.0.0.7:8080 pid 4242 heap used 850MB"
    found = [(line[s.start : s.end], s.name, s.unit) for s in slots(line)]
    assert found == [("504", "status", ""), ("5075", "latency", "ms"), ("850", "used", "MB")]


def test_ranges_before_and_after_and_how_far_outside() -> None:
    measures = Measures()

    def add(line: str, window: str) -> float:  # the miner finds the places once per shape of line
        return measures.add(line, slots(line), window)

    for value in (95, 130, 110):
        assert add(f"req status=200 latency={value}ms", "baseline") == 0.0
    assert add("req status=200 latency=120ms", "incident") == 0.0
    far = add("req status=504 latency=5000ms", "incident")
    assert far > 100
    assert measures.describe() == [
        "latency: baseline 95ms–130ms; incident 120ms → 5000ms",
        "status: baseline 200; incident 200 → 504",
    ]


def test_unchanged_numbers_are_not_described() -> None:
    measures = Measures()
    places = slots("queue depth=5")
    for window in ("baseline", "incident"):
        measures.add("queue depth=5", places, window)
    assert measures.describe() == []
