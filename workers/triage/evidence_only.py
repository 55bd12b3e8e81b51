"""Hypotheses without an LLM, in the same report the LLM path produces. Never more than medium confidence.

First the causes the log evidence names (failure mechanisms and change events of the vocabulary, at any
severity, ordered causally by `causes.find_causes`), each citing the past incidents that had the same
cause; then similar past incidents that match no such cause; then symptoms no cause explains. Each
hypothesis is one claim line that opens with the mechanism, and a detail with the chain below it.
"""

from __future__ import annotations

import re
from datetime import datetime

from workers.models import EvidenceEntry, IncidentContext, SimilarIncident
from workers.triage.causes import Cause, Findings, find_causes
from workers.triage.novelty import apply_novelty
from workers.triage.report import (
    CONFIDENCE_ORDER,
    MAX_HYPOTHESES,
    ActionType,
    Confidence,
    EvidenceRef,
    Hypothesis,
    SuggestedAction,
    Summary,
    TriageReport,
)
from workers.triage.suspicious import suspicious_items
from workers.triage.vocabulary import Vocabulary, default_vocabulary

ANOMALIES_SHOWN = 3
PATTERNS_SHOWN = 3
SHARED_WORDS = 2  # words a template must share with a past incident to count as its log evidence
MEDIUM_SCORE = 0.5
MEDIUM_SIGNATURE = 0.5
CHAIN_LINKS = 3  # explained anomalies shown in a chain
LINK_CHARS = 70
_PLACEHOLDER = re.compile(r"<[^<>\s]{1,20}>")
_WORD = re.compile(r"[a-z][a-z0-9_-]{3,}")
# fmt: off
_COMMON = frozenset((
    "after", "before", "from", "into", "with", "that", "this", "than", "then", "when", "were", "have",
    "been", "while", "which", "there", "their", "what", "error", "errors", "warn", "warning", "info",
    "debug", "fatal", "critical", "failed", "failure", "fails",
))
# fmt: on
_FIX_ACTIONS: tuple[tuple[re.Pattern[str], ActionType], ...] = (
    (re.compile(r"\broll(ed|ing)?\b.{0,40}?\bback\b|\brollback\b|\breverted\b", re.I), "rollback"),
    (re.compile(r"\brestart(ed|ing)?\b|\bbounced\b", re.I), "restart"),
    (re.compile(r"\bscal(ed|ing)\b|\bscale (up|out)\b", re.I), "scale"),
)


def evidence_only_report(
    ctx: IncidentContext, reason: str, vocabulary: Vocabulary | None = None
) -> TriageReport:
    """The triage report the evidence alone supports, labelled evidence-only with `reason`."""
    vocabulary = vocabulary or default_vocabulary()
    suspicious = suspicious_items(ctx)  # never cited, never offered as the change
    found = find_causes(ctx, vocabulary, skip=suspicious)
    patterns = _patterns(ctx, found.symptoms)
    causes: list[Hypothesis] = []
    for cause in found.causes:
        ids = {cause.term.id, cause.trigger[0].id if cause.trigger else ""}
        same = [m for m, _ in patterns if vocabulary.cause_of(f"{m.root_cause} {m.title}") in ids]
        patterns = [(m, h) for m, h in patterns if m not in same]
        causes.append(_cause(cause, found, same, ctx))
    explained = {r.id for _, h in patterns for r in h.evidence if r.kind == "log"}
    unexplained = [_anomaly(e, ctx) for e in found.symptoms if e.template_id not in explained]
    hypotheses = (causes + [h for _, h in patterns] + unexplained[:ANOMALIES_SHOWN])[:MAX_HYPOTHESES]
    for n, h in enumerate(hypotheses, 1):
        h.id = f"H{n}"
    report = TriageReport(
        mode="evidence-only",
        mode_reason=reason,
        summary=_summary(ctx, found, hypotheses),
        hypotheses=hypotheses,
    )
    report.grounding.suspicious = suspicious
    return apply_novelty(report, ctx)


def _service(ctx: IncidentContext) -> str:
    return ctx.evidence.service if ctx.evidence is not None else ""


def _at(moment: datetime | None) -> str:
    return f"{moment:%H:%M}" if moment else ""


