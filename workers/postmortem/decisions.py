"""The decision tree: every hypothesis raised during the incident, by the bot or by a person, with
the evidence for and against it and when and why it was confirmed, rejected or dropped.

Final state of a board hypothesis:
- rejected: more people clicked Reject than Support (their latest click counts);
- confirmed: the best-supported hypothesis (Support > Reject) whose words match the resolution
  summary most, else the most supported one; with no clicks at all, one the resolution summary
  clearly restates;
- dropped: it left the board when a later `/triage` no longer found it in the evidence;
- open: none of the above; it is listed under open questions.

People raise hypotheses in the channel with a message starting `hypothesis:` or `theory:`; a reply
in its thread starting `ruled out`, `rejected` or `not it` rejects it, one starting `confirmed`
confirms it.
"""

from __future__ import annotations

import re
from datetime import datetime

from workers.postmortem.gather import Gathered, SlackMessage
from workers.postmortem.model import DecisionNode
from workers.triage.board import Event, words
from workers.triage.report import Hypothesis

_PAST = re.compile(r"^Same cause as (?P<id>[\w.:-]+): (?P<said>.+)$", re.DOTALL)
RESTATES = 0.5  # share of a hypothesis's words the resolution summary must contain, without clicks
_RAISE = re.compile(r"^\s*(?:hypothesis|theory)\s*[:\-]\s*(?P<text>.+)", re.IGNORECASE | re.DOTALL)
_REJECT = re.compile(r"^\s*(?:ruled out|rejected|not it)\b", re.IGNORECASE)
_CONFIRM = re.compile(r"^\s*confirmed\b", re.IGNORECASE)


def as_past(statement: str) -> str:
    """A hypothesis that restates a past incident's cause, with that incident's words quoted as
    theirs: its versions, hosts and figures are not today's facts."""
    if m := _PAST.match(statement.strip()):
        return f"Same cause as past incident {m.group('id')}, whose record says: “{m.group('said').strip()}”"
    return statement


def _at(event: Event) -> datetime:
    return datetime.fromisoformat(event["at"])


def _overlap(statement: str, summary: str) -> float:
    mine = words(statement)
    return len(mine & words(summary)) / len(mine) if mine else 0.0


def decision_tree(got: Gathered, resolved_at: datetime, summary: str) -> list[DecisionNode]:
    nodes = _board_nodes(got, resolved_at, summary) + _people_nodes(got, resolved_at)
    return sorted(nodes, key=lambda n: (n.raised_at, n.id))


def _board_nodes(got: Gathered, resolved_at: datetime, summary: str) -> list[DecisionNode]:
    by_id: dict[str, list[Event]] = {}
    for e in got.events:
        if e.get("hypothesis"):
            by_id.setdefault(e["hypothesis"], []).append(e)
    known: dict[str, tuple[Hypothesis, bool]] = {h.id: (h, False) for h in got.hypotheses}
    known |= {h.id: (h, True) for h in got.dropped if h.id not in known}
    for hid, events in by_id.items():  # raised but absent from the board state: keep it all the same
        if hid not in known:
            first = events[0]
            known[hid] = (
                Hypothesis(id=hid, statement=first.get("statement", hid), confidence="low"),
                True,
            )
    nodes: list[DecisionNode] = []
    support_of: dict[str, tuple[int, float]] = {}
    for hid, (h, dropped) in known.items():
        events = by_id.get(hid, [])
        latest: dict[str, tuple[str, datetime]] = {}  # user → (verdict, at): the latest click counts
        history: list[str] = []
        for e in events:
            if e["kind"].startswith("verdict_"):
                latest[e["by"]] = (e["verdict"], _at(e))
            elif e["kind"] == "hypothesis_changed":
                history.append(f"{e['status']} at {_at(e):%H:%M} (confidence {e['was']} → {e['confidence']})")
        name = got.names
        supporters = [u for u, (v, _) in latest.items() if v == "support"]
        rejecters = [u for u, (v, _) in latest.items() if v == "reject"]
        need = [u for u, (v, _) in latest.items() if v == "need_data"]
        evidence_for = [_ref(r.kind, r.id, r.quote) for r in h.evidence]
        evidence_for += [f"Support from {name.get(u, u)}" for u in supporters]
        evidence_for += [e for e in history if e.startswith("strengthened")]
        against = [f"Reject from {name.get(u, u)}" for u in rejecters]
        against += [f"{name.get(u, u)} asked for more data" for u in need]
        against += [e for e in history if e.startswith("weakened")]
        raised = next((e for e in events if e["kind"] == "hypothesis_raised"), None)
        node = DecisionNode(
            id=hid,
            statement=as_past(h.statement),
            raised_by="bot",
            raised_at=_at(raised) if raised else resolved_at,
            state="open",
            evidence_for=evidence_for,
            evidence_against=against,
            confidence=h.confidence,
            link=_answer(got, raised),
        )
        if len(rejecters) > len(supporters):
            node.state = "rejected"
            node.decided_at = max(at for v, at in latest.values() if v == "reject")
            node.why = "rejected by " + ", ".join(name.get(u, u) for u in rejecters)
        elif dropped:
            gone = [e for e in events if e["kind"] == "hypothesis_dropped"]
            node.state = "dropped"
            node.decided_at = _at(gone[-1]) if gone else None
            node.why = "a later /triage no longer found it in the evidence"
            against.append("no longer supported by the log evidence")
        if node.state == "open" and len(supporters) > len(rejecters):
            support_of[hid] = (len(supporters) - len(rejecters), _overlap(h.statement, summary))
        nodes.append(node)
    _confirm(nodes, support_of, got, summary, resolved_at)
    for node in nodes:
        node.minutes = round(((node.decided_at or resolved_at) - node.raised_at).total_seconds() / 60, 1)
    return nodes


