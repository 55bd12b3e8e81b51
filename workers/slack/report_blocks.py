"""Block Kit for the triage answer: the three-part summary, the hypothesis board, and the details reply.

The answer is one message edited in place (placeholder → progress → answer); the long parts (log
evidence, the channel in the window) go to one thread reply, so the answer stays well inside
Slack's 50 blocks and 3,000 characters a section whatever the evidence holds.
"""

from __future__ import annotations

from workers.models import IncidentContext
from workers.slack import ids, proposal_blocks
from workers.slack.blocks import (
    Block,
    button,
    clip,
    context,
    conversation,
    evidence,
    fmt_window,
    knowledge,
    section,
    when,
)
from workers.slack.neutral import neutralize
from workers.triage.report import ClassifiedAction, Hypothesis, TriageReport

STATUS_BADGE = {
    "new": ":new: new",
    "strengthened": ":arrow_up: strengthened",
    "weakened": ":arrow_down: weakened",
}
CHECKS_SHOWN = 3
REFS_SHOWN = 4
STATEMENT_MAX = 500
DETAIL_MAX = 700


def progress(ctx_line: str, run_id: str) -> tuple[str, list[Block]]:
    """The placeholder while the worker is busy: what it has so far and what it is doing now."""
    text = f":hourglass_flowing_sand: {ctx_line}"
    return text, [section(text), context(f"run id `{run_id}`")]


def answer(ctx: IncidentContext, report: TriageReport, zone: str, run: int = 1) -> tuple[str, list[Block]]:
    """The answer message: who/when, summary, novelty, board, similar incidents, gaps, provenance."""
    req = ctx.request
    names = {m.user: m.author for m in ctx.messages if m.author}
    title = f"Triage: #{neutralize(ctx.channel_name)}"
    blocks: list[Block] = [{"type": "header", "text": {"type": "plain_text", "text": clip(title, 150)}}]
    facts = [f"*Requested by* @{neutralize(ctx.requester_name)}", f"*Window* {fmt_window(req.window, zone)}"]
    if ctx.incident is not None:
        inc = ctx.incident
        facts.insert(0, f"*Incident* `{inc.id}` · {inc.status} since {when(inc.started_at, zone)}")
    if run > 1:
        facts.append(f"*Run* {run}: the board below is updated, not repeated")
    if req.text:
        facts.append(f"*Reported*: {neutralize(req.text, names)}")
    blocks.append(section("\n".join(facts)))
    blocks.append(section(_summary(report)))
    if report.novel:
        blocks.append(section(f":new: *This looks novel.* {neutralize(report.novelty_reason)}"))
    if report.best_effort:
        blocks.append(section(f":warning: *Best effort*: {neutralize(report.best_effort)}"))
    blocks.extend(_board(report, ctx))
    if ctx.knowledge is not None and not ctx.knowledge.novel:
        blocks.extend(knowledge(ctx.knowledge))
    for gap in ctx.gaps:
        blocks.append(section(f":warning: *Gap in the evidence*: {neutralize(gap)}"))
    if ctx.incident is not None and ctx.incident.status == "open":
        resolve = button("Mark resolved", ids.INCIDENT_RESOLVE, ctx.incident.id)
        blocks.append({"type": "actions", "block_id": "incident-actions", "elements": [resolve]})
    blocks.append(context(_provenance(ctx, report)))
    text = f"{title}: {clip(neutralize(report.summary.cause), 200)}"
    return text, blocks


def details(ctx: IncidentContext, zone: str) -> tuple[str, list[Block]]:
    """The thread reply: the log evidence and the channel in the window."""
    names = {m.user: m.author for m in ctx.messages if m.author}
    blocks: list[Block] = []
    if ctx.evidence is not None:
        blocks.extend(evidence(ctx.evidence, zone))
    blocks.append(section(conversation(ctx, zone, names)))
    return f"Evidence behind the triage of #{neutralize(ctx.channel_name)}", blocks


def _summary(report: TriageReport) -> str:
    s = report.summary
    return (
        f"*What's going on*: {neutralize(s.what)}\n"
        f"*Likely cause* ({s.cause_confidence} confidence): {neutralize(s.cause)}\n"
        f"*What to do next*: {neutralize(s.next)}"
    )