def _link(e: EvidenceEntry) -> str:
    """One step of a chain: the template, shortened (the claim above names the mechanism)."""
    text = e.template if len(e.template) <= LINK_CHARS else e.template[: LINK_CHARS - 1] + "…"
    since = f" from {_at(e.first_seen)}" if e.kind == "new" and e.first_seen else ""
    return f"`{text}` ×{e.count}{since}"


def _cause(cause: Cause, found: Findings, past: list[SimilarIncident], ctx: IncidentContext) -> Hypothesis:
    """A cause as one claim line opening with the mechanism, the chain and the evidence below it."""
    term, lead = cause.term, cause.entries[0]
    as_in = f" (as in {', '.join(m.record_id for m in past)})" if past else ""
    if cause.kind == "mechanism":
        after = (
            f", after a {cause.trigger[0].name.lower()} at {_at(cause.trigger[1].first_seen)}"
            if cause.trigger
            else ""
        )
        start = (
            f", from {_at(cause.onset)}" if cause.onset else " (surging)" if lead.kind == "surging" else ""
        )
        statement = f"{term.name}{as_in}{after}{start}, ×{sum(e.count for e in cause.entries)}"
    else:
        statement = f"{term.name}{as_in} at {_at(cause.onset)}, just before the first failures"
    steps = (
        [f"{cause.trigger[0].name.lower()} at {_at(cause.trigger[1].first_seen)}"] if cause.trigger else []
    )
    steps.append(f"{term.name.split(' (')[0].lower()} ({_link(lead)})")
    steps += [_link(e) for e in cause.explains[:CHAIN_LINKS]]
    detail = [f"{term.summary}." if term.summary else "", "Chain: " + " → ".join(steps)]
    if found.anomalies > 1:
        detail.append(f"Explains {len(cause.explains) + len(cause.entries)} of {found.anomalies} anomalies.")
    herrings = [f"`{e.template[:LINK_CHARS]}`" for t, e in found.discounted if t.id != term.id][:2]
    if herrings:
        detail.append(f"Not counted (as common in the baseline): {', '.join(herrings)}.")
    refs = [EvidenceRef(kind="log", id=e.template_id, quote=e.exemplar or "") for e in cause.entries[:2]]
    if cause.trigger:
        refs.append(
            EvidenceRef(kind="log", id=cause.trigger[1].template_id, quote=cause.trigger[1].exemplar or "")
        )
    refs += [EvidenceRef(kind="log", id=e.template_id, quote=e.exemplar or "") for e in cause.explains[:1]]
    refs += [EvidenceRef(kind="incident", id=m.record_id) for m in past]
    short = term.name.split(" (")[0].lower()
    checks = [f"Do the first failures follow the {short} lines at {_at(cause.onset) or 'the start'}?"]
    if cause.trigger or cause.kind == "change":
        what = cause.trigger[0].name.lower() if cause.trigger else term.name.lower()
        checks.append(f"Would undoing the {what} stop it?")
    checks += [f"Compare with {m.record_id}'s fix: {m.fix}" for m in past[:1] if m.fix]
    medium = bool(cause.explains) and cause.onset is not None
    confidence: Confidence = "medium" if medium else "low"
    actions = next((a for m in past if (a := _actions(m, ctx))), [])
    return Hypothesis(
        id="",
        statement=statement,
        detail="\n".join(d for d in detail if d),
        confidence=confidence,
        evidence=refs,
        checks=checks,
        actions=actions,
    )


