"""The board across three /triage runs on a real Redis, and verdict clicks on the timeline."""

from __future__ import annotations

import pytest
import redis

from tests.unit.triage.context import context
from workers.triage.board import Board
from workers.triage.evidence_only import evidence_only_report
from workers.triage.report import EvidenceRef, Hypothesis, TriageReport


def _report(*hyps: tuple[str, str, int]) -> TriageReport:
    base = evidence_only_report(context(), "x")
    return base.model_copy(
        update={
            "hypotheses": [
                Hypothesis(
                    id=f"H{n}",
                    statement=s,
                    confidence=c,  # type: ignore[arg-type]
                    evidence=[EvidenceRef(kind="log", id=f"T{i:08x}") for i in range(refs)],
                )
                for n, (s, c, refs) in enumerate(hyps, 1)
            ]
        }
    )


def test_reruns_keep_ids_and_mark_what_changed(client: redis.Redis) -> None:
    board = Board(client)
    first = board.merge(
        "INC-1", _report(("ledger pool exhausted by retries", "low", 1), ("dns flaky", "low", 1)), "r-1"
    )
    assert [(h.id, h.status) for h in first.hypotheses] == [("H1", "new"), ("H2", "new")]
    second = board.merge(
        "INC-1",
        _report(("a disk is full", "medium", 1), ("the ledger pool was exhausted by retries", "medium", 2)),
        "r-2",
    )
    assert [(h.id, h.status) for h in second.hypotheses] == [("H3", "new"), ("H1", "strengthened")]
    third = board.merge("INC-1", _report(("ledger pool exhausted by the retries", "low", 1)), "r-3")
    assert [(h.id, h.status) for h in third.hypotheses] == [("H1", "weakened")]
    kinds = [(e["kind"], e["hypothesis"], e["run_id"]) for e in board.events("INC-1")]
    assert kinds == [
        ("hypothesis_raised", "H1", "r-1"),
        ("hypothesis_raised", "H2", "r-1"),
        ("hypothesis_raised", "H3", "r-2"),
        ("hypothesis_changed", "H1", "r-2"),
        ("hypothesis_dropped", "H2", "r-2"),
        ("hypothesis_changed", "H1", "r-3"),
        ("hypothesis_dropped", "H3", "r-3"),
    ]


def test_verdicts_one_per_user_in_the_tally_every_click_in_the_timeline(client: redis.Redis) -> None:
    board = Board(client)
    board.merge("INC-2", _report(("pool exhausted", "low", 1)), "r-1")
    assert board.feedback("INC-2", "H1", "support", "U1")
    assert board.feedback("INC-2", "H1", "reject", "U1")  # changed their mind
    assert board.feedback("INC-2", "H1", "need_data", "U2")
    assert not board.feedback("INC-2", "H9", "support", "U1") and not board.feedback(
        "NOPE", "H1", "support", "U1"
    )
    assert board.tally("INC-2") == {"H1": {"support": 0, "reject": 1, "need_data": 1}}
    clicks = [(e["kind"], e["by"]) for e in board.events("INC-2") if e["kind"].startswith("verdict_")]
    assert clicks == [("verdict_support", "U1"), ("verdict_reject", "U1"), ("verdict_need_data", "U2")]
    with pytest.raises(ValueError):
        board.feedback("INC-2", "H1", "approve", "U1")
