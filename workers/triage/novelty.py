"""Novel incidents stay with humans: nothing similar in the knowledge base and mostly new log templates
means the answer says so plainly and actions are capped at suggest. Used by both modes."""

from __future__ import annotations

from workers.models import IncidentContext
from workers.triage.report import TriageReport


def novelty_reason(ctx: IncidentContext) -> str | None:
    """Why this incident looks novel, or None when it does not.

    Novel: the knowledge base has nothing above the novelty threshold, and at least half of the
    digest's new or surging templates were never seen before (or there is no digest, or nothing in
    it is anomalous). Known templates surging with no past incident on record are not novel."""
    knowledge = ctx.knowledge
    if knowledge is None or not knowledge.novel:
        return None
    anomalous = [e for e in ctx.evidence.entries if e.kind in ("new", "surging")] if ctx.evidence else []
    new = sum(1 for e in anomalous if e.kind == "new")
    if anomalous and new * 2 < len(anomalous):
        return None
    logs = f" and {new} of {len(anomalous)} anomalous log templates never seen before" if anomalous else ""
    return f"No similar past incident{logs}: this looks novel and needs human judgment."


def apply_novelty(report: TriageReport, ctx: IncidentContext) -> TriageReport:
    """The report marked novel with actions capped at suggest, when the incident looks novel;
    unchanged otherwise. Idempotent."""
    reason = novelty_reason(ctx)
    if reason is None:
        return report
    return report.model_copy(update={"novel": True, "novelty_reason": reason, "action_cap": "suggest"})