def _board(report: TriageReport, ctx: IncidentContext) -> list[Block]:
    if not report.hypotheses:
        return [section("*Hypotheses*: none is supported by the evidence yet.")]
    out = [section(f"*Hypotheses*, most likely first ({len(report.hypotheses)}):")]
    incident_id = ctx.request.incident_id
    for h in report.hypotheses:
        out.append(section(_hypothesis(h, report)))
        for c in h.classified:
            if c.proposal_id:
                short = f"{c.action.action_type} {neutralize(c.action.target)}"
                out.append(proposal_blocks.buttons(c.proposal_id, short, _what(c)))
        value = f"{incident_id}|{h.id}"
        out.append(
            {
                "type": "actions",
                "block_id": clip(f"hyp:{h.id}", 255),
                "elements": [
                    button("Support", ids.HYP_SUPPORT, value),
                    button("Reject", ids.HYP_REJECT, value),
                    button("Need data", ids.HYP_NEED_DATA, value),
                ],
            }
        )
    return out


def _hypothesis(h: Hypothesis, report: TriageReport) -> str:
    badge = STATUS_BADGE.get(h.status, "")
    was = f" (capped from {h.downgraded_from})" if h.downgraded_from else ""
    lines = [
        f"`{neutralize(h.id)}` *{h.confidence}*{was}{' · ' + badge if badge else ''}",
        clip(neutralize(h.statement), STATEMENT_MAX),
    ]
    if h.detail:
        lines.append(clip(neutralize(h.detail), DETAIL_MAX))
    refs = []
    for ref in h.evidence[:REFS_SHOWN]:
        quote = f" “{clip(neutralize(ref.quote), 160)}”" if ref.quote else ""
        refs.append(f"`{neutralize(ref.id)}`{quote}")
    if refs:
        more = f" +{len(h.evidence) - REFS_SHOWN}" if len(h.evidence) > REFS_SHOWN else ""
        lines.append("Evidence: " + ", ".join(refs) + more)
    if h.checks:
        lines.append("Check: " + "; ".join(clip(neutralize(c), 200) for c in h.checks[:CHECKS_SHOWN]))
    for c in h.classified:
        lines.append(_action(c))
    return "\n".join(lines)


def _what(c: ClassifiedAction) -> str:
    """The action as a command: type, target, parameters."""
    action = c.action
    params = " ".join(f"{k}={v}" for k, v in sorted(action.params.items()))
    return " ".join(p for p in (action.action_type, neutralize(action.target), neutralize(params)) if p)


def _action(c: ClassifiedAction) -> str:
    """The action with the command a human would run, and why it is at its level."""
    action = c.action
    what = _what(c)
    why = f" _({clip(neutralize(c.reasons[-1]), 160)})_" if c.reasons else ""
    because = f": {clip(neutralize(action.rationale), 200)}" if action.rationale else ""
    if c.proposal_id:
        return f"Proposed: `{clip(what, 200)}` _(runs only after approval below)_{because}"
    return f"Suggested: `{clip(what, 200)}`{why}{because}"


def _provenance(ctx: IncidentContext, report: TriageReport) -> str:
    g = report.grounding
    if report.mode == "evidence-only":
        head = (
            f"Evidence-only mode: {neutralize(report.mode_reason)}. "
            "Hypotheses come from past incidents and log anomalies."
        )
    else:
        u = report.usage
        prompts = neutralize(", ".join(f"{p.name} v{p.version}" for p in report.prompts))
        head = (
            f"LLM `{neutralize(u.model)}` · {u.calls} call{'s' if u.calls != 1 else ''} · "
            f"{u.prompt_tokens + u.completion_tokens} tokens · prompts {prompts} · grounding: "
            f"{g.dropped_hypotheses} dropped, {g.downgraded} downgraded, {g.dropped_refs} citations removed"
        )
        if g.dropped_advice:
            head += f", {g.dropped_advice} unsupported advice removed"
    if g.suspicious:
        suspicious = ", ".join(f"`{neutralize(i)}`" for i in sorted(g.suspicious))
        head += f" · suspicious evidence (not cited): {suspicious}"
    if report.shadowed:
        head += f" · {report.shadowed} action(s) at observe, kept in the shadow ledger"
    return (
        f"{head} · Log evidence and the channel are in the thread. "
        f"run id `{neutralize(ctx.request.run_id)}` · {ctx.elapsed_s:.1f} s"
    )
