"""Candidate causes in the log evidence: failure mechanisms and change events from the vocabulary, at
any severity, ordered causally.

A cause's score rewards, in this order: naming a mechanism (over a bare change, over a symptom),
starting first (at or before the first failure; a candidate that starts minutes after the failures
began is a consequence or a coincidence), the change that shortly preceded it, and how many of the
other anomalies it explains (those that start after it). Lines as common in the baseline as in the
incident (not new, not surging) are no candidates; they are reported as discounted.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from workers.models import EvidenceEntry, IncidentContext
from workers.triage.vocabulary import Term, Vocabulary

TRIGGER_WINDOW = timedelta(minutes=15)  # a change this long before a mechanism may have triggered it
SAME_ONSET = timedelta(minutes=1)  # started "with" the first failure
LATE = timedelta(minutes=5)  # started this long after the first failure: likely a consequence
EXPLAINED_CAP = 5
ALERTING = frozenset(("fatal", "error", "warning", "warn", "critical"))


@dataclass
class Cause:
    term: Term
    kind: str  # "mechanism" or "change"
    entries: list[EvidenceEntry]
    onset: datetime | None
    trigger: tuple[Term, EvidenceEntry] | None = None
    explains: list[EvidenceEntry] = field(default_factory=list)
    score: float = 0.0


@dataclass
class Findings:
    causes: list[Cause]  # best first
    symptoms: list[EvidenceEntry]  # alerting anomalies no cause explains, strongest first
    discounted: list[tuple[Term, EvidenceEntry]]  # mechanism lines as common in the baseline
    anomalies: int  # alerting or mechanism anomalies in all


def onset(e: EvidenceEntry, window_start: datetime) -> datetime | None:
    """When the template started in the incident window; None when it was there before (surging)."""
    if e.first_seen is None or e.first_seen < window_start - SAME_ONSET:
        return None
    return e.first_seen


def find_causes(ctx: IncidentContext, vocabulary: Vocabulary, skip: Collection[str] = ()) -> Findings:
    """The mechanisms and changes among the evidence's templates (those in `skip` left out)."""
    if ctx.evidence is None:
        return Findings([], [], [], 0)
    start = ctx.request.window.start
    mechanisms: dict[str, Cause] = {}
    changes: list[tuple[Term, EvidenceEntry]] = []
    discounted: list[tuple[Term, EvidenceEntry]] = []
    others: list[EvidenceEntry] = []
    for e in ctx.evidence.entries:
        if e.template_id in skip:
            continue
        line = e.exemplar or e.template
        term = next((t for t in vocabulary.mechanisms if t.matches(line) and e.count >= t.min_count), None)
        if e.kind not in ("new", "surging"):
            if term is not None and e.severity in ALERTING | {"unknown", "info"}:
                discounted.append((term, e))
            continue
        if term is not None:
            cause = mechanisms.setdefault(term.id, Cause(term, "mechanism", [], None))
            cause.entries.append(e)
        elif (change := vocabulary.change(line)) is not None:
            changes.append((change, e))
        elif e.severity in ALERTING:
            others.append(e)
    for cause in mechanisms.values():
        known = [t for e in cause.entries if (t := onset(e, start)) is not None]
        cause.onset = min(known, default=None)
    failures = [c.onset for c in mechanisms.values() if c.onset] + [
        t for e in others if (t := onset(e, start)) is not None
    ]
    first_failure = min(failures, default=None)
    used: set[str] = set()
    for cause in mechanisms.values():
        cause.trigger = _trigger(changes, cause.onset or first_failure, start)
        if cause.trigger is not None:
            used.add(cause.trigger[1].template_id)
    causes = list(mechanisms.values())
    for term, e in changes:
        at = onset(e, start)
        if e.template_id in used or at is None or first_failure is None:
            continue
        if timedelta(0) <= first_failure - at <= TRIGGER_WINDOW:
            causes.append(Cause(term, "change", [e], at))
    explained: set[str] = set()
    for cause in causes:
        cause.explains = [
            e
            for e in others
            if cause.onset is None or (t := onset(e, start)) is None or t >= cause.onset - SAME_ONSET
        ]
        cause.score = _score(cause, first_failure)
        explained.update(e.template_id for e in cause.explains)
    causes.sort(key=lambda c: -c.score)
    symptoms = [e for e in others if e.template_id not in explained] if causes else others
    return Findings(
        causes, symptoms, discounted, len(others) + sum(len(c.entries) for c in mechanisms.values())
    )


def _trigger(
    changes: list[tuple[Term, EvidenceEntry]], at: datetime | None, start: datetime
) -> tuple[Term, EvidenceEntry] | None:
    """The latest change that started within TRIGGER_WINDOW before `at`."""
    if at is None:
        return None
    before = [
        (t, e)
        for t, e in changes
        if (o := onset(e, start)) is not None and timedelta(0) <= at - o <= TRIGGER_WINDOW
    ]
    return max(before, key=lambda c: onset(c[1], start) or at, default=None)


def _score(cause: Cause, first_failure: datetime | None) -> float:
    score = 3.0 if cause.kind == "mechanism" else 2.0
    if cause.onset is not None and first_failure is not None:
        if cause.onset <= first_failure + SAME_ONSET:
            score += 2.0
        elif cause.onset - first_failure > LATE:
            score -= 2.0
    if cause.trigger is not None:
        score += 0.5
    return score + 0.3 * min(len(cause.explains), EXPLAINED_CAP)
