"""Draft the postmortem from what was gathered.

The timeline, decision tree, actions, triplets and impact figures always come from the data; the
LLM only writes the prose sections, from a redacted prompt, and never changes the data parts.
Without an LLM (or when it gives no usable answer) the prose is built from the data where the data
says something, and otherwise left as a clearly marked prompt for the humans.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

import structlog

from workers.errors import LLMError
from workers.knowledge.model import Triplet
from workers.llm.budget import Budget
from workers.llm.client import LLMClient
from workers.llm.prompts import PromptLoader
from workers.postmortem import blameless, items, timeline
from workers.postmortem.decisions import decision_tree
from workers.postmortem.gather import Gathered
from workers.postmortem.markup import plain, shorten
from workers.postmortem.model import (
    TO_WRITE,
    ActionEntry,
    DecisionNode,
    PostmortemDraft,
    Prose,
)
from workers.redaction import ConsistentRedactor, EgressRecord, prepare_egress
from workers.triage.board import SAME_WORDS, words

log = structlog.get_logger(__name__)
TITLE_MAX = 120
TITLE_SYMPTOM_MIN = 30  # characters of the symptom a long cause leaves in the title
PROMPT_MESSAGES = 150  # newest human messages given to the LLM beside the key events
AUDIT_SHOWN = ("proposed", "approved", "denied", "executed", "failed", "expired", "cancelled", "suggested")
Egress = Callable[[EgressRecord], None]


def draft(
    got: Gathered,
    *,
    resolved_by: str,
    summary: str,
    llm: LLMClient | None,
    prompts: PromptLoader,
    budget: Budget,
    redactor: ConsistentRedactor,
    egress: Egress,
    endpoint: str = "",
    now: datetime | None = None,
) -> PostmortemDraft:
    incident = got.incident
    now = now or datetime.now(UTC)
    resolved_at = incident.resolved_at or now
    tree = decision_tree(got, resolved_at, summary)
    actions = _actions(got)
    entries = timeline.build(got, tree, actions, resolved_at, resolved_by, summary)
    people = sorted({m.author for m in got.messages if not m.bot and m.author})
    started, basis = start_of(got)
    pm = PostmortemDraft(
        incident_id=incident.id,
        title=_title(got, tree),
        channel_id=incident.channel_id,
        channel_name=got.channel_name,
        mode="evidence-only",
        generated_at=now,
        started_at=started,
        start_basis=basis,
        opened_at=incident.started_at,
        resolved_at=resolved_at,
        resolved_by=resolved_by,
        services=[got.service] if got.service else [],
        participants=people,
        prose=_evidence_prose(got, tree, actions, summary, started, resolved_at),
        timeline=entries,
        decision_tree=tree,
        actions=actions,
        triplets=_triplets(got, tree, actions, summary),
        log_signature=got.signature,
        gaps=list(got.gaps),
        messages_read=len(got.messages),
    )
    if llm is None:
        pm.mode_reason = "no LLM is configured"
    else:
        try:
            data = pm.prose
            prose = _llm_prose(pm, got, summary, llm, prompts, budget, redactor, egress, endpoint)
            # The figures and open questions the data has stay, whatever the model wrote.
            pm.prose = prose.model_copy(
                update={
                    "impact": f"{_figures(got, started, resolved_at)} {prose.impact}",
                    "detection": f"{_detection(got, tree)} {prose.detection}".strip(),
                    "open_questions": list(dict.fromkeys([*prose.open_questions, *data.open_questions])),
                    "action_items": items.merge(data.action_items, prose.action_items),
                }
            )
            pm.mode, pm.mode_reason = "llm", ""
        except LLMError as exc:
            log.warning("postmortem prose from the LLM failed; evidence-only draft", error=str(exc))
            pm.mode_reason = f"the LLM gave no usable answer ({exc})"
    pm.blame, pm.bias_notes = blameless.check(_checked_parts(pm), blameless.first_names(people))
    return pm


def start_of(got: Gathered) -> tuple[datetime, str]:
    """When the incident started, and what says so: the earliest of its first alert, the first
    message in the channel and its opening. The draft, its summary message and its record all use
    this one time."""
    firing = [s.start for s in timeline.alert_spans(got.messages)]
    candidates = [(t, "the first alert") for t in firing[:1]]
    candidates += [(m.at, "the first message in the channel") for m in got.messages[:1]]
    candidates.append((got.incident.started_at, "the incident's opening"))
    return min(candidates, key=lambda c: c[0])


def _title(got: Gathered, tree: list[DecisionNode]) -> str:
    """The symptom and the confirmed cause; when too long the symptom gives way first, so the
    cause stays readable, and nothing is cut mid-word."""
    confirmed = next((n for n in tree if n.state == "confirmed"), None)
    what = plain(got.symptom or got.incident.resolution or got.channel_name or got.incident.id)
    what = " ".join(what.split())
    if not confirmed:
        return shorten(what, TITLE_MAX)
    cause = " ".join(plain(confirmed.statement).split())
    what = shorten(what, max(TITLE_SYMPTOM_MIN, TITLE_MAX - 2 - len(cause)))
    return f"{what}: {shorten(cause, TITLE_MAX - 2 - len(what))}"


def _actions(got: Gathered) -> list[ActionEntry]:
    out = []
    for e in got.audit:
        if e.get("kind") not in AUDIT_SHOWN:
            continue
        try:
            action = json.loads(e.get("action", "{}"))
        except ValueError:
            action = {}
        what = " ".join(str(action.get(k, "")) for k in ("action_type", "target")).strip() or "?"
        detail = e.get("reason") or e.get("result") or e.get("level", "")
        out.append(
            ActionEntry(
                at=datetime.fromisoformat(e["at"]),
                kind=e["kind"],
                action=what,
                by=got.names.get(e.get("by", ""), e.get("by", "")),
                detail=detail.strip('"'),
            )
        )
    return out


def _figures(got: Gathered, started: datetime, resolved_at: datetime) -> str:
    """The impact numbers the data has: duration, alerting window, messages, people, service."""
    spans = timeline.alert_spans(got.messages)
    people = {m.author for m in got.messages if not m.bot}
    span = f"{started:%Y-%m-%d %H:%M} → {resolved_at:%H:%M} UTC"
    out = [f"Incident open {_minutes(started, resolved_at)} min ({span})."]
    if spans:
        fire = spans[0].start
        ends = [s.end for s in spans if s.end]
        clear = max(ends) if len(ends) == len(spans) else None
        names = ", ".join(dict.fromkeys(s.name for s in spans))
        out.append(
            f"Alerting from {fire:%H:%M}"
            + (f" to {clear:%H:%M} ({_minutes(fire, clear)} min)" if clear else " (not all resolved)")
            + f": {names}."
        )
    out.append(
        f"{len(got.messages)} messages from {len(people)} people"
        + (f"; service: {got.service}." if got.service else ".")
    )
    return " ".join(out)


def _minutes(a: datetime, b: datetime) -> int:
    return max(0, round((b - a).total_seconds() / 60))


def _evidence_prose(
    got: Gathered,
    tree: list[DecisionNode],
    actions: list[ActionEntry],
    summary: str,
    started: datetime,
    resolved_at: datetime,
) -> Prose:
    confirmed = [n for n in tree if n.state == "confirmed"]
    discarded = [n for n in tree if n.state in ("rejected", "dropped")]
    executed = [a for a in actions if a.kind == "executed"]
    impact = [_figures(got, started, resolved_at)]
    impact.append(TO_WRITE + "who and what was affected (users, requests, revenue, SLO budget spent).")
    detection = _detection(got, tree) or TO_WRITE + "how the incident was detected."
    resolution = summary or TO_WRITE + "what was done to resolve it."
    if executed:
        done = "; ".join(f"{a.action} ({a.detail})" for a in executed)
        resolution = f"{resolution.rstrip(' .')}. Executed by the bot: {done}."
    went_badly = []
    if discarded:
        went_badly.append(
            f"{len(discarded)} hypothesis(es) were pursued and then rejected or dropped: "
            + "; ".join(f"{n.id} ({n.minutes:.0f} min)" for n in discarded)
            + ". See the decision tree for why each looked plausible."
        )
    opened = [n for n in tree if n.state == "open"]
    return Prose(
        summary=(
            f"{got.symptom or got.channel_name}. "
            + (f"Root cause (confirmed hypothesis): {confirmed[0].statement}. " if confirmed else "")
            + (f"Resolved after {_minutes(started, resolved_at)} min: {summary}" if summary else "")
        ).strip()
        or TO_WRITE + "two or three sentences on what happened.",
        impact=" ".join(impact),
        detection=detection,
        root_causes=[n.statement for n in confirmed]
        or [TO_WRITE + "no hypothesis was confirmed; the root cause."],
        trigger=_trigger(got),
        resolution=resolution,
        went_well=[TO_WRITE + "what helped (detection, tools, people, runbooks)."],
        went_badly=[*went_badly, TO_WRITE + "what slowed the response."],
        lucky=[TO_WRITE + "where we got lucky."],
        action_items=items.from_messages(got.messages, got.names),
        open_questions=[f"{n.id} ({n.statement}) was never confirmed or ruled out." for n in opened]
        + [f"Not read: {g}" for g in got.gaps],
    )


def _detection(got: Gathered, tree: list[DecisionNode]) -> str:
    """How the incident came to light, from the data: the first alert, the first report, how long
    after the first logged error, and the bot's first hypothesis."""
    spans = timeline.alert_spans(got.messages)
    first_human = next((m for m in got.messages if not m.bot), None)
    found: list[str] = []
    if spans:
        found.append(f"Alert {spans[0].name} ({spans[0].tool}) fired at {spans[0].start:%H:%M} UTC.")
    if first_human:
        found.append(f"First reported in the channel by {first_human.author} at {first_human.at:%H:%M} UTC.")
    first_error = next((m for m in got.milestones if m.kind == "first error"), None)
    if first_error and (spans or first_human):
        noticed = min([*(s.start for s in spans[:1]), *(m.at for m in [first_human] if m)])
        found.append(
            f"The first error was logged at {first_error.at:%H:%M} UTC, "
            f"{_minutes(first_error.at, noticed)} min before anyone was told."
        )
    triaged = [n.raised_at for n in tree if n.raised_by == "bot"]
    if found and triaged:
        found.append(f"First bot hypothesis at {min(triaged):%H:%M} UTC.")
    return " ".join(found)


