"""The draft as a Markdown document, in the sections of the Google SRE book template, plus the
decision tree, the actions, the triplets and the blameless review."""

from __future__ import annotations

from workers.postmortem.markup import shorten
from workers.postmortem.model import PostmortemDraft, TimelineEntry

SECTIONS = (
    "Summary",
    "Impact",
    "Timeline",
    "Detection",
    "Root causes and trigger",
    "Resolution",
    "Decision tree",
    "Actions taken",
    "What went well",
    "What went badly",
    "Where we got lucky",
    "Action items",
    "Open questions",
    "Triplets",
    "Blameless review",
)
STATE_MARK = {
    "confirmed": "✅ confirmed",
    "rejected": "❌ rejected",
    "dropped": "➖ dropped",
    "open": "❔ open",
}


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _entry(e: TimelineEntry, *, kind: bool = True) -> str:
    when = f"{e.at:%H:%M:%S}"
    when = f"[{when}]({e.link})" if e.link else when
    who = f" **{_cell(e.who)}**:" if e.who else ""
    mark = " 📌" if e.key else ""
    label = f" _{e.kind}_ ·" if kind and e.kind else ""
    return f"- {when}{mark}{label}{who} {shorten(_cell(e.what), 500)}"


def _start_note(pm: PostmortemDraft) -> str:
    """What the start time is, and the opening in Slack when that is later (the triage answer's
    "open since")."""
    if not pm.start_basis:
        return ""
    opened = pm.opened_at
    later = opened is not None and f"{opened:%H:%M}" != f"{pm.started_at:%H:%M}"
    return f" (started at {pm.start_basis}" + (f"; opened in Slack at {opened:%H:%M}" if later else "") + ")"


def _bullets(items: list[str]) -> list[str]:
    return [f"- {i}" for i in items] or ["- (none)"]


def markdown(pm: PostmortemDraft, *, appendix: bool = True) -> str:
    """The document; `appendix` adds every channel message (the knowledge base leaves it out)."""
    p = pm.prose
    out = [f"# Postmortem: {pm.title}", ""]
    status = (
        "reviewed" + (f" by {pm.reviewed_by}" if pm.reviewed_by else "")
        if pm.review == "reviewed"
        else "draft"
    )
    out += [
        "| | |",
        "|---|---|",
        f"| Incident | `{pm.incident_id}` in #{pm.channel_name} |",
        f"| Status | {status} (version {pm.version}) |",
        f"| Started / resolved | {pm.started_at:%Y-%m-%d %H:%M} / {pm.resolved_at:%Y-%m-%d %H:%M} UTC"
        + _start_note(pm)
        + " |",
        f"| Services | {', '.join(pm.services) or 'not recorded'} |",
        f"| Participants | {_cell(', '.join(pm.participants)) or 'none'} |",
        f"| Drafted | {pm.generated_at:%Y-%m-%d %H:%M} UTC, "
        + ("by the LLM from the data" if pm.mode == "llm" else f"evidence-only ({pm.mode_reason})")
        + " |",
        "",
    ]
    if pm.mode == "evidence-only":
        out += ["> Drafted without an LLM: sections marked ✍️ are prompts for the humans to fill in.", ""]
    out += ["## Summary", "", p.summary, "", "## Impact", "", p.impact, ""]
    out += [
        "## Timeline",
        "",
        "Key events (📌 marked in the channel; alerts, log milestones, the first report, status updates, "
        "decisions, mitigations, hypotheses, actions), times in UTC:",
        "",
    ]
    out += [_entry(e) for e in pm.timeline if e.shown] or ["- (none)"]
    out += ["", "## Detection", "", p.detection, "", "## Root causes and trigger", ""]
    out += [*_bullets(p.root_causes), "", f"Trigger: {p.trigger or 'not recorded'}", ""]
    out += ["## Resolution", "", p.resolution, ""]
    out += ["## Decision tree", "", "Every hypothesis raised, including those pursued and rejected:", ""]
    for n in pm.decision_tree:
        decided = f", {n.decided_at:%H:%M}" if n.decided_at else ""
        out.append(
            f"- **{n.id}** {STATE_MARK[n.state]}{decided}: {_cell(n.statement)} "
            f"(raised by {n.raised_by} at {n.raised_at:%H:%M}; {n.minutes:.0f} min)"
        )
        if n.why:
            out.append(f"  - why: {_cell(n.why)}")
        out += [f"  - for: {_cell(e)}" for e in n.evidence_for]
        out += [f"  - against: {_cell(e)}" for e in n.evidence_against]
    if not pm.decision_tree:
        out.append("- (no hypotheses were raised)")
    out += ["", "## Actions taken", ""]
    out += [
        f"- {a.at:%H:%M} {a.kind}: `{_cell(a.action)}`"
        + (f" by {a.by}" if a.by else "")
        + (f" ({_cell(a.detail)})" if a.detail else "")
        for a in pm.actions
    ] or ["- (none)"]
    out += [
        "",
        "## What went well",
        "",
        *_bullets(p.went_well),
        "",
        "## What went badly",
        "",
        *_bullets(p.went_badly),
    ]
    out += ["", "## Where we got lucky", "", *_bullets(p.lucky), "", "## Action items", ""]
    out += ["| Item | Owner | Due | Type | Source |", "|---|---|---|---|---|"]
    out += [
        f"| {_cell(i.text)} | {_cell(i.owner) or 'unassigned'} | {_cell(i.due) or '-'} | {i.type} | "
        + ("channel" if i.source == "channel" else "suggested by the model")
        + " |"
        for i in p.action_items
    ]
    if not p.action_items:
        out.append("| ✍️ _To write_ | | | | |")
    out += ["", "## Open questions", "", *_bullets(p.open_questions), "", "## Triplets", ""]
    out += [
        f"- symptom: {_cell(t.symptom)} → root cause: {_cell(t.root_cause)} → fix: {_cell(t.fix)}"
        + (" (verified)" if t.verified else "")
        for t in pm.triplets
    ] or ["- (none: no hypothesis was confirmed with a fix)"]
    out += ["", "## Blameless review", ""]
    out += [f"- ⚠️ {f.where}: “{_cell(f.sentence)}”: {f.why}. Try: {f.suggestion}" for f in pm.blame] or [
        "- No sentence blaming a person was found."
    ]
    out += [f"- {n}" for n in pm.bias_notes]
    if pm.gaps:
        out += ["", "Not read: " + "; ".join(pm.gaps)]
    if appendix:
        messages = [e for e in pm.timeline if e.source in ("message", "alert")]
        out += ["", f"## Appendix: channel log ({len(messages)} messages)", ""]
        out += [_entry(e, kind=False) for e in messages]
    return "\n".join(out) + "\n"