def _answer(got: Gathered, raised: Event | None) -> str:
    """The triage answer a hypothesis was raised in (the first answer when the run is unknown)."""
    run = raised.get("run_id", "") if raised else ""
    return got.answers.get(run) or next(iter(got.answers.values()), "")


def _ref(kind: str, ref: str, quote: str) -> str:
    said = f': "{quote}"' if quote else ""
    if kind == "incident":
        return f"past incident {ref} (what it recorded, not a fact about today){said}"
    return f"{kind} {ref}{said}"


def _confirm(
    nodes: list[DecisionNode],
    support_of: dict[str, tuple[int, float]],
    got: Gathered,
    summary: str,
    resolved_at: datetime,
) -> None:
    """Mark the one board hypothesis the team converged on as confirmed."""
    open_nodes = {n.id: n for n in nodes if n.state == "open"}
    if support_of:
        best = max(support_of, key=lambda hid: (support_of[hid][1], support_of[hid][0], hid))
        why = "supported by the team"
        if support_of[best][1] > 0:
            why += " and restated in the resolution summary"
    else:
        scored = {hid: _overlap(n.statement, summary) for hid, n in open_nodes.items()}
        if not scored or max(scored.values()) < RESTATES:
            return
        best = max(scored, key=lambda hid: (scored[hid], hid))
        why = "the resolution summary restates it (no one clicked Support or Reject)"
    node = open_nodes[best]
    node.state = "confirmed"
    clicks = [_at(e) for e in got.events if e.get("hypothesis") == best and e["kind"] == "verdict_support"]
    node.decided_at = max(clicks) if clicks else resolved_at
    node.why = why


def _people_nodes(got: Gathered, resolved_at: datetime) -> list[DecisionNode]:
    replies: dict[str, list[SlackMessage]] = {}
    for m in got.messages:
        if m.thread_ts:
            replies.setdefault(m.thread_ts, []).append(m)
    nodes: list[DecisionNode] = []
    for m in got.messages:
        if m.bot or not (raised := _RAISE.match(m.text)):
            continue
        node = DecisionNode(
            id=f"P{len(nodes) + 1}",
            statement=raised.group("text").strip()[:500],
            raised_by=m.author,
            raised_at=m.at,
            state="open",
            link=m.link,
        )
        for r in replies.get(m.ts, []):
            if _REJECT.match(r.text):
                node.state, node.decided_at, node.decided_link = "rejected", r.at, r.link
                node.why = f"{r.author}: {r.text[:200]}"
                node.evidence_against.append(f"{r.author}: {r.text[:200]}")
            elif _CONFIRM.match(r.text):
                node.state, node.decided_at, node.decided_link = "confirmed", r.at, r.link
                node.why = f"{r.author}: {r.text[:200]}"
                node.evidence_for.append(f"{r.author}: {r.text[:200]}")
        node.minutes = round(((node.decided_at or resolved_at) - node.raised_at).total_seconds() / 60, 1)
        nodes.append(node)
    return nodes
