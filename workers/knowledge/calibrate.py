"""The novelty threshold, calibrated by leave-one-out on the organisation's own knowledge base.

Each labelled past incident is searched, by its symptoms and log signature (what /triage would have
had), against all the others. It is *known* when another record has the same cause, else *novel*.
Two decision rules are scored on those searches:
- `score`: novel when the best match scores at or below the threshold;
- `score+cause`: the same, unless one of the nearest past incidents had, as its root cause, a
  mechanism or change the query's log signature shows (then known, whatever its score).
For each, the threshold is the cut that maximises novel flagged minus known falsely flagged (Youden's
J), at the midpoint between the two scores it falls between; the rule with the higher J is kept, the
simpler one on a tie. Nothing else (no evaluation or held-out incident) sets either.

Same-cause labels, first that applies: a `cause:<name>` tag on the record; the team's "Same cause"
clicks (records clicked as the same cause for the same incident type share a label); the vocabulary
mechanism its root cause describes. Records with none are left out.
"""

from __future__ import annotations

import itertools
import random
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime

import redis
from pydantic import BaseModel

from workers.knowledge.feedback import FEEDBACK_PREFIX, LABELS
from workers.knowledge.model import IncidentRecord
from workers.knowledge.search import NOVELTY_THRESHOLD, KnowledgeIndex, Match
from workers.redisconn import as_text
from workers.triage.vocabulary import Term, Vocabulary, default_vocabulary

CALIBRATION_KEY = "ic:kb:calibration"
MAX_QUERIES = 2000  # leave-one-out on a seeded sample of this many labelled records, at most
SIGNATURE_IN_QUERY = 5
SEED = 7
NEAREST = 5  # past incidents looked at, as `KnowledgeDeps.similar` does by default
RULES = ("score", "score+cause")  # simpler first: it wins a tie
DEFAULT_RULE = "score+cause"


class RuleFit(BaseModel):
    """How one decision rule separated the leave-one-out searches, at its best threshold."""

    threshold: float
    novel_flagged: float
    known_flagged: float

    @property
    def j(self) -> float:
        return self.novel_flagged - self.known_flagged


class Calibration(BaseModel):
    threshold: float
    calibrated: bool  # False: too few known or novel records; the default threshold is used
    rule: str = DEFAULT_RULE  # one of RULES
    fits: dict[str, RuleFit] = {}  # every rule's leave-one-out figures
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
            f"threshold {self.threshold:.2f}, rule {self.rule}, by leave-one-out on {self.queried} "
            f"past incidents: "
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
    records: Iterable[IncidentRecord], vocabulary: Vocabulary, groups: Sequence[set[str]] = ()
) -> tuple[dict[str, str], dict[str, int]]:
    """Each record's same-cause label (a tag, else a feedback group, else the vocabulary mechanism),
    and how many labels each source gave; one pass, records are not kept."""
    group_of = {record_id: n for n, group in enumerate(groups) for record_id in group}
    labels: dict[str, str] = {}
    sources: dict[str, int] = defaultdict(int)
    for r in records:
        tag = next((t.split(":", 1)[1].strip().lower() for t in r.tags if t.lower().startswith("cause:")), "")
        if tag:
            labels[r.id], source = tag, "tag"
        elif r.id in group_of:
            labels[r.id], source = f"feedback-{group_of[r.id]}", "feedback"
        elif found := vocabulary.cause_of(" ".join([*r.root_causes, r.title])):
            labels[r.id], source = found, "vocabulary"
        else:
            continue
        sources[source] += 1
    return labels, dict(sources)


def same_cause(matches: Sequence[Match], shown: Sequence[Term], vocabulary: Vocabulary) -> Match | None:
    """The nearest past incident whose root cause is a mechanism or change the evidence `shown` names."""
    ids = {t.id for t in shown}
    return (
        next((m for m in matches if vocabulary.cause_of(f"{m.root_cause} {m.title}") in ids), None)
        if ids
        else None
    )


def calibrate(
    index: KnowledgeIndex,
    read: Callable[[], Iterable[IncidentRecord]],
    *,
    vocabulary: Vocabulary | None = None,
    groups: Sequence[set[str]] = (),
) -> Calibration:
    """Leave-one-out over the records `read()` yields (called twice: labels, then searches; the
    records are streamed, only their labels are held)."""
    vocabulary = vocabulary or default_vocabulary()
    labels, sources = cause_labels(read(), vocabulary, groups)
    per_label: dict[str, int] = defaultdict(int)
    for label in labels.values():
        per_label[label] += 1
    chosen = set(labels)
    if len(chosen) > MAX_QUERIES:
        chosen = set(random.Random(SEED).sample(sorted(chosen), MAX_QUERIES))
    known: list[tuple[float, bool]] = []  # (best score, a nearest past incident had the shown cause)
    novel: list[tuple[float, bool]] = []
    right = records = 0
    for r in read():
        records += 1
        if r.id not in chosen:
            continue
        text, signature = query_of(r, vocabulary)
        matches = index.search(text, signature=signature, services=r.services, k=NEAREST, exclude=r.id)
        best = matches[0] if matches else None
        point = (
            best.score if best else 0.0,
            same_cause(matches, vocabulary.terms_in(signature), vocabulary) is not None,
        )
        if per_label[labels[r.id]] > 1:
            known.append(point)
            right += bool(best and labels.get(best.record_id) == labels[r.id])
        else:
            novel.append(point)
    base = Calibration(
        threshold=NOVELTY_THRESHOLD,
        calibrated=False,
        records=records,
        queried=len(known) + len(novel),
        known=len(known),
        novel=len(novel),
        labels=sources,
        computed_at=datetime.now(UTC),
    )
    if not known or not novel:
        base.note = (
            f"leave-one-out needs past incidents with and without a same-cause sibling; "
            f"{len(known)} known, {len(novel)} novel among {base.queried} labelled"
        )
        return base
    fits = {rule: _fit(rule, known, novel) for rule in RULES}
    rule = max(RULES, key=lambda name: fits[name].j)  # the first (simpler) on a tie
    return base.model_copy(
        update={
            "threshold": fits[rule].threshold,
            "calibrated": True,
            "rule": rule,
            "fits": fits,
            "novel_flagged": fits[rule].novel_flagged,
            "known_flagged": fits[rule].known_flagged,
            "nearest_right": right / len(known),
        }
    )


def _fit(rule: str, known: list[tuple[float, bool]], novel: list[tuple[float, bool]]) -> RuleFit:
    """Under `score+cause` a search whose nearest incidents had the shown cause is never flagged: its
    score stands in as 1 (above any cut)."""

    def scores(points: list[tuple[float, bool]]) -> list[float]:
        return [1.0 + 1e-3 if rule == "score+cause" and same else s for s, same in points]

    k, n = scores(known), scores(novel)
    cut = _youden_cut(k, n)
    return RuleFit(
        threshold=cut,
        novel_flagged=sum(s <= cut for s in n) / len(n),
        known_flagged=sum(s <= cut for s in k) / len(k),
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
