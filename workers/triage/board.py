"""The hypothesis board of an incident, kept in Redis across `/triage` runs, and its timeline.

A re-run matches each new hypothesis to the board (the same past incident cited, or mostly the same
words), so it keeps its id and is marked new, strengthened, weakened or unchanged; a hypothesis that
disappears is recorded as dropped and keeps its id should it come back. Every raise, change, drop and
Support / Reject / Need data click is appended to the incident's timeline stream, which the
postmortem reads to rebuild the decision tree. Each event is self-describing: `kind`, `hypothesis`,
`statement`, `confidence`, `by` ("bot" or a Slack user id), `at` (ISO 8601 UTC), and `run_id` for
the bot's events.

Keys: `ic:incident:{id}:board` (JSON: hypotheses, dropped, next id), `ic:incident:{id}:verdicts`
(hash "H2:U123" → verdict), `ic:incident:{id}:timeline` (stream).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import redis

from workers.redisconn import as_text
from workers.triage.report import CONFIDENCE_ORDER, BoardStatus, Hypothesis, TriageReport

VERDICTS = ("support", "reject", "need_data")
SAME_WORDS = 0.5
TIMELINE_MAX = 10_000
_PLACEHOLDER = re.compile(r"<[^<>\s]{1,20}>")
_WORD = re.compile(r"[a-z][a-z0-9]{2,}")
# fmt: off
_STOP = frozenset((
    "the", "and", "for", "with", "from", "that", "this", "was", "were", "are", "has", "have", "been",
    "into", "after", "before", "when", "than", "then", "its", "not", "but", "because", "due", "same",
    "cause", "started", "logging", "since", "new", "surging", "baseline", "likely", "probably",
))
# fmt: on
Event = dict[str, str]


def _key(incident_id: str, part: str) -> str:
    return f"ic:incident:{incident_id}:{part}"


def _stem(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    for suffix in ("ing", "ed", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def words(text: str) -> set[str]:
    """A statement's normalised tokens: lower case, placeholders, numbers and filler words out, stemmed."""
    return {_stem(w) for w in _WORD.findall(_PLACEHOLDER.sub(" ", text.lower())) if w not in _STOP}


def similarity(a: Hypothesis, b: Hypothesis) -> float:
    """1.0 for the same past incident cited, else the Dice overlap of the statements' tokens (0 when
    they share a single word only, unless one statement is a single word)."""
    incidents = {r.id for r in a.evidence if r.kind == "incident"}
    if incidents & {r.id for r in b.evidence if r.kind == "incident"}:
        return 1.0
    wa, wb = words(a.statement), words(b.statement)
    shared = len(wa & wb)
    if not wa or not wb or shared < min(2, len(wa), len(wb)):  # one common word is not the same idea
        return 0.0
    return 2 * shared / (len(wa) + len(wb))


def _status(prev: Hypothesis, new: Hypothesis) -> BoardStatus:
    up = CONFIDENCE_ORDER[new.confidence] - CONFIDENCE_ORDER[prev.confidence]
    more = len(new.evidence) - len(prev.evidence)
    if up > 0 or (up == 0 and more > 0):
        return "strengthened"
    if up < 0 or more < 0:
        return "weakened"
    return "unchanged"


def _number(hypothesis_id: str) -> int:
    return int(hypothesis_id[1:]) if re.fullmatch(r"H\d+", hypothesis_id) else 0


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _event(kind: str, h: Hypothesis, run_id: str, **extra: str) -> Event:
    return {
        "kind": kind,
        "hypothesis": h.id,
        "statement": h.statement,
        "confidence": h.confidence,
        "status": h.status,
        "evidence": " ".join(f"{r.kind}:{r.id}" for r in h.evidence),
        "by": "bot",
        "run_id": run_id,
        **extra,
    }


