from datetime import UTC, datetime, timedelta

from workers.evidence.compare import compare, error_bursts
from workers.evidence.model import LogLine, TimeWindow
from workers.evidence.templates import TemplateMiner

BASE = TimeWindow(datetime(2026, 3, 1, 11, 0, tzinfo=UTC), datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
INCIDENT = TimeWindow(datetime(2026, 3, 1, 12, 0, tzinfo=UTC), datetime(2026, 3, 1, 13, 0, tzinfo=UTC))


def _spread(miner: TemplateMiner, text: str, count: int, window: TimeWindow, label: str) -> str:
    """`count` lines evenly spread over `window`."""
    step = (window.end - window.start) / count
    ids = {miner.add(LogLine(text.format(n=n), ts=window.start + n * step), label) for n in range(count)}
    (template_id,) = ids
    return template_id


def _kinds(miner: TemplateMiner) -> dict[str, tuple[str, float | None]]:
    return {f.template.id: (f.kind, f.ratio) for f in compare(miner, INCIDENT, BASE)}


def test_new_surging_vanished_and_steady() -> None:
    miner = TemplateMiner()
    steady = _spread(miner, "request served in {n}ms", 60, BASE, "baseline")
    _spread(miner, "request served in {n}ms", 66, INCIDENT, "incident")
    surging = _spread(miner, "ERROR upstream timeout on pool {n}", 10, BASE, "baseline")
    _spread(miner, "ERROR upstream timeout on pool {n}", 40, INCIDENT, "incident")
    vanished = _spread(miner, "heartbeat from scheduler seq {n}", 12, BASE, "baseline")
    new = _spread(miner, "FATAL shard {n} lost its replica set", 2, INCIDENT, "incident")

    kinds = _kinds(miner)
    assert kinds[steady] == ("steady", 1.1)
    assert kinds[surging] == ("surging", 4.0)
    assert kinds[vanished] == ("vanished", 0.0)
    assert kinds[new] == ("new", None)
    assert len(kinds) == 4


def test_findings_are_sorted_by_score_with_severity_kind_and_volume() -> None:
    miner = TemplateMiner()
    _spread(miner, "INFO cache warmed {n}", 500, BASE, "baseline")
    _spread(miner, "INFO cache warmed {n}", 500, INCIDENT, "incident")
    _spread(miner, "INFO new feature flag read {n}", 5, INCIDENT, "incident")
    _spread(miner, "ERROR payment declined by gateway {n}", 5, INCIDENT, "incident")
    _spread(miner, "ERROR payment declined by gateway {n}", 500, INCIDENT, "incident")  # same template

    findings = compare(miner, INCIDENT, BASE)
    assert [f.template.template for f in findings] == [
        "ERROR payment declined by gateway <NUM>",
        "INFO new feature flag read <NUM>",
        "INFO cache warmed <NUM>",
    ]
    assert [f.score for f in findings] == sorted((f.score for f in findings), reverse=True)


def test_floor_keeps_a_rare_baseline_template_from_surging() -> None:
    miner = TemplateMiner()
    rare = _spread(miner, "WARN slow disk {n}", 1, BASE, "baseline")
    _spread(miner, "WARN slow disk {n}", 6, INCIDENT, "incident")  # 6× the rate, but 6 < 3 × floor 3
    assert _kinds(miner)[rare] == ("steady", 6.0)

    _spread(miner, "WARN slow disk {n}", 3, INCIDENT, "incident")  # now 9 = 3 × the noise floor
    assert _kinds(miner)[rare] == ("surging", 9.0)
    assert compare(miner, INCIDENT, BASE, floor=4)[0].kind == "steady"


def test_rates_are_per_minute_so_window_lengths_compare() -> None:
    miner = TemplateMiner()
    short = TimeWindow(INCIDENT.start, INCIDENT.start + timedelta(minutes=10))
    same = _spread(miner, "job {n} queued", 60, BASE, "baseline")  # 1 per minute
    _spread(miner, "job {n} queued", 30, short, "incident")  # 3 per minute
    findings = {f.template.id: f for f in compare(miner, short, BASE)}
    assert findings[same].kind == "surging" and findings[same].ratio == 3.0


def test_a_one_off_baseline_line_does_not_count_as_vanished() -> None:
    miner = TemplateMiner()
    _spread(
        miner,
        "config reloaded by admin",
        2,
        TimeWindow(BASE.start, BASE.start + timedelta(minutes=1)),
        "baseline",
    )
    _spread(miner, "user {n} logged in", 5, INCIDENT, "incident")
    assert [f.kind for f in compare(miner, INCIDENT, BASE)] == ["new"]


def test_error_bursts_flags_minutes_well_above_the_median() -> None:
    miner = TemplateMiner()
    for minute in range(60):
        at = INCIDENT.start + timedelta(minutes=minute, seconds=5)
        for n in range(2):  # a steady trickle of two errors a minute
            miner.add(LogLine(f"ERROR request {n} failed", ts=at), "incident")
        miner.add(LogLine("INFO request ok", ts=at), "incident")
    spike = INCIDENT.start + timedelta(minutes=42)
    for n in range(9):
        miner.add(LogLine(f"FATAL worker {n} crashed", ts=spike + timedelta(seconds=n)), "incident")
    for _ in range(40):  # info noise does not count
        miner.add(LogLine("INFO request ok", ts=INCIDENT.start + timedelta(minutes=7)), "incident")

    assert error_bursts(miner, INCIDENT) == [(spike, 11)]
    assert error_bursts(miner, INCIDENT, bucket_minutes=5) == []  # 11 is not > 3 × 10


def test_error_bursts_needs_the_floor_when_errors_are_rare() -> None:
    miner = TemplateMiner()
    at = INCIDENT.start + timedelta(minutes=3)
    miner.add(LogLine("ERROR one failure", ts=at), "incident")
    miner.add(LogLine("ERROR one failure", ts=at), "incident")
    assert error_bursts(miner, INCIDENT) == []
    miner.add(LogLine("ERROR one failure", ts=at), "incident")
    assert error_bursts(miner, INCIDENT) == [(at, 3)]
    assert error_bursts(miner, BASE) == []  # outside the window
