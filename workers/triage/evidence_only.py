"""Hypotheses without an LLM: known patterns (similar past incidents, by text and log signature) and the
strongest log anomalies, in the same report the LLM path produces. Never more than medium confidence.
"""

from __future__ import annotations

import re

from workers.knowledge.search import NOVELTY_THRESHOLD
from workers.models import EvidenceEntry, IncidentContext, SimilarIncident
from workers.triage.report import (
    ActionType,
    Confidence,
    EvidenceRef,
    Hypothesis,
    SuggestedAction,
    Summary,
    TriageReport,
)

ANOMALIES_SHOWN = 3
PATTERNS_SHOWN = 3
_CHANGE = re.compile(r"\b(version|deploy\w*|rollout|release|config\w*|migrat\w*|starting|upgrad\w*)\b", re.I)
_WORD = re.compile(r"[a-z][a-z0-9_-]{3,}")
_FIX_ACTIONS: tuple[tuple[re.Pattern[str], ActionType], ...] = (
    (re.compile(r"\broll(ed|ing)?\b.{0,40}?\bback\b|\brollback\b", re.I), "rollback"),
    (re.compile(r"\brestart(ed|ing)?\b", re.I), "restart"),
    (re.compile(r"\bscal(ed|ing|e) (up|out)\b", re.I), "scale"),
)


def evidence_only_report(ctx: IncidentContext, reason: str) -> TriageReport:
    anomalies = _anomalies(ctx)
    patterns = _patterns(ctx, anomalies)
    explained = {r.id for h in patterns for r in h.evidence if r.kind == "log"}
    unexplained = [_anomaly(e, ctx) for e in anomalies if e.template_id not in explained][:ANOMALIES_SHOWN]
    hypotheses = patterns + unexplained + _changes(ctx)
    for n, h in enumerate(hypotheses, 1):
        h.id = f"H{n}"
    return TriageReport(
        mode="evidence-only",
        mode_reason=reason,
        summary=_summary(ctx, anomalies, hypotheses),
        hypotheses=hypotheses,
    )


def _anomalies(ctx: IncidentContext) -> list[EvidenceEntry]:
    """New or surging errors and warnings, strongest first (the digest's order)."""
    if ctx.evidence is None:
        return []
    return [
        e
        for e in ctx.evidence.entries
        if e.kind in ("new", "surging") and e.severity in ("error", "warning", "critical", "fatal")
    ]


def _patterns(ctx: IncidentContext, anomalies: list[EvidenceEntry]) -> list[Hypothesis]:
    if ctx.knowledge is None or ctx.knowledge.novel:
        return []
    out: list[Hypothesis] = []
    for m in ctx.knowledge.matches:
        if m.score <= NOVELTY_THRESHOLD or not m.root_cause or len(out) == PATTERNS_SHOWN:
            continue
        logs = _shared_templates(m, anomalies)
        confidence: Confidence = "medium" if m.score >= 0.5 and m.signature >= 0.5 and logs else "low"
        refs = [EvidenceRef(kind="incident", id=m.record_id)]
        refs += [EvidenceRef(kind="log", id=e.template_id, quote=e.exemplar or "") for e in logs]
        checks = [f"Compare with {m.record_id}: {m.title}"]
        if m.fix:
            checks.append(f"What fixed {m.record_id}: {m.fix}")
        out.append(
            Hypothesis(
                id="",
                statement=f"Same cause as {m.record_id}: {m.root_cause}",
                confidence=confidence,
                evidence=refs,
                checks=checks,
                actions=_actions(m, ctx),
            )
        )
    return out


def _shared_templates(m: SimilarIncident, anomalies: list[EvidenceEntry]) -> list[EvidenceEntry]:
    """The anomalies that share words with what the past incident says, when its signature matched."""
    if m.signature <= 0:
        return []
    words = set(_WORD.findall(f"{m.title} {m.root_cause} {m.snippet} {m.fix}".lower()))
    return [e for e in anomalies if len(words & set(_WORD.findall(e.template.lower()))) >= 2][:3]


def _actions(m: SimilarIncident, ctx: IncidentContext) -> list[SuggestedAction]:
    service = ctx.evidence.service if ctx.evidence is not None else ""
    if not service or not m.fix:
        return []
    for pattern, action_type in _FIX_ACTIONS:
        if pattern.search(m.fix):
            return [
                SuggestedAction(
                    action_type=action_type, target=service, rationale=f"what fixed {m.record_id}: {m.fix}"
                )
            ]
    return []


def _anomaly(e: EvidenceEntry, ctx: IncidentContext) -> Hypothesis:
    service = (ctx.evidence.service if ctx.evidence is not None else "") or "the service"
    since = f" since {e.first_seen:%H:%M}" if e.first_seen else ""
    change = "new" if e.kind == "new" else f"{e.ratio:.1f}× the baseline" if e.ratio else "surging"
    return Hypothesis(
        id="",
        statement=f"{service} started logging `{e.template[:200]}` ({change}, ×{e.count}{since})",
        confidence="low",
        evidence=[EvidenceRef(kind="log", id=e.template_id, quote=e.exemplar or "")],
        checks=[f"What changed in {service} just before the first of these lines?"],
    )


def _changes(ctx: IncidentContext) -> list[Hypothesis]:
    """A deploy or config change logged for the first time in the window: a suspect to rule out."""
    if ctx.evidence is None:
        return []
    changes = [
        e for e in ctx.evidence.entries if e.kind == "new" and e.exemplar and _CHANGE.search(e.template)
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
        what.append(f"Reported: {ctx.request.text}.")
    if anomalies:
        top = anomalies[0]
        what.append(
            f"{len(anomalies)} new or surging error/warning log templates; the strongest ×{top.count}."
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
