"""Novel incidents stay with humans: nothing similar in the knowledge base and mostly new log templates
means the answer says so plainly and actions are capped at suggest."""

from __future__ import annotations

from workers.models import IncidentContext
from workers.triage.report import TriageReport


def apply_novelty(report: TriageReport, ctx: IncidentContext) -> TriageReport:
    knowledge = ctx.knowledge
    if knowledge is None or not knowledge.novel:
        return report
    anomalous = [e for e in ctx.evidence.entries if e.kind in ("new", "surging")] if ctx.evidence else []
    new = sum(1 for e in anomalous if e.kind == "new")
    if anomalous and new * 2 < len(anomalous):
        return report  # mostly known templates surging: not novel, just nothing similar on record
    logs = f" and {new} of {len(anomalous)} anomalous log templates never seen before" if anomalous else ""
    return report.model_copy(
        update={
            "novel": True,
            "novelty_reason": f"No similar past incident{logs}: this looks novel and needs human judgment.",
            "action_cap": "suggest",
        }
    )
