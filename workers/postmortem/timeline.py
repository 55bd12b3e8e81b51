"""The timeline: what happened, when it happened, each entry linked to where it is recorded.

Every channel message is an entry (the appendix lists them all); these are key events, shown in the
Timeline section:
- alerts: each alert's first firing message, its acknowledgement and its resolution, grouped per alert;
- log milestones kept from the triages' evidence: change events, first error, error peak, recovery;
- the first report by a person;
- status updates (a message starting `status:`, `update:`, `sitrep:`), decisions (`decision:`,
  "we decided", "let's roll back", "going with"), and mitigations ("rolling back", "restarted",
  "failed over", "scaled up", "disabled the flag"), questions and action items excepted;
- every pinned or pin-reacted message;
- hypotheses when raised and when settled, the bot's and the people's;
- the executed, approved and denied actions, and the resolution.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from workers.postmortem.gather import Gathered, SlackMessage, permalink
from workers.postmortem.items import is_item
from workers.postmortem.markup import to_markdown
from workers.postmortem.model import ActionEntry, DecisionNode, TimelineEntry

_STATUS = re.compile(r"^\W*(?:status(?:\s+update)?|update|sitrep|current status|eta)\W*\s*[:\-–]", re.I)
_DECISION = re.compile(
    r"^\W*decision\W*[:\-–]|\b(?:we(?:'ve| have)? decided|decided to|let'?s (?:roll ?back|revert|fail ?over"
    r"|restart|scale|disable|drain|pause|block)|going (?:ahead )?with|we(?:'ll| will| are going to) "
    r"(?:roll ?back|revert|fail ?over|restart|scale|disable|drain|pause|block)|agreed\W*[:\-–]|"
    r"calling it\b)",
    re.I,
)
_MITIGATION = re.compile(
    r"\b(?:rolling back|rolled back|rollback (?:is )?(?:done|complete|started|finished)|revert(?:ed|ing)|"
    r"restart(?:ed|ing)|bounc(?:ed|ing)|fail(?:ed|ing) over|scal(?:ed|ing) (?:up|out|down)|"
    r"drain(?:ed|ing) (?:the )?\w+|"
    r"(?:disabled|disabling|turned off|turning off) (?:the )?[\w-]+ ?(?:flag|feature)?|"
    r"kill(?:ed|ing) (?:the )?[\w-]+ (?:query|job|pod)s?|shed(?:ding)? load|rate[- ]limit(?:ed|ing) )",
    re.I,
)
_NEGATED = re.compile(r"\b(?:not|don't|do not|no need to|before we|should we|shall we|can we|if we)\b", re.I)


@dataclass(frozen=True)
class AlertSpan:
    name: str
    tool: str
    start: datetime
    end: datetime | None


def alert_spans(messages: list[SlackMessage]) -> list[AlertSpan]:
    """Each alert's firing spans (a re-fire after its resolution is a new span), by start."""
    return _alerts(messages)[0]


def _alerts(messages: list[SlackMessage]) -> tuple[list[AlertSpan], dict[str, str]]:
    """The firing spans, and ts → kind for the messages that start, acknowledge or end an alert
    (a reminder while it fires is neither)."""
    spans: list[AlertSpan] = []
    kinds: dict[str, str] = {}
    firing: dict[str, AlertSpan] = {}
    for m in messages:
        if (a := m.alert) is None:
            continue
        if a.state == "firing" and a.key not in firing:
            firing[a.key] = AlertSpan(a.name, a.tool, m.at, None)
            kinds[m.ts] = f"alert firing: {a.label}"
        elif a.state == "acknowledged" and a.key in firing:
            kinds[m.ts] = f"alert acknowledged: {a.label}"
        elif a.state == "resolved" and a.key in firing:
            span = firing.pop(a.key)
            spans.append(AlertSpan(span.name, span.tool, span.start, m.at))
            minutes = round((m.at - span.start).total_seconds() / 60)
            kinds[m.ts] = f"alert resolved: {a.label}, after {minutes} min"
    return sorted([*spans, *firing.values()], key=lambda s: s.start), kinds


def classify(text: str) -> str:
    """The key-event kind a person's message is by the rules above, or ""."""
    first = text.strip().split("\n", 1)[0]
    if is_item(first):
        return ""  # an action item is for later, in its own table
    if _STATUS.match(first):
        return "status update"
    if first.rstrip().endswith("?") or _NEGATED.search(first):
        return ""
    if _DECISION.search(first):
        return "decision"
    return "mitigation" if _MITIGATION.search(first) else ""


def _message_entries(got: Gathered) -> list[TimelineEntry]:
    _spans, kinds = _alerts(got.messages)
    first_human = next((m.ts for m in got.messages if not m.bot), None)
    entries = []
    for m in got.messages:
        human = "first report" if m.ts == first_human else classify(m.text)
        kind = kinds.get(m.ts, "") if m.bot else human
        entries.append(
            TimelineEntry(
                at=m.at,
                what=to_markdown(m.text, got.names),
                who=m.author,
                link=m.link,
                source="alert" if m.alert else "message",
                key=m.key,
                kind=kind,
            )
        )
    return entries


def build(
    got: Gathered,
    tree: list[DecisionNode],
    actions: list[ActionEntry],
    resolved_at: datetime,
    resolved_by: str,
    summary: str,
) -> list[TimelineEntry]:
    channel = got.incident.channel_id
    entries = _message_entries(got)
    entries += [
        TimelineEntry(
            at=m.at,
            what=m.what,
            who="logs",
            link=permalink(got.workspace, channel, m.message_ts),
            source="log",
            kind=m.kind,
        )
        for m in got.milestones
    ]
    for n in tree:
        by = "bot" if n.raised_by == "bot" else n.raised_by
        entries.append(
            TimelineEntry(
                at=n.raised_at,
                what=f"Hypothesis {n.id} raised: {n.statement}",
                who=by,
                link=n.link,
                source="bot" if n.raised_by == "bot" else "hypothesis",
                kind="hypothesis raised",
            )
        )
        if n.decided_at and n.state != "open":
            entries.append(
                TimelineEntry(
                    at=n.decided_at,
                    what=f"Hypothesis {n.id} {n.state}: {n.why}",
                    link=n.decided_link or n.link,
                    source="verdict",
                    kind=f"hypothesis {n.state}",
                )
            )
    first_answer = next(iter(got.answers.values()), "")
    entries += [
        TimelineEntry(
            at=a.at,
            what=f"Action {a.kind}: {a.action}" + (f" ({a.detail})" if a.detail else ""),
            who=a.by,
            link=first_answer,
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
            link=permalink(got.workspace, channel, ""),
            source="resolution",
        )
    )
    return sorted(entries, key=lambda e: e.at)