def _trigger(got: Gathered) -> str:
    """The last change the logs show before the first error, offered as a candidate to confirm."""
    first_error = next((m for m in got.milestones if m.kind == "first error"), None)
    before = [m for m in got.milestones if m.kind == "change" and first_error and m.at <= first_error.at]
    if not (first_error and before):
        return TO_WRITE + "what set it off (a deploy, a config change, traffic, a dependency)."
    change = before[-1]
    return (
        f"{TO_WRITE}confirm or replace the candidate from the logs: a change at {change.at:%H:%M:%S} UTC, "
        f"{_minutes(change.at, first_error.at)} min before the first error: “{change.what}”."
    )


def _triplets(
    got: Gathered, tree: list[DecisionNode], actions: list[ActionEntry], summary: str
) -> list[Triplet]:
    """One triplet per confirmed cause (a person's hypothesis and the bot's saying the same thing
    count once); verified when the fix was executed or people supported the cause."""
    executed = [a for a in actions if a.kind == "executed" and "fail" not in a.detail.lower()]
    fix = summary or "; ".join(a.action for a in executed)
    if not fix:
        return []
    out: list[Triplet] = []
    for n in (n for n in tree if n.state == "confirmed"):
        if any(_same_cause(n.statement, t.root_cause) for t in out):
            continue
        verified = bool(executed) or any(e.startswith("Support") for e in n.evidence_for)
        out.append(
            Triplet(
                symptom=got.symptom or got.channel_name, root_cause=n.statement, fix=fix, verified=verified
            )
        )
    return out


