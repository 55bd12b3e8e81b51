"""Draft the postmortem from what was gathered.

The timeline, decision tree, actions, triplets and impact figures always come from the data; the
LLM only writes the prose sections, from a redacted prompt, and never changes the data parts.
Without an LLM (or when it gives no usable answer) the prose is built from the data where the data
says something, and otherwise left as a clearly marked prompt for the humans.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime

import structlog

from workers.errors import LLMError
from workers.knowledge.model import Triplet
from workers.llm.budget import Budget
from workers.llm.client import LLMClient
from workers.llm.prompts import PromptLoader
from workers.postmortem import blameless
from workers.postmortem.decisions import decision_tree
from workers.postmortem.gather import Gathered
from workers.postmortem.model import (
    TO_WRITE,
    ActionEntry,
    ActionItem,
    DecisionNode,
    ItemType,
    PostmortemDraft,
    Prose,
    TimelineEntry,
)
from workers.redaction import ConsistentRedactor, EgressRecord, prepare_egress
from workers.triage.board import SAME_WORDS, words

log = structlog.get_logger(__name__)
_ALERT = re.compile(r"\[(?P<state>FIRING|RESOLVED)(?::\d+)?\]|\b(?P<pd>triggered|resolved)\b:", re.IGNORECASE)
_ITEM = re.compile(r"^\s*(?:action item|follow[- ]?up|todo|ai)\s*[:\-]\s*(?P<text>.+)", re.IGNORECASE)
_MENTION = re.compile(r"<@(?P<id>[UW][A-Z0-9]+)>")
_DETECT = re.compile(r"\b(?:alert|alerting|monitor|dashboard|page|paging|detect|slo|probe)\w*", re.IGNORECASE)
_MITIGATE = re.compile(
    r"\b(?:runbook|rollback|roll back|failover|playbook|mitigat|restart|scale)\w*", re.IGNORECASE
)
TITLE_MAX = 120
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
    timeline = _timeline(got, tree, actions, resolved_at, resolved_by, summary)
    people = sorted({m.author for m in got.messages if not m.bot and m.author})
    pm = PostmortemDraft(
        incident_id=incident.id,
        title=_title(got, tree),
        channel_id=incident.channel_id,
        channel_name=got.channel_name,
        mode="evidence-only",
        generated_at=now,
        started_at=min([incident.started_at, *(m.at for m in got.messages[:1])]),
        resolved_at=resolved_at,
        resolved_by=resolved_by,
        services=[got.service] if got.service else [],
        participants=people,
        prose=_evidence_prose(got, tree, actions, timeline, summary, resolved_at),
        timeline=timeline,
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
                    "impact": f"{_figures(got, timeline, pm.started_at, resolved_at)} {prose.impact}",
                    "open_questions": list(dict.fromkeys([*prose.open_questions, *data.open_questions])),
                }
            )
            pm.mode, pm.mode_reason = "llm", ""
        except LLMError as exc:
            log.warning("postmortem prose from the LLM failed; evidence-only draft", error=str(exc))
            pm.mode_reason = f"the LLM gave no usable answer ({exc})"
    pm.blame, pm.bias_notes = blameless.check(_checked_parts(pm, got), blameless.first_names(people))
    return pm


def _title(got: Gathered, tree: list[DecisionNode]) -> str:
    confirmed = next((n for n in tree if n.state == "confirmed"), None)
    what = got.symptom or got.incident.resolution or got.channel_name or got.incident.id
    title = f"{what}: {confirmed.statement}" if confirmed else what
    return title if len(title) <= TITLE_MAX else title[: TITLE_MAX - 1].rstrip() + "…"


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


def _timeline(
    got: Gathered,
    tree: list[DecisionNode],
    actions: list[ActionEntry],
    resolved_at: datetime,
    resolved_by: str,
    summary: str,
) -> list[TimelineEntry]:
    entries = [
        TimelineEntry(
            at=m.at,
            what=_MENTION.sub(lambda x: "@" + got.names.get(x.group("id"), x.group("id")), m.text),
            who=m.author,
            link=m.link,
            source="alert" if _ALERT.search(m.text) else "message",
            key=m.key,
        )
        for m in got.messages
    ]
    for n in tree:
        if n.raised_by == "bot":
            entries.append(
                TimelineEntry(
                    at=n.raised_at, what=f"Hypothesis {n.id} raised: {n.statement}", who="bot", source="bot"
                )
            )
        if n.decided_at and n.state != "open":
            entries.append(
                TimelineEntry(
                    at=n.decided_at, what=f"Hypothesis {n.id} {n.state}: {n.why}", who="", source="verdict"
                )
            )
    entries += [
        TimelineEntry(
            at=a.at,
            what=f"Action {a.kind}: {a.action}" + (f" ({a.detail})" if a.detail else ""),
            who=a.by,
            source="action",
        )
        for a in actions
        if a.kind != "suggested"
    ]
    entries.append(
        TimelineEntry(
            at=resolved_at,
            what="Incident resolved" + (f": {summary}" if summary else ""),
            who=got.names.get(resolved_by, resolved_by),
            source="resolution",
        )
    )
    return sorted(entries, key=lambda e: e.at)


def _alert_span(timeline: list[TimelineEntry]) -> tuple[datetime | None, datetime | None]:
    firing = [e.at for e in timeline if e.source == "alert" and not re.search(r"resolved", e.what, re.I)]
    ended = [e.at for e in timeline if e.source == "alert" and re.search(r"resolved", e.what, re.I)]
    return (min(firing) if firing else None), (max(ended) if ended else None)


def _figures(got: Gathered, timeline: list[TimelineEntry], started: datetime, resolved_at: datetime) -> str:
    """The impact numbers the data has: duration, alert span, messages, people, service."""
    fire, clear = _alert_span(timeline)
    people = {m.author for m in got.messages if not m.bot}
    span = f"{started:%Y-%m-%d %H:%M} → {resolved_at:%H:%M} UTC"
    out = [f"Incident open {_minutes(started, resolved_at)} min ({span})."]
    if fire:
        out.append(
            f"Alert firing from {fire:%H:%M}"
            + (f" to {clear:%H:%M} ({_minutes(fire, clear)} min)." if clear else ".")
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
    timeline: list[TimelineEntry],
    summary: str,
    resolved_at: datetime,
) -> Prose:
    incident = got.incident
    started = min([incident.started_at, *(m.at for m in got.messages[:1])])
    confirmed = [n for n in tree if n.state == "confirmed"]
    discarded = [n for n in tree if n.state in ("rejected", "dropped")]
    executed = [a for a in actions if a.kind == "executed"]
    fire, _clear = _alert_span(timeline)
    impact = [_figures(got, timeline, started, resolved_at)]
    impact.append(TO_WRITE + "who and what was affected (users, requests, revenue, SLO budget spent).")
    first_human = next((m for m in got.messages if not m.bot), None)
    if fire:
        detection = f"An alert fired at {fire:%H:%M} UTC."
    elif first_human:
        detection = f"First reported in the channel by {first_human.author} at {first_human.at:%H:%M} UTC."
    else:
        detection = TO_WRITE + "how the incident was detected."
    triaged = [n.raised_at for n in tree if n.raised_by == "bot"]
    if triaged:
        detection += f" First bot hypothesis at {min(triaged):%H:%M} UTC."
    resolution = summary or TO_WRITE + "what was done to resolve it."
    if executed:
        resolution += " Executed by the bot: " + "; ".join(f"{a.action} ({a.detail})" for a in executed) + "."
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
        trigger=TO_WRITE + "what set it off (a deploy, a config change, traffic, a dependency).",
        resolution=resolution,
        went_well=[TO_WRITE + "what helped (detection, tools, people, runbooks)."],
        went_badly=[*went_badly, TO_WRITE + "what slowed the response."],
        lucky=[TO_WRITE + "where we got lucky."],
        action_items=_action_items(got),
        open_questions=[f"{n.id} ({n.statement}) was never confirmed or ruled out." for n in opened]
        + [f"Not read: {g}" for g in got.gaps],
    )


def _item_type(text: str) -> ItemType:
    if _DETECT.search(text):
        return "detect"
    return "mitigate" if _MITIGATE.search(text) else "prevent"


def _action_items(got: Gathered) -> list[ActionItem]:
    """Messages starting `action item:`, `follow-up:` or `todo:`; the first mention is the owner."""
    items = []
    for m in got.messages:
        if not (found := _ITEM.match(m.text)):
            continue
        text = found.group("text").strip()
        owner = next((got.names.get(x.group("id"), x.group("id")) for x in _MENTION.finditer(text)), "")
        named = _MENTION.sub(lambda x: got.names.get(x.group("id"), x.group("id")), text)
        items.append(ActionItem(text=named, owner=owner, type=_item_type(text)))
    return items


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
    key = [e for e in pm.timeline if e.key or e.source != "message"]
    recent = [e for e in pm.timeline if e.source == "message" and not e.key][-PROMPT_MESSAGES:]
    system = prompts.render("postmortem/system")
    user = prompts.render_fenced(
        "postmortem/user",
        incident=pm.incident_id,
        symptom=got.symptom,
        service=got.service,
        started=f"{pm.started_at:%Y-%m-%d %H:%M}",
        resolved=f"{pm.resolved_at:%Y-%m-%d %H:%M}",
        summary=summary,
        key_events=[f"{e.at:%H:%M} {e.who}: {e.what}" for e in key],
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


def _checked_parts(pm: PostmortemDraft, got: Gathered) -> list[tuple[str, str]]:
    p = pm.prose
    parts = [("summary", p.summary), ("impact", p.impact), ("detection", p.detection), ("trigger", p.trigger)]
    parts += [("resolution", p.resolution)] + [("root causes", t) for t in p.root_causes]
    parts += [("went well", t) for t in p.went_well] + [("went badly", t) for t in p.went_badly]
    parts += [("lucky", t) for t in p.lucky] + [("action items", i.text) for i in p.action_items]
    parts += [(f"timeline {e.at:%H:%M}", e.what) for e in pm.timeline if e.key or e.source == "resolution"]
    return parts