class Board:
    """The per-incident board and timeline on an injected Redis client."""

    def __init__(self, client: redis.Redis) -> None:
        self._r = client

    def _state(self, raw: Any) -> dict[str, Any]:
        state: dict[str, Any] = json.loads(raw) if raw else {}
        state.setdefault("hypotheses", [])
        state.setdefault("dropped", [])
        state.setdefault("next", 1)
        return state

    def hypotheses(self, incident_id: str, *, dropped: bool = False) -> list[Hypothesis]:
        """The hypotheses on the board now (with `dropped`: those that left it, instead)."""
        state = self._state(self._r.get(_key(incident_id, "board")))
        return [Hypothesis.model_validate(h) for h in state["dropped" if dropped else "hypotheses"]]

    def merge(self, incident_id: str, report: TriageReport, run_id: str = "") -> TriageReport:
        """The report with board ids and statuses; the board and the timeline updated in one transaction
        (retried when another run changed the board meanwhile)."""
        key = _key(incident_id, "board")
        with self._r.pipeline(transaction=True) as pipe:
            while True:
                try:
                    pipe.watch(key)  # type: ignore[no-untyped-call]
                    state = self._state(pipe.get(key))
                    merged, events = _merge(state, report.hypotheses, run_id)
                    pipe.multi()
                    pipe.set(key, json.dumps(state))
                    for event in events:
                        self._append(pipe, incident_id, event)
                    pipe.execute()
                    return report.model_copy(update={"hypotheses": merged})
                except redis.WatchError:
                    continue

    def record_event(self, incident_id: str, kind: str, **fields: object) -> str:
        """Append an event (with `at`, and `by` "bot" unless given) to the timeline; its stream id."""
        event = {"kind": kind, "by": "bot", **{k: "" if v is None else str(v) for k, v in fields.items()}}
        return as_text(self._append(self._r, incident_id, event))

    def _append(self, conn: Any, incident_id: str, event: Event) -> Any:
        entry: dict[str | bytes, str | bytes | int | float] = {k: v for k, v in event.items()}
        entry["at"] = _now()
        return conn.xadd(_key(incident_id, "timeline"), entry, maxlen=TIMELINE_MAX, approximate=True)

    def feedback(self, incident_id: str, hypothesis_id: str, verdict: str, user: str) -> bool:
        """Record a click; False when the hypothesis was never on the board. A user's later verdict on
        the same hypothesis replaces theirs in the tally; every click stays in the timeline."""
        if verdict not in VERDICTS:
            raise ValueError(f"unknown verdict {verdict!r}")
        state = self._state(self._r.get(_key(incident_id, "board")))
        known = {h["id"]: h for h in state["dropped"]} | {h["id"]: h for h in state["hypotheses"]}
        if hypothesis_id not in known:
            return False
        h = Hypothesis.model_validate(known[hypothesis_id])
        field = f"{hypothesis_id}:{user}"
        previous = self._r.hget(_key(incident_id, "verdicts"), field)
        event = _event(f"verdict_{verdict}", h, "", verdict=verdict, by=user)
        event["previous"] = as_text(previous) if previous else ""
        with self._r.pipeline(transaction=True) as tx:
            tx.hset(_key(incident_id, "verdicts"), field, verdict)
            self._append(tx, incident_id, event)
            tx.execute()
        return True

    def tally(self, incident_id: str) -> dict[str, dict[str, int]]:
        """Per hypothesis, how many users hold each verdict now."""
        out: dict[str, dict[str, int]] = {}
        for field, value in (self._r.hgetall(_key(incident_id, "verdicts")) or {}).items():
            hyp = as_text(field).split(":", 1)[0]
            counts = out.setdefault(hyp, dict.fromkeys(VERDICTS, 0))
            counts[as_text(value)] += 1
        return out

    def events(self, incident_id: str) -> list[Event]:
        """The timeline, oldest first."""
        entries = self._r.xrange(_key(incident_id, "timeline")) or []
        return [{as_text(k): as_text(v) for k, v in (fields or {}).items()} for _id, fields in entries]


def _merge(
    state: dict[str, Any], hypotheses: list[Hypothesis], run_id: str
) -> tuple[list[Hypothesis], list[Event]]:
    """Match the new hypotheses to the board (best pairs first; live ones before dropped ones), update
    `state` in place, and return the hypotheses with their board ids and statuses, and the events."""
    live = [Hypothesis.model_validate(h) for h in state["hypotheses"]]
    gone = [Hypothesis.model_validate(h) for h in state["dropped"]]
    candidates = [(o, True) for o in live] + [(o, False) for o in gone]
    pairs = [
        (score, is_live, n, m)
        for n, h in enumerate(hypotheses)
        for m, (o, is_live) in enumerate(candidates)
        if (score := similarity(h, o)) >= SAME_WORDS
    ]
    match: dict[int, int] = {}  # new hypothesis index → candidate index
    for _score, _live, n, m in sorted(pairs, key=lambda p: (-p[0], not p[1], p[2], p[3])):
        if n not in match and m not in match.values():
            match[n] = m
    next_id = max([state["next"], *(_number(o.id) + 1 for o, _ in candidates)])
    merged: list[Hypothesis] = []
    events: list[Event] = []
    for n, h in enumerate(hypotheses):
        if n not in match:
            h = h.model_copy(update={"id": f"H{next_id}", "status": "new"})
            next_id += 1
            events.append(_event("hypothesis_raised", h, run_id))
        else:
            prev, was_live = candidates[match[n]]
            if was_live:
                h = h.model_copy(update={"id": prev.id, "status": _status(prev, h)})
                if h.status != "unchanged":
                    events.append(
                        _event(
                            "hypothesis_changed",
                            h,
                            run_id,
                            was=prev.confidence,
                            was_refs=str(len(prev.evidence)),
                        )
                    )
            else:
                h = h.model_copy(update={"id": prev.id, "status": "new"})
                events.append(_event("hypothesis_raised", h, run_id, again="yes"))
        merged.append(h)
    matched = set(match.values())
    now_gone = [o for m, (o, is_live) in enumerate(candidates) if is_live and m not in matched]
    events += [_event("hypothesis_dropped", o, run_id, status="dropped") for o in now_gone]
    still_gone = [o for m, (o, is_live) in enumerate(candidates) if not is_live and m not in matched]
    state["hypotheses"] = [h.model_dump(mode="json") for h in merged]
    state["dropped"] = [h.model_dump(mode="json") for h in still_gone + now_gone]
    state["next"] = next_id
    return merged, events
