"""Evidence-only mode: real hypotheses from known patterns and log anomalies, and the novelty cap."""

from __future__ import annotations

from tests.unit.triage.context import context, entry
from workers.triage.evidence_only import evidence_only_report
from workers.triage.novelty import apply_novelty


def test_a_known_pattern_leads_with_its_root_cause_and_the_log_lines_behind_it() -> None:
    report = apply_novelty(evidence_only_report(context(), "no LLM is configured"), context())
    assert (
        report.mode == "evidence-only" and report.mode_reason == "no LLM is configured" and not report.novel
    )
    top = report.hypotheses[0]
    assert top.statement.startswith("Same cause as INC-2025-0912: payments-svc wrapped ledger writes")
    assert top.confidence == "medium"  # never high without a model and a human
    assert [(r.kind, r.id) for r in top.evidence] == [("incident", "INC-2025-0912"), ("log", "T7a6a1779")]
    assert [(a.action_type, a.target) for a in top.actions] == [("rollback", "payments-svc")]
    statements = [h.statement for h in report.hypotheses]
    assert any("note: <*>" in s for s in statements)  # the unexplained warning, as an anomaly
    assert any(s.startswith("A change to payments-svc at 10:49") for s in statements)  # the deploy line
    assert report.summary.cause == top.statement and report.summary.cause_confidence == "medium"
    assert [h.id for h in report.hypotheses] == ["H1", "H2", "H3"]


def test_with_nothing_known_and_new_templates_it_is_novel_and_capped_at_suggest() -> None:
    ctx = context(known=False)
    report = apply_novelty(evidence_only_report(ctx, "no LLM is configured"), ctx)
    assert report.novel and report.action_cap == "suggest"
    assert "3 of 3 anomalous log templates never seen before" in report.novelty_reason
    assert all(h.confidence == "low" and not h.statement.startswith("Same cause") for h in report.hypotheses)


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
