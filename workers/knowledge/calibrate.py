"""The novelty threshold, calibrated by leave-one-out on the organisation's own knowledge base.

Each labelled past incident is searched, by its symptoms and log signature (what /triage would have
had), against all the others. It is *known* when another record has the same cause, else *novel*.
Flagging novel = best score ≤ threshold; the threshold is the cut that maximises novel flagged
minus known falsely flagged (Youden's J), at the midpoint between the two scores it falls between.

Same-cause labels, first that applies: a `cause:<name>` tag on the record; the team's "Same cause"
clicks (records clicked as the same cause for the same incident type share a label); the vocabulary
mechanism its root cause describes. Records with none are left out.
"""

from __future__ import annotations

import itertools
import random
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime

import redis
from pydantic import BaseModel

from workers.knowledge.feedback import FEEDBACK_PREFIX, LABELS
from workers.knowledge.model import IncidentRecord
from workers.knowledge.search import NOVELTY_THRESHOLD, KnowledgeIndex
from workers.redisconn import as_text
from workers.triage.vocabulary import Vocabulary, default_vocabulary

CALIBRATION_KEY = "ic:kb:calibration"
MAX_QUERIES = 2000  # leave-one-out on a seeded sample of this many labelled records, at most
SIGNATURE_IN_QUERY = 5
SEED = 7


class Calibration(BaseModel):
    threshold: float
    calibrated: bool  # False: too few known or novel records; the default threshold is used
    records: int = 0
    queried: int = 0
    known: int = 0
    novel: int = 0
    novel_flagged: float = 0.0  # share of novel records at or below the threshold
    known_flagged: float = 0.0  # share of known records at or below it (falsely called novel)
    nearest_right: float = 0.0  # share of known records whose best match has the same cause
    labels: dict[str, int] = {}  # how many records each label source gave
    computed_at: datetime | None = None
    kb_version: int = 0
    note: str = ""

    def describe(self) -> str:
        if not self.calibrated:
            return f"default threshold {self.threshold:.2f} ({self.note})"
        return (
            f"threshold {self.threshold:.2f} by leave-one-out on {self.queried} past incidents: "
            f"{self.novel_flagged:.0%} of {self.novel} novel flagged, {self.known_flagged:.0%} of "
            f"{self.known} known falsely flagged"
        )


def query_of(record: IncidentRecord, vocabulary: Vocabulary) -> tuple[str, list[str]]:
    """What /triage would have asked for this incident, as `KnowledgeDeps.for_evidence` does: its
    symptoms (else summary or title), the mechanisms its log signature shows, and the signature."""
    said = " ".join(record.symptoms) or record.summary or record.title
    signature = list(record.log_signature)
    named = [t.name for t in vocabulary.terms_in(signature)]
    return " ".join([said, *named, *signature[:SIGNATURE_IN_QUERY]]).strip(), signature


def feedback_groups(client: redis.Redis) -> list[set[str]]:
    """Records the team clicked "Same cause" on for the same incident type, one set per type."""
    net: dict[tuple[str, str], int] = defaultdict(int)
    for key in client.scan_iter(match=f"{FEEDBACK_PREFIX}*", count=1000):
        kind, _, record_id = as_text(key)[len(FEEDBACK_PREFIX) :].rpartition(":")
        for value in client.hvals(key):
            net[(kind, record_id)] += LABELS.get(as_text(value), 0)
    groups: dict[str, set[str]] = defaultdict(set)
    for (kind, record_id), total in net.items():
        if total > 0:
            groups[kind].add(record_id)
    return [g for g in groups.values() if len(g) > 1]


def cause_labels(
    records: Sequence[IncidentRecord], vocabulary: Vocabulary, groups: Sequence[set[str]] = ()
) -> tuple[dict[str, str], dict[str, int]]:
    """Each record's same-cause label, and how many labels each source gave."""
    labels: dict[str, str] = {}
    sources: dict[str, int] = defaultdict(int)
    for r in records:
        tag = next((t.split(":", 1)[1].strip().lower() for t in r.tags if t.lower().startswith("cause:")), "")
        if tag:
            labels[r.id] = tag
            sources["tag"] += 1
    for n, group in enumerate(groups):
        for record_id in group - labels.keys():
            labels[record_id] = f"feedback-{n}"
            sources["feedback"] += 1
    for r in records:
        if r.id not in labels and (found := vocabulary.cause_of(" ".join([*r.root_causes, r.title]))):
            labels[r.id] = found
            sources["vocabulary"] += 1
    return labels, dict(sources)


def calibrate(
    index: KnowledgeIndex,
    records: Sequence[IncidentRecord],
    *,
    vocabulary: Vocabulary | None = None,
    groups: Sequence[set[str]] = (),
) -> Calibration:
    vocabulary = vocabulary or default_vocabulary()
    labels, sources = cause_labels(records, vocabulary, groups)
    per_label: dict[str, int] = defaultdict(int)
    for label in labels.values():
        per_label[label] += 1
    chosen = [r for r in records if r.id in labels]
    if len(chosen) > MAX_QUERIES:
        chosen = random.Random(SEED).sample(chosen, MAX_QUERIES)
    known: list[float] = []
    novel: list[float] = []
    right = 0
    for r in chosen:
        text, signature = query_of(r, vocabulary)
        matches = index.search(text, signature=signature, services=r.services, k=1, exclude=r.id)
        best = matches[0] if matches else None
        score = best.score if best else 0.0
        if per_label[labels[r.id]] > 1:
            known.append(score)
            right += bool(best and labels.get(best.record_id) == labels[r.id])
        else:
            novel.append(score)
    base = Calibration(
        threshold=NOVELTY_THRESHOLD,
        calibrated=False,
        records=len(records),
        queried=len(chosen),
        known=len(known),
        novel=len(novel),
        labels=sources,
        computed_at=datetime.now(UTC),
    )
    if not known or not novel:
        base.note = (
            f"leave-one-out needs past incidents with and without a same-cause sibling; "
            f"{len(known)} known, {len(novel)} novel among {len(chosen)} labelled"
        )
        return base
    threshold = _youden_cut(known, novel)
    return base.model_copy(
        update={
            "threshold": threshold,
            "calibrated": True,
            "novel_flagged": sum(s <= threshold for s in novel) / len(novel),
            "known_flagged": sum(s <= threshold for s in known) / len(known),
            "nearest_right": right / len(known),
        }
    )


def _youden_cut(known: list[float], novel: list[float]) -> float:
    """The midpoint cut maximising (novel ≤ cut) − (known ≤ cut); the lower cut on ties."""
    points = sorted(set(known) | set(novel))
    cuts = [points[0] - 1e-3, *((a + b) / 2 for a, b in itertools.pairwise(points))]
    cuts.append(points[-1] + 1e-3)

    def j(cut: float) -> float:
        return sum(s <= cut for s in novel) / len(novel) - sum(s <= cut for s in known) / len(known)

    best = max(j(c) for c in cuts)
    return round(next(c for c in cuts if j(c) == best), 4)


def load(client: redis.Redis) -> Calibration | None:
    raw = client.get(CALIBRATION_KEY)
    return Calibration.model_validate_json(raw) if raw is not None else None


def save(client: redis.Redis, calibration: Calibration) -> None:
    client.set(CALIBRATION_KEY, calibration.model_dump_json())
