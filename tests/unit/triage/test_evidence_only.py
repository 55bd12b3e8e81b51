"""Evidence-only mode: real hypotheses from known patterns and log anomalies, and the novelty cap."""

from __future__ import annotations

import pytest

from tests.unit.triage.context import PAST, context, entry
from workers.triage.evidence_only import evidence_only_report
from workers.triage.grounding import GroundingContext, ground
from workers.triage.novelty import apply_novelty
from workers.triage.report import MAX_HYPOTHESES, ModelReport


def test_a_known_pattern_leads_with_its_root_cause_and_the_log_lines_behind_it() -> None:
    report = apply_novelty(evidence_only_report(context(), "no LLM is configured"), context())
    assert (
        report.mode == "evidence-only" and report.mode_reason == "no LLM is configured" and not report.novel
    )
    top = report.hypotheses[0]
    # The mechanism first, the past incident with that cause cited, the deploy before it as the trigger.
    assert top.statement.startswith(
        "Connection pool exhausted (as in INC-2025-0912), after a deploy of a new version at 10:49"
    )
    # Low: the only later anomaly is the injected line, which may neither cite nor corroborate.
    assert top.confidence == "low"
    assert [(r.kind, r.id) for r in top.evidence] == [
        ("log", "T7a6a1779"), ("log", "T467fbf04"), ("incident", "INC-2025-0912"),
    ]  # fmt: skip
    assert [(a.action_type, a.target) for a in top.actions] == [("rollback", "payments-svc")]
    # One hypothesis explains the anomalies, and says so, in order; the injected warning is no anomaly
    # and no evidence, but it is flagged.
    assert "Chain: deploy of a new version at 10:49 → connection pool exhausted" in top.detail
    assert "note: <*>" not in top.detail and "T218d0d08" not in [r.id for r in top.evidence]
    assert report.grounding.suspicious == {"T218d0d08": "instructions to the model"}
    assert report.summary.cause == top.statement and report.summary.cause_confidence == "low"
    assert [h.id for h in report.hypotheses] == ["H1"]


def test_with_nothing_known_and_new_templates_it_is_novel_and_capped_at_suggest() -> None:
    ctx = context(known=False)
    report = apply_novelty(evidence_only_report(ctx, "no LLM is configured"), ctx)
    assert report.novel and report.action_cap == "suggest"
    assert "3 of 3 anomalous log templates never seen before" in report.novelty_reason
    assert not any(h.statement.startswith("Same cause") or "(as in" in h.statement for h in report.hypotheses)


def test_known_templates_surging_without_a_past_incident_are_not_called_novel() -> None:
    surging = [
        entry(
            f"T{i:08x}", "surging", "error", f"<TS> ERROR api thing {i} failed", f"ERROR api thing {i} failed"
        )
        for i in range(3)
    ]
    ctx = context(known=False, entries=surging)
    report = apply_novelty(evidence_only_report(ctx, "x"), ctx)
    assert not report.novel and report.action_cap is None and len(report.hypotheses) == 3


def test_no_evidence_at_all_still_answers_plainly() -> None:
    ctx = context(known=False, entries=[])
    report = evidence_only_report(ctx, "no LLM is configured")
    assert report.hypotheses == [] and report.summary.cause == "unknown"
    assert report.summary.next.startswith("Gather more evidence")


def test_a_symptom_without_a_mechanism_is_said_so_with_its_whole_template_below() -> None:
    long = "<TS> ERROR payments-svc charge failed for reason " + "x" * 300 + " at the end"
    line = "2026-03-14T10:49:11Z ERROR payments-svc charge failed for reason xxx at the end"
    ctx = context(known=False, entries=[entry("T00000001", "new", "error", long, line)])
    report = evidence_only_report(ctx, "the LLM failed: timeout")
    assert report.novel and report.mode_reason == "the LLM failed: timeout"  # novelty applied here too
    [symptom] = report.hypotheses
    assert symptom.statement == (
        "Symptom without a known mechanism: error lines in payments-svc (new, ×400 since 10:49)"
    )
    assert symptom.detail == f"`{long}`"  # never cut
    assert [(r.kind, r.id, r.quote) for r in symptom.evidence] == [("log", "T00000001", line)]
    assert "the strongest ×400 (new)" in report.summary.what
    assert report.summary.what.startswith("Reported: checkout 504s.")
    assert report.summary.next == symptom.checks[0]


def test_every_evidence_only_citation_survives_grounding() -> None:
    ctx = context()
    report = evidence_only_report(ctx, "x")
    as_model = ModelReport(summary=report.summary, hypotheses=report.hypotheses)
    _, kept, stats = ground(as_model, GroundingContext.of(ctx))
    assert stats.dropped_refs == stats.dropped_hypotheses == stats.dropped_actions == 0
    assert sum(len(h.evidence) for h in kept) == sum(len(h.evidence) for h in report.hypotheses)


def test_weak_or_unrelated_past_incidents_stay_low_or_out() -> None:
    weak = PAST.model_copy(
        update={
            "record_id": "INC-2024-0101", "signature": 0.0, "score": 0.55,
            "title": "Checkout failures", "root_cause": "a bad route table on one router",
        }
    )  # fmt: skip
    ctx = context()
    assert ctx.knowledge is not None
    ctx.knowledge.matches = [weak]
    report = evidence_only_report(ctx, "x")
    patterns = [h for h in report.hypotheses if h.statement.startswith("Same cause")]
    assert [h.statement.split(":")[0] for h in patterns] == ["Same cause as INC-2024-0101"]
    [h] = patterns
    assert h.confidence == "low" and [r.kind for r in h.evidence] == ["incident"]  # no log line matched
    assert any("none of today's anomalies match" in c for c in h.checks)
    assert all(h.confidence != "high" for h in report.hypotheses)


@pytest.mark.parametrize(
    ("fix", "expected"),
    [
        ("Restarted payments-svc pods one by one.", [("restart", "payments-svc")]),
        ("Scaled the deployment from 4 to 8 replicas.", [("scale", "payments-svc")]),
        ("rollback to 2.8", [("rollback", "payments-svc")]),
        ("Raised the pool size in the config.", []),
        ("", []),
    ],
)
def test_an_action_only_when_the_past_fix_names_a_typed_one(
    fix: str, expected: list[tuple[str, str]]
) -> None:
    ctx = context()
    assert ctx.knowledge is not None
    ctx.knowledge.matches = [PAST.model_copy(update={"fix": fix})]
    top = evidence_only_report(ctx, "x").hypotheses[0]
    assert top.statement.startswith("Connection pool exhausted (as in INC-2025-0912)")
    assert [(a.action_type, a.target) for a in top.actions] == expected


def test_at_most_the_board_size_and_patterns_first() -> None:
    errors = [
        entry(
            f"T{i:08x}", "surging", "error", f"<TS> ERROR payments-svc step{i} broke", f"ERROR step{i} broke"
        )
        for i in range(6)
    ]
    ctx = context(entries=errors)
    assert ctx.knowledge is not None
    ctx.knowledge.matches = [PAST.model_copy(update={"record_id": f"INC-{i}"}) for i in range(4)]
    report = evidence_only_report(ctx, "x")
    assert len(report.hypotheses) == MAX_HYPOTHESES
    assert [h.id for h in report.hypotheses] == [f"H{i}" for i in range(1, MAX_HYPOTHESES + 1)]
    assert sum(h.statement.startswith("Same cause") for h in report.hypotheses[:3]) == 3
