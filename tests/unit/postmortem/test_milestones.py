"""Log milestones kept from each triage's evidence and merged across runs, in the real Redis."""

from __future__ import annotations

import redis

from tests.unit.postmortem.builders import at
from workers.models import EvidenceEntry, EvidenceView
from workers.postmortem import milestones


def _entry(kind: str, severity: str, template: str, first: float, last: float) -> EvidenceEntry:
    return EvidenceEntry(
        kind=kind, severity=severity, count=5, template=template, first_seen=at(first), last_seen=at(last)
    )


def _view(*entries: EvidenceEntry, bursts: list[tuple[float, int]] = ()) -> EvidenceView:  # type: ignore[assignment]
    return EvidenceView(
        service="orders-api",
        entries=list(entries),
        tokens=1,
        budget_tokens=10,
        encoding="o200k_base",
        exact=True,
        bursts=[(at(m), n) for m, n in bursts],
    )


DEPLOY = _entry("new", "info", "deploy started version=<*>", 2, 2)
ERRORS = _entry("new", "error", "pool exhausted after <*>ms", 3, 40)
STEADY = _entry("steady", "error", "dns lookup failed", -50, 40)
NOISE = _entry("new", "info", "request ok path=<*>", 1, 40)


def test_one_run_gives_changes_first_error_and_peak(client: redis.Redis) -> None:
    found = milestones.from_view(_view(DEPLOY, ERRORS, STEADY, NOISE, bursts=[(10, 30), (12, 90)]), "1.0")
    assert [(m.kind, m.at) for m in found] == [
        ("change", at(2)),
        ("first error", at(3)),
        ("error peak", at(12)),
    ]


def test_runs_merge_and_recovery_needs_quiet_logs_after_the_last_error(client: redis.Redis) -> None:
    milestones.record(client, "INC-1", _view(DEPLOY, ERRORS, bursts=[(12, 90)]), at(42), "1.0")
    assert "recovery" not in [m.kind for m in milestones.load(client, "INC-1")]  # 2 quiet minutes only
    later = _entry("new", "error", "pool exhausted after <*>ms", 1, 50)  # a wider window saw more
    milestones.record(client, "INC-1", _view(DEPLOY, later, bursts=[(30, 40)]), at(70), "2.0")
    merged = [(m.kind, m.at, m.message_ts) for m in milestones.load(client, "INC-1")]
    assert merged == [
        ("first error", at(1), "2.0"),
        ("change", at(2), "1.0"),
        ("error peak", at(12), "1.0"),
        ("recovery", at(50), "2.0"),
    ]