def _same_cause(a: str, b: str) -> bool:
    wa, wb = words(a), words(b)
    return bool(wa and wb) and 2 * len(wa & wb) / (len(wa) + len(wb)) >= SAME_WORDS


def _llm_prose(
    pm: PostmortemDraft,
    got: Gathered,
    summary: str,
    llm: LLMClient,
    prompts: PromptLoader,
    budget: Budget,
    redactor: ConsistentRedactor,
    egress: Egress,
    endpoint: str,
) -> Prose:
    key = [e for e in pm.timeline if e.shown]
    recent = [e for e in pm.timeline if not e.shown][-PROMPT_MESSAGES:]
    system = prompts.render("postmortem/system")
    user = prompts.render_fenced(
        "postmortem/user",
        incident=pm.incident_id,
        symptom=got.symptom,
        service=got.service,
        started=f"{pm.started_at:%Y-%m-%d %H:%M}",
        resolved=f"{pm.resolved_at:%Y-%m-%d %H:%M}",
        summary=summary,
        key_events=[f"{e.at:%H:%M} {e.who}: " + (f"[{e.kind}] " if e.kind else "") + e.what for e in key],
        messages=[f"{e.at:%H:%M} {e.who}: {e.what}" for e in sorted(recent, key=lambda e: e.at)],
        tree=[f"{n.id} [{n.state}] {n.statement} — {n.why}" for n in pm.decision_tree],
        actions=[f"{a.at:%H:%M} {a.kind} {a.action} {a.detail}" for a in pm.actions],
    )
    messages = []
    for role, prompt in (("system", system), ("user", user)):
        text, record = prepare_egress(redactor, endpoint, prompt.text, f"prompt {prompt.name}")
        egress(record)
        messages.append({"role": role, "content": text})
    result = llm.complete(messages, Prose, budget=budget, name="postmortem_prose")
    return result.parsed


def _checked_parts(pm: PostmortemDraft) -> list[tuple[str, str]]:
    """Every text the document shows: the prose, the tree, the timeline and the appendix."""
    p = pm.prose
    parts = [("title", pm.title), ("summary", p.summary), ("impact", p.impact), ("detection", p.detection)]
    parts += [("trigger", p.trigger), ("resolution", p.resolution)]
    parts += [("root causes", t) for t in p.root_causes]
    parts += [("went well", t) for t in p.went_well] + [("went badly", t) for t in p.went_badly]
    parts += [("lucky", t) for t in p.lucky] + [("action items", i.text) for i in p.action_items]
    parts += [("open questions", t) for t in p.open_questions]
    for n in pm.decision_tree:
        said = (n.statement, n.why, *n.evidence_for, *n.evidence_against)
        parts += [(f"decision tree {n.id}", t) for t in said]
    for e in pm.timeline:
        where = "timeline" if e.shown else "appendix"
        parts.append((f"{where} {e.at:%H:%M:%S}" + (f" ({e.who})" if e.who else ""), e.what))
    return parts
