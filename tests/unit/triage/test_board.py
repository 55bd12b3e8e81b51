"""The board across three /triage runs on a real Redis, and verdict clicks on the timeline."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest
import redis

from tests.unit.triage.context import context, entry
from workers.triage.board import Board, similarity
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


def test_events_are_self_describing(client: redis.Redis) -> None:
    board = Board(client)
    board.merge("INC-3", _report(("ledger pool exhausted by retries", "medium", 2)), "r-1")
    board.feedback("INC-3", "H1", "support", "U1")
    board.feedback("INC-3", "H1", "reject", "U1")
    stream_id = board.record_event("INC-3", "resolved", by="U2", summary="rolled back", note=None)
    raised, support, reject, resolved = board.events("INC-3")
    assert {k: raised[k] for k in ("kind", "hypothesis", "statement", "confidence", "by", "run_id")} == {
        "kind": "hypothesis_raised",
        "hypothesis": "H1",
        "statement": "ledger pool exhausted by retries",
        "confidence": "medium",
        "by": "bot",
        "run_id": "r-1",
    }
    assert raised["evidence"] == "log:T00000000 log:T00000001"
    at = [datetime.fromisoformat(e["at"]) for e in (raised, support, reject, resolved)]
    assert at == sorted(at) and all(t.tzinfo is not None for t in at)
    assert (support["verdict"], support["previous"], support["statement"]) == (
        "support",
        "",
        "ledger pool exhausted by retries",
    )
    assert (reject["by"], reject["verdict"], reject["previous"]) == ("U1", "reject", "support")
    assert resolved == {
        "kind": "resolved",
        "by": "U2",
        "summary": "rolled back",
        "note": "",
        "at": resolved["at"],
    }
    assert stream_id and client.xlen("ic:incident:INC-3:timeline") == 4


def test_a_dropped_hypothesis_keeps_its_id_when_it_returns_and_ids_keep_counting(client: redis.Redis) -> None:
    board = Board(client)
    board.merge(
        "INC-4", _report(("ledger pool exhausted by retries", "low", 1), ("dns flaky", "low", 1)), "r-1"
    )
    board.merge("INC-4", _report(("ledger pool exhausted by retries", "low", 1)), "r-2")
    assert [h.id for h in board.hypotheses("INC-4", dropped=True)] == ["H2"]
    assert board.feedback("INC-4", "H2", "reject", "U1")  # a click on the older answer still counts
    third = board.merge(
        "INC-4", _report(("dns is flaky again", "medium", 2), ("cpu throttled", "low", 1)), "r-3"
    )
    assert [(h.id, h.status) for h in third.hypotheses] == [("H2", "new"), ("H3", "new")]
    assert [h.id for h in board.hypotheses("INC-4", dropped=True)] == ["H1"]
    back = [e for e in board.events("INC-4") if e["run_id"] == "r-3" and e["hypothesis"] == "H2"]
    assert [(e["kind"], e.get("again")) for e in back] == [("hypothesis_raised", "yes")]


def test_evidence_only_reruns_keep_every_id_and_distinct_anomalies_stay_apart(client: redis.Redis) -> None:
    board = Board(client)
    symptoms = [
        entry(f"T{i:08x}", "surging", "error", f"<TS> ERROR api step{i} broke", f"ERROR step{i} broke")
        for i in range(3)
    ]
    ctx = context(known=False, entries=symptoms)
    first = board.merge("INC-5", evidence_only_report(ctx, "x"), "r-1")
    second = board.merge("INC-5", evidence_only_report(ctx, "x"), "r-2")
    assert (
        len({h.id for h in first.hypotheses}) == len(first.hypotheses) >= 2
    )  # the injected line is no anomaly
    assert [(h.id, h.status) for h in second.hypotheses] == [(h.id, "unchanged") for h in first.hypotheses]
    assert not [e for e in board.events("INC-5") if e["run_id"] == "r-2"]


def test_the_same_past_incident_is_the_same_hypothesis_whatever_the_words() -> None:
    a = Hypothesis(
        id="H1",
        statement="pool exhausted",
        confidence="low",
        evidence=[EvidenceRef(kind="incident", id="INC-9")],
    )
    b = a.model_copy(update={"statement": "a regression like last spring"})
    c = Hypothesis(id="H2", statement="the database is down", confidence="low")
    d = c.model_copy(update={"statement": "the cache is down"})
    e = c.model_copy(
        update={"statement": "the ledger-db connection pool is exhausted by payments-svc retries"}
    )
    f = c.model_copy(update={"statement": "retry loop in payments-svc exhausts the ledger-db pool"})
    assert similarity(a, b) == 1.0 and similarity(c, d) < 0.5 and similarity(e, f) >= 0.5


def test_concurrent_runs_never_hand_out_the_same_id(client: redis.Redis) -> None:
    def run(n: int) -> None:
        Board(client).merge("INC-6", _report((f"cause number {n} zeta{n}", "low", 1)), f"r-{n}")

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(run, range(16)))
    raised = [e["hypothesis"] for e in Board(client).events("INC-6") if e["kind"] == "hypothesis_raised"]
    assert sorted(raised, key=lambda i: int(i[1:])) == [f"H{i}" for i in range(1, 17)]
    board = Board(client)
    assert len(board.hypotheses("INC-6")) == 1 and len(board.hypotheses("INC-6", dropped=True)) == 15
