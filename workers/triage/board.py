"""The hypothesis board of an incident, kept in Redis across `/triage` runs, and its timeline.

A re-run matches each new hypothesis to the board (same past incident cited, or mostly the same
words), so it keeps its id and is marked new, strengthened, weakened or unchanged. Every raise,
change and Support / Reject / Need data click is appended to the incident's timeline stream, which
the postmortem reads to rebuild the decision tree.

Keys: `ic:incident:{id}:board` (JSON), `ic:incident:{id}:verdicts` (hash "H2:U123" → verdict),
`ic:incident:{id}:timeline` (stream).
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import redis

from workers.triage.report import CONFIDENCE_ORDER, Hypothesis, TriageReport

VERDICTS = ("support", "reject", "need_data")
SAME_WORDS = 0.5
TIMELINE_MAX = 10_000
_WORD = re.compile(r"[a-z0-9]{3,}")


def _key(incident_id: str, part: str) -> str:
    return f"ic:incident:{incident_id}:{part}"


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def _same(a: Hypothesis, b: Hypothesis) -> bool:
    incidents_a = {r.id for r in a.evidence if r.kind == "incident"}
    if incidents_a & {r.id for r in b.evidence if r.kind == "incident"}:
        return True
    wa, wb = _words(a.statement), _words(b.statement)
    return bool(wa and wb) and len(wa & wb) / min(len(wa), len(wb)) >= SAME_WORDS


class Board:
    def __init__(self, client: redis.Redis) -> None:
        self._r = client

    def hypotheses(self, incident_id: str) -> list[Hypothesis]:
        raw = self._r.get(_key(incident_id, "board"))
        return [Hypothesis.model_validate(h) for h in json.loads(raw)["hypotheses"]] if raw else []

    def merge(self, incident_id: str, report: TriageReport, run_id: str) -> TriageReport:
        """The report with board ids and statuses; the board and the timeline updated."""
        raw = self._r.get(_key(incident_id, "board"))
        state: dict[str, Any] = json.loads(raw) if raw else {"hypotheses": [], "next": 1}
        old = [Hypothesis.model_validate(h) for h in state["hypotheses"]]
        unmatched = list(old)
        events: list[dict[Any, Any]] = []
        merged: list[Hypothesis] = []
        for h in report.hypotheses:
            prev = next((o for o in unmatched if _same(h, o)), None)
            if prev is None:
                h = h.model_copy(update={"id": f"H{state['next']}", "status": "new"})
                state["next"] += 1
                events.append(_event("hypothesis_raised", h, run_id))
            else:
                unmatched.remove(prev)
                h = h.model_copy(update={"id": prev.id, "status": _status(prev, h)})
                if h.status != "unchanged":
                    events.append(_event("hypothesis_changed", h, run_id, was=prev.confidence))
            merged.append(h)
        for gone in unmatched:
            events.append(_event("hypothesis_dropped", gone, run_id))
        state["hypotheses"] = [h.model_dump(mode="json") for h in merged]
        with self._r.pipeline(transaction=True) as tx:
            tx.set(_key(incident_id, "board"), json.dumps(state))
            for event in events:
                tx.xadd(_key(incident_id, "timeline"), event, maxlen=TIMELINE_MAX, approximate=True)
            tx.execute()
        return report.model_copy(update={"hypotheses": merged})

    def feedback(self, incident_id: str, hypothesis_id: str, verdict: str, user: str) -> bool:
        """Record a click; False when the hypothesis is not on the board. A user's later verdict on the
        same hypothesis replaces theirs in the tally; every click stays in the timeline."""
        if verdict not in VERDICTS:
            raise ValueError(f"unknown verdict {verdict!r}")
        current = {h.id: h for h in self.hypotheses(incident_id)}
        h = current.get(hypothesis_id)
        if h is None:
            return False
        with self._r.pipeline(transaction=True) as tx:
            tx.hset(_key(incident_id, "verdicts"), f"{hypothesis_id}:{user}", verdict)
            tx.xadd(
                _key(incident_id, "timeline"),
                {**_event(f"verdict_{verdict}", h, ""), "by": user},
                maxlen=TIMELINE_MAX,
                approximate=True,
            )
            tx.execute()
        return True

    def tally(self, incident_id: str) -> dict[str, dict[str, int]]:
        """Per hypothesis, how many users hold each verdict now."""
        out: dict[str, dict[str, int]] = {}
        for field, value in (self._r.hgetall(_key(incident_id, "verdicts")) or {}).items():
            hyp = _text(field).split(":", 1)[0]
            counts = out.setdefault(hyp, dict.fromkeys(VERDICTS, 0))
            counts[_text(value)] += 1
        return out

    def events(self, incident_id: str) -> list[dict[str, str]]:
        entries = self._r.xrange(_key(incident_id, "timeline")) or []
        return [{_text(k): _text(v) for k, v in (fields or {}).items()} for _id, fields in entries]


def _status(prev: Hypothesis, new: Hypothesis) -> str:
    up = CONFIDENCE_ORDER[new.confidence] - CONFIDENCE_ORDER[prev.confidence]
    more = len(new.evidence) - len(prev.evidence)
    if up > 0 or (up == 0 and more > 0):
        return "strengthened"
    if up < 0 or more < 0:
        return "weakened"
    return "unchanged"


def _event(kind: str, h: Hypothesis, run_id: str, **extra: str) -> dict[Any, Any]:
    return {
        "kind": kind,
        "hypothesis": h.id,
        "statement": h.statement,
        "confidence": h.confidence,
        "status": h.status,
        "evidence": " ".join(f"{r.kind}:{r.id}" for r in h.evidence),
        "by": "bot",
        "run_id": run_id,
        "at": f"{time.time():.6f}",
        **extra,
    }


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