def _patterns(
    ctx: IncidentContext, anomalies: list[EvidenceEntry]
) -> list[tuple[SimilarIncident, Hypothesis]]:
    """One hypothesis per similar past incident (above the novelty threshold): "same cause as …"."""
    if ctx.knowledge is None:
        return []
    matches = sorted(ctx.knowledge.matches, key=lambda m: -m.score)
    out: list[tuple[SimilarIncident, Hypothesis]] = []
    for m in matches[:PATTERNS_SHOWN]:
        logs = _shared_templates(m, anomalies, _service(ctx))
        medium = m.score >= MEDIUM_SCORE and m.signature >= MEDIUM_SIGNATURE and bool(logs)
        confidence: Confidence = "medium" if medium else "low"
        refs = [EvidenceRef(kind="incident", id=m.record_id)]
        refs += [EvidenceRef(kind="log", id=e.template_id, quote=e.exemplar or "") for e in logs]
        checks = [f"Compare with {m.record_id}: {m.title}"]
        if m.fix:
            checks.append(f"Compare with {m.record_id}'s fix: {m.fix}")
        if not logs:
            checks.append(f"Look for the log lines {m.record_id} showed: none of today's anomalies match")
        out.append(
            (
                m,
                Hypothesis(
                    id="",
                    statement=f"Same cause as {m.record_id}: {m.root_cause or m.title}",
                    confidence=confidence,
                    evidence=refs,
                    checks=checks,
                    actions=_actions(m, ctx),
                ),
            )
        )
    out.sort(key=lambda p: -CONFIDENCE_ORDER[p[1].confidence])  # stable: best score first within a level
    return out


def _words(text: str, ignore: set[str]) -> set[str]:
    return set(_WORD.findall(_PLACEHOLDER.sub(" ", text).lower())) - _COMMON - ignore


def _shared_templates(
    m: SimilarIncident, anomalies: list[EvidenceEntry], service: str
) -> list[EvidenceEntry]:
    """The anomalies whose templates share words with what the past incident says (its service name
    and common log words aside), most shared first, when its log signature matched at all."""
    if m.signature <= 0:
        return []
    ignore = set(_WORD.findall(service.lower()))
    said = _words(f"{m.title} {m.root_cause} {m.snippet} {m.fix}", ignore)
    scored = [(len(said & _words(e.template, ignore)), n, e) for n, e in enumerate(anomalies)]
    return [e for shared, _, e in sorted(scored, key=lambda s: (-s[0], s[1])) if shared >= SHARED_WORDS][:3]


def _actions(m: SimilarIncident, ctx: IncidentContext) -> list[SuggestedAction]:
    """The past fix as a typed action on the service under investigation, when it names one."""
    service = _service(ctx)
    if not service or not m.fix:
        return []
    for pattern, action_type in _FIX_ACTIONS:
        if pattern.search(m.fix):
            rationale = f"what fixed {m.record_id}: {m.fix}"
            return [SuggestedAction(action_type=action_type, target=service, rationale=rationale)]
    return []


def _anomaly(e: EvidenceEntry, ctx: IncidentContext) -> Hypothesis:
    """A symptom no known mechanism explains: said as such, the whole template in the detail."""
    service = _service(ctx) or "the service"
    since = f" since {e.first_seen:%H:%M}" if e.first_seen and e.kind == "new" else ""
    change = "new" if e.kind == "new" else f"{e.ratio:.1f}× the baseline" if e.ratio else "surging"
    return Hypothesis(
        id="",
        statement=(
            f"Symptom without a known mechanism: {e.severity} lines in {service} "
            f"({change}, ×{e.count}{since})"
        ),
        detail=f"`{e.template}`",
        confidence="low",
        evidence=[EvidenceRef(kind="log", id=e.template_id, quote=e.exemplar or "")],
        checks=[f"What changed in {service} just before the first of these lines?"],
    )


def _summary(ctx: IncidentContext, found: Findings, hypotheses: list[Hypothesis]) -> Summary:
    what = []
    if ctx.request.text:
        what.append(f"Reported: {ctx.request.text.rstrip('.')}.")
    if found.causes:
        top = found.causes[0]
        what.append(f"{found.anomalies} anomalous log templates; the likeliest cause: {top.term.name}.")
    elif found.symptoms:
        top_e = found.symptoms[0]
        what.append(
            f"{len(found.symptoms)} new or surging error/warning log templates, none naming a known "
            f"mechanism; the strongest ×{top_e.count} ({top_e.kind})."
        )
    elif ctx.evidence is not None:
        what.append("No new or surging errors in the logs.")
    top_h = hypotheses[0] if hypotheses else None
    next_step = (
        "; ".join(top_h.checks[:2])
        if top_h
        else "Gather more evidence: name the affected service and window in /triage, or add a log source."
    )
    return Summary(
        what=" ".join(what) or "Not enough evidence to say yet.",
        cause=top_h.statement if top_h else "unknown",
        cause_confidence=top_h.confidence if top_h else "low",
        next=next_step,
    )
