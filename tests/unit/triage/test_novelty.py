"""The novelty cap, for either mode: nothing similar on record and mostly never-seen log templates."""

from __future__ import annotations

import pytest

from tests.unit.triage.context import context, entry
from workers.models import EvidenceEntry
from workers.triage.novelty import apply_novelty
from workers.triage.report import Summary, TriageReport


def _llm_report() -> TriageReport:
    summary = Summary(what="504s", cause="pool", cause_confidence="medium", next="look")
    return TriageReport(mode="llm", summary=summary)


def _entries(new: int, surging: int) -> list[EvidenceEntry]:
    kinds = ["new"] * new + ["surging"] * surging + ["steady"]  # steady ones never count
    return [
        entry(f"T{i:08x}", k, "error", f"<TS> ERROR thing {i}", f"ERROR thing {i}")
        for i, k in enumerate(kinds)
    ]


@pytest.mark.parametrize(
    ("new", "surging", "novel"), [(3, 0, True), (2, 2, True), (1, 2, False), (0, 3, False)]
)
def test_novel_needs_at_least_half_of_the_anomalies_new(new: int, surging: int, novel: bool) -> None:
    ctx = context(known=False, entries=_entries(new, surging))
    report = apply_novelty(_llm_report(), ctx)
    assert report.novel is novel and report.action_cap == ("suggest" if novel else None)
    if novel:
        assert report.novelty_reason == (
            f"No similar past incident (no past incident scores above 0.25) and {new} of {new + surging} "
            "anomalous log templates never seen before: this looks novel and needs human judgment."
        )


def test_without_a_digest_nothing_similar_is_enough() -> None:
    ctx = context(known=False)
    ctx.evidence = None
    report = apply_novelty(_llm_report(), ctx)
    assert report.novel and report.action_cap == "suggest"
    assert report.novelty_reason.startswith("No similar past incident (no past incident scores above 0.25): ")


def test_a_known_incident_or_no_knowledge_view_is_never_novel() -> None:
    known = context()
    assert apply_novelty(_llm_report(), known) == _llm_report()
    unknown = context(known=False)
    unknown.knowledge = None  # the knowledge search failed: a gap, not novelty
    assert not apply_novelty(_llm_report(), unknown).novel


def test_a_mechanism_seen_for_the_first_time_is_novel_even_among_surging_symptoms() -> None:
    oom = "2026-03-14T10:45:00Z node-7 kernel: Out of memory: Killed process 4182 (java)"
    entries = [*_entries(0, 3), entry("T0000000a", "new", "unknown", "<TS> kernel: Out of memory <*>", oom)]
    report = apply_novelty(_llm_report(), context(known=False, entries=entries))
    assert report.novel and "1 of 4 anomalous log templates never seen before" in report.novelty_reason


def test_idempotent() -> None:
    ctx = context(known=False)
    once = apply_novelty(_llm_report(), ctx)
    assert apply_novelty(once, ctx) == once
