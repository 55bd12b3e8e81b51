"""Evidence-only mode: real hypotheses from known patterns and log anomalies, and the novelty cap."""

from __future__ import annotations

import pytest

from tests.unit.triage.context import PAST, POOL_LINE, context, entry
from workers.knowledge.search import NOVELTY_THRESHOLD
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
    assert top.statement.startswith("Same cause as INC-2025-0912: payments-svc wrapped ledger writes")
    assert top.confidence == "medium"  # never high without a model and a human
    assert [(r.kind, r.id) for r in top.evidence] == [("incident", "INC-2025-0912"), ("log", "T7a6a1779")]
    assert [(a.action_type, a.target) for a in top.actions] == [("rollback", "payments-svc")]
    statements = [h.statement for h in report.hypotheses]
    assert not any("note: <*>" in s for s in statements)  # the injected warning is no anomaly…
    assert report.grounding.suspicious == {"T218d0d08": "instructions to the model"}  # …but flagged
    assert any(s.startswith("A change to payments-svc at 10:49") for s in statements)  # the deploy line
    assert report.summary.cause == top.statement and report.summary.cause_confidence == "medium"
    assert [h.id for h in report.hypotheses] == ["H1", "H2"]


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


def test_anomalies_are_stated_from_the_template_and_counts_with_the_exemplar_quoted() -> None:
    ctx = context(known=False)
    report = evidence_only_report(ctx, "the LLM failed: timeout")
    assert report.novel and report.mode_reason == "the LLM failed: timeout"  # novelty applied here too
    pool = report.hypotheses[0]
    assert pool.statement == (
        "payments-svc started logging `<TS> ERROR payments-svc timeout acquiring connection from pool after "
        "<DURATION> pool=ledger-db active=<NUM> idle=<NUM> waiting=<NUM>` (new, ×400 since 10:49)"
    )
    assert [(r.kind, r.id, r.quote) for r in pool.evidence] == [("log", "T7a6a1779", POOL_LINE)]
    assert "×400 (new)" in report.summary.what and report.summary.what.startswith("Reported: checkout 504s.")
    assert report.summary.next == pool.checks[0]


def test_every_evidence_only_citation_survives_grounding() -> None:
    ctx = context()
    report = evidence_only_report(ctx, "x")
    as_model = ModelReport(summary=report.summary, hypotheses=report.hypotheses)
    _, kept, stats = ground(as_model, GroundingContext.of(ctx))
    assert stats.dropped_refs == stats.dropped_hypotheses == stats.dropped_actions == 0
    assert sum(len(h.evidence) for h in kept) == sum(len(h.evidence) for h in report.hypotheses)


def test_weak_or_unrelated_past_incidents_stay_low_or_out() -> None:
    weak = PAST.model_copy(update={"record_id": "INC-2024-0101", "signature": 0.0, "score": 0.55})
    below = PAST.model_copy(update={"record_id": "INC-2023-0001", "score": NOVELTY_THRESHOLD})
    ctx = context()
    assert ctx.knowledge is not None
    ctx.knowledge.matches = [weak, below]
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
    assert top.statement.startswith("Same cause as INC-2025-0912")
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
