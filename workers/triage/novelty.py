"""Novel incidents stay with humans: nothing similar in the knowledge base and mostly new log templates
means the answer says so plainly and actions are capped at suggest. Used by both modes."""

from __future__ import annotations

from workers.models import IncidentContext
from workers.triage.report import TriageReport
from workers.triage.vocabulary import default_vocabulary


def novelty_reason(ctx: IncidentContext) -> str | None:
    """Why this incident looks novel, or None when it does not.

    Novel: the knowledge base has nothing like it, and a failure mechanism or change of the vocabulary
    appears for the first time, or at least half of the digest's new or surging templates were never
    seen before (or there is no digest, or nothing in it is anomalous). Known templates surging with
    no past incident on record and nothing new behind them are not novel."""
    knowledge = ctx.knowledge
    if knowledge is None or not knowledge.novel:
        return None
    anomalous = [e for e in ctx.evidence.entries if e.kind in ("new", "surging")] if ctx.evidence else []
    new = sum(1 for e in anomalous if e.kind == "new")
    vocabulary = default_vocabulary()
    mechanism = [e for e in anomalous if e.kind == "new" and vocabulary.terms_in([e.exemplar or e.template])]
    if anomalous and new * 2 < len(anomalous) and not mechanism:
        return None
    logs = f" and {new} of {len(anomalous)} anomalous log templates never seen before" if anomalous else ""
    why = f" ({knowledge.reason})" if knowledge.reason else ""
    return f"No similar past incident{why}{logs}: this looks novel and needs human judgment."


def apply_novelty(report: TriageReport, ctx: IncidentContext) -> TriageReport:
    """The report marked novel with actions capped at suggest, when the incident looks novel;
    unchanged otherwise. Idempotent."""
    reason = novelty_reason(ctx)
    if reason is None:
        return report
    return report.model_copy(update={"novel": True, "novelty_reason": reason, "action_cap": "suggest"})
