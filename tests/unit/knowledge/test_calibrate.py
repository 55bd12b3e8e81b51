"""Novelty calibrated by leave-one-out on the knowledge base; the answer says why it is novel."""

from __future__ import annotations

import redis

from workers.knowledge import calibrate
from workers.knowledge.model import IncidentRecord
from workers.knowledge.search import NOVELTY_THRESHOLD, KnowledgeIndex
from workers.knowledge.service import KnowledgeDeps
from workers.models import EvidenceEntry, EvidenceView
from workers.settings import LLMSettings
from workers.triage.vocabulary import default_vocabulary


def rec(rid: str, title: str, symptoms: str, cause: str, tag: str = "", sig: str = "") -> IncidentRecord:
    return IncidentRecord(
        id=rid,
        title=title,
        symptoms=[symptoms],
        root_causes=[cause],
        tags=[f"cause:{tag}"] if tag else [],
        log_signature=[sig] if sig else [],
    )


KB = [
    rec(
        "A1",
        "Checkout 504s from the ledger pool",
        "checkout timeouts ledger pool wait",
        "pool exhausted",
        "pool",
    ),
    rec(
        "A2", "Ledger pool ran dry during the sale", "checkout timeouts ledger pool wait", "pool leak", "pool"
    ),
    rec(
        "B1", "Search OOM after index growth", "search restarts exit 137", "the kernel OOM killer killed java"
    ),
    rec(
        "B2",
        "Search pods out of memory",
        "search restarts exit 137 memory",
        "container memory limit hit, oom",
    ),
    rec("C1", "BGP flap", "region unreachable for minutes", "transit router firmware bug", "bgp"),
    rec("D1", "Coffee machine broke", "office kitchen flooded", "a hose burst", "plumbing"),
    rec("E1", "Unlabelled", "something odd", "nobody knows"),
]


def test_labels_come_from_tags_then_feedback_then_the_vocabulary() -> None:
    labels, sources = calibrate.cause_labels(KB, default_vocabulary(), [{"E1", "D1"}])
    assert labels["A1"] == labels["A2"] == "pool" and labels["B1"] == labels["B2"] == "oom"
    assert labels["E1"] == "feedback-0" and labels["D1"] == "plumbing"  # a tag wins over a click
    assert sources == {"tag": 4, "feedback": 1, "vocabulary": 2}


def test_leave_one_out_separates_known_from_novel_and_says_how_well() -> None:
    index = KnowledgeIndex()
    index.build(KB)
    cal = calibrate.calibrate(index, lambda: KB)
    assert cal.calibrated and (cal.known, cal.novel, cal.queried) == (4, 2, 6)  # E1 has no label
    assert cal.novel_flagged == 1.0 and cal.known_flagged == 0.0 and cal.nearest_right == 1.0
    assert 0.0 < cal.threshold < 1.0
    assert "by leave-one-out on 6 past incidents: 100% of 2 novel flagged, 0% of 4 known" in cal.describe()


def test_without_both_known_and_novel_records_the_default_stays_and_says_why() -> None:
    index = KnowledgeIndex()
    index.build(KB[:2])
    cal = calibrate.calibrate(index, lambda: KB[:2])
    assert not cal.calibrated and cal.threshold == NOVELTY_THRESHOLD
    assert "2 known, 0 novel" in cal.describe()


def test_the_stored_threshold_is_used_and_the_answer_says_score_threshold_and_nearest(
    client: redis.Redis,
) -> None:
    deps = KnowledgeDeps.build(client, LLMSettings())
    deps.store.upsert(KB)
    cal = deps.calibrate()
    assert calibrate.load(client) == cal
    view = deps.similar("the printer on floor 3 is out of toner, the kitchen is fine", [], "")
    assert view.novel and view.matches == []
    assert (
        f"no past incident scores above the novelty threshold {cal.threshold:.2f}, rule {cal.rule} by "
        "leave-one-out on 6" in (view.reason)
    )
    assert view.reason.endswith(f"; nearest: B2 (Search pods out of memory) at {1 - view.novelty:.2f}")


def test_a_past_incident_with_the_mechanism_the_logs_show_is_not_novel_whatever_its_score(
    client: redis.Redis,
) -> None:
    deps = KnowledgeDeps.build(client, LLMSettings())
    deps.store.upsert(KB)
    oom = "2026-03-14T10:45:00Z node-7 kernel: Out of memory: Killed process 4182 (java)"
    view = EvidenceView(
        service="",
        entries=[EvidenceEntry(kind="new", severity="unknown", count=3, template="kernel <*>", exemplar=oom)],
        tokens=10,
        budget_tokens=2000,
        encoding="o200k_base",
        exact=True,
    )
    found = deps.for_evidence("users see errors", view)
    assert not found.novel and found.matches[0].record_id in {"B1", "B2"}
    assert "had the same cause (Out of memory (OOM kill))" in found.reason


# Two past OOM kills told in different words, with different log lines that both show the OOM killer:
# their text and signatures barely match, so the score alone calls each novel when the other is left out.
OOM_APART = [
    rec(
        "O1",
        "Ranking pods restarted",
        "ranking answers slowly",
        "the kernel OOM killer killed java",
        "oom",
        "kernel: Out of memory: Killed process 4182 (java)",
    ),
    rec(
        "O2",
        "Ledger crashloop at midnight",
        "ledger writes failing",
        "container memory limit, oom",
        "oom",
        "containerd: task exited: OOMKilled reason=limit",
    ),
    rec(
        "P1",
        "Checkout 504s from the ledger pool",
        "checkout timeouts ledger pool wait",
        "pool exhausted",
        "pool",
    ),
    rec(
        "P2", "Ledger pool ran dry during the sale", "checkout timeouts ledger pool wait", "pool leak", "pool"
    ),
    rec("C1", "BGP flap", "region unreachable for minutes", "transit router firmware bug", "bgp"),
    rec("D1", "Coffee machine broke", "office kitchen flooded", "a hose burst", "plumbing"),
    rec(
        "N1",
        "Ledger writes failing after the sale",
        "ledger writes failing checkout",
        "an integer overflow",
        "overflow",
    ),
]


def test_leave_one_out_keeps_the_cause_rule_only_when_it_separates_better() -> None:
    index = KnowledgeIndex()
    index.build(OOM_APART)
    cal = calibrate.calibrate(index, lambda: OOM_APART)
    assert cal.fits["score+cause"].j > cal.fits["score"].j  # the OOM records are known only by cause
    assert cal.rule == "score+cause" and cal.known_flagged == 0.0 and cal.novel_flagged == 1.0
    plain = [r.model_copy(update={"log_signature": []}) for r in OOM_APART]
    index.build(plain)
    cal = calibrate.calibrate(index, lambda: plain)
    assert cal.fits["score+cause"].j == cal.fits["score"].j and cal.rule == "score"  # no signature: a tie


def test_calibration_streams_the_records_twice_and_keeps_none() -> None:
    index = KnowledgeIndex()
    index.build(KB)
    reads: list[int] = []

    def read() -> object:
        reads.append(1)
        return iter(KB)  # an iterator: a second pass over it would see nothing

    cal = calibrate.calibrate(index, read)  # type: ignore[arg-type]
    assert len(reads) == 2 and cal.queried == 6 and cal.records == len(KB)
