"""Hypotheses without an LLM: known patterns (similar past incidents, by text and log signature) and the
strongest log anomalies, in the same report the LLM path produces. Never more than medium confidence.
"""

from __future__ import annotations

import re

from workers.knowledge.search import NOVELTY_THRESHOLD
from workers.models import EvidenceEntry, IncidentContext, SimilarIncident
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

ANOMALIES_SHOWN = 3
PATTERNS_SHOWN = 3
SHARED_WORDS = 2  # words a template must share with a past incident to count as its log evidence
MEDIUM_SCORE = 0.5
MEDIUM_SIGNATURE = 0.5
_ALERTING = ("error", "warning", "warn", "critical", "fatal")
_CHANGE = re.compile(r"\b(version|deploy\w*|rollout|release|config\w*|migrat\w*|starting|upgrad\w*)\b", re.I)
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


def evidence_only_report(ctx: IncidentContext, reason: str) -> TriageReport:
    """The triage report the evidence alone supports, labelled evidence-only with `reason`."""
    suspicious = suspicious_items(ctx)
    anomalies = [e for e in _anomalies(ctx) if e.template_id not in suspicious]
    patterns = _patterns(ctx, anomalies)
    explained = {r.id for h in patterns for r in h.evidence if r.kind == "log"}
    unexplained = [_anomaly(e, ctx) for e in anomalies if e.template_id not in explained][:ANOMALIES_SHOWN]
    hypotheses = (patterns + unexplained + _changes(ctx, suspicious))[:MAX_HYPOTHESES]
    for n, h in enumerate(hypotheses, 1):
        h.id = f"H{n}"
    report = TriageReport(
        mode="evidence-only",
        mode_reason=reason,
        summary=_summary(ctx, anomalies, hypotheses),
        hypotheses=hypotheses,
    )
    report.grounding.suspicious = suspicious
    return apply_novelty(report, ctx)


def _service(ctx: IncidentContext) -> str:
    return ctx.evidence.service if ctx.evidence is not None else ""


def _anomalies(ctx: IncidentContext) -> list[EvidenceEntry]:
    """New or surging errors and warnings, strongest first (the digest's order)."""
    if ctx.evidence is None:
        return []
    return [e for e in ctx.evidence.entries if e.kind in ("new", "surging") and e.severity in _ALERTING]


def _patterns(ctx: IncidentContext, anomalies: list[EvidenceEntry]) -> list[Hypothesis]:
    """One hypothesis per past incident above the novelty threshold: "same cause as …"."""
    if ctx.knowledge is None:
        return []
    matches = sorted(ctx.knowledge.matches, key=lambda m: -m.score)
    out: list[Hypothesis] = []
    for m in [m for m in matches if m.score > NOVELTY_THRESHOLD][:PATTERNS_SHOWN]:
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
            Hypothesis(
                id="",
                statement=f"Same cause as {m.record_id}: {m.root_cause or m.title}",
                confidence=confidence,
                evidence=refs,
                checks=checks,
                actions=_actions(m, ctx),
            )
        )
    out.sort(key=lambda h: -CONFIDENCE_ORDER[h.confidence])  # stable: best score first within a level
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
    service = _service(ctx) or "the service"
    since = f" since {e.first_seen:%H:%M}" if e.first_seen else ""
    change = "new" if e.kind == "new" else f"{e.ratio:.1f}× the baseline" if e.ratio else "surging"
    return Hypothesis(
        id="",
        statement=f"{service} started logging `{e.template[:200]}` ({change}, ×{e.count}{since})",
        confidence="low",
        evidence=[EvidenceRef(kind="log", id=e.template_id, quote=e.exemplar or "")],
        checks=[f"What changed in {service} just before the first of these lines?"],
    )


def _changes(ctx: IncidentContext, suspicious: dict[str, str]) -> list[Hypothesis]:
    """A deploy or config change logged for the first time in the window: a suspect to rule out (never
    a line that looks like instructions to the model)."""
    if ctx.evidence is None:
        return []
    changes = [
        e
        for e in ctx.evidence.entries
        if e.kind == "new" and e.exemplar and _CHANGE.search(e.template) and e.template_id not in suspicious
    ]
    if not changes:
        return []
    service = ctx.evidence.service or "the service"
    first = changes[0]
    at = f"{first.first_seen:%H:%M}" if first.first_seen else ""
    when = f" at {at}" if at else ""
    return [
        Hypothesis(
            id="",
            statement=f"A change to {service}{when} (a deploy or config change in its logs) started this",
            confidence="low",
            evidence=[EvidenceRef(kind="log", id=e.template_id, quote=e.exemplar or "") for e in changes[:3]],
            checks=[f"Do the errors start right after {at or 'the change'}? Would a rollback stop them?"],
        )
    ]


def _summary(ctx: IncidentContext, anomalies: list[EvidenceEntry], hypotheses: list[Hypothesis]) -> Summary:
    what = []
    if ctx.request.text:
        what.append(f"Reported: {ctx.request.text.rstrip('.')}.")
    if anomalies:
        top = anomalies[0]
        what.append(
            f"{len(anomalies)} new or surging error/warning log templates; the strongest, "
            f"`{top.template[:160]}`, ×{top.count} ({top.kind})."
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
