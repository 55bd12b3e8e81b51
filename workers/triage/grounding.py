"""Grounding in code: every citation must exist in the evidence the model was shown, every quote must
be verbatim, and confidence may not outrun the evidence. What the model says never widens what the
bot may do: an action may only name the service under investigation or one the team named (in the
channel or in a past incident), never one that only appears inside a log line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from workers.models import IncidentContext
from workers.triage.report import (
    CONFIDENCE_ORDER,
    MAX_HYPOTHESES,
    Confidence,
    EvidenceRef,
    Grounding,
    Hypothesis,
    ModelHypothesis,
    ModelReport,
    SuggestedAction,
    Summary,
)

_SPACE = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]*[a-z0-9]")
NO_CAUSE = "No cause could be grounded in the evidence"


def _norm(text: str) -> str:
    return _SPACE.sub(" ", text).strip().removesuffix("…").strip()


@dataclass
class GroundingContext:
    """What the model was shown, by kind and id: the texts a citation may point into."""

    logs: dict[str, list[str]] = field(default_factory=dict)
    incidents: dict[str, list[str]] = field(default_factory=dict)
    messages: dict[str, list[str]] = field(default_factory=dict)
    names: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, ctx: IncidentContext) -> GroundingContext:
        g = cls()
        if ctx.evidence is not None:
            g.names.add(ctx.evidence.service.lower())
            for e in ctx.evidence.entries:
                g.logs[e.template_id] = [e.template, *([e.exemplar] if e.exemplar else [])]
        if ctx.knowledge is not None and not ctx.knowledge.novel:
            for m in ctx.knowledge.matches:
                g.incidents[m.record_id] = [m.title, m.root_cause, m.fix, m.snippet]
        for msg in ctx.messages:
            g.messages[msg.ts] = [msg.text]
        # Log lines may carry anyone's text (a request body, an attacker's user agent): not a source.
        for texts in (*g.incidents.values(), *g.messages.values()):
            for text in texts:
                g.names.update(_NAME.findall(text.lower()))
        g.names.discard("")
        return g

    def _kind(self, kind: str) -> dict[str, list[str]]:
        return {"log": self.logs, "incident": self.incidents, "message": self.messages}[kind]

    def check(self, ref: EvidenceRef) -> EvidenceRef | None:
        """The reference if it holds (with its id filled in for a quote that names none), else None."""
        items = self._kind(ref.kind)
        quote = _norm(ref.quote)
        if not ref.id and quote:
            found = [i for i, texts in items.items() if any(quote in _norm(t) for t in texts)]
            return ref.model_copy(update={"id": found[0]}) if len(found) == 1 else None
        texts = items.get(ref.id)
        if texts is None:
            return None
        if quote and not any(quote in _norm(t) for t in texts):
            return None
        return ref


def ground(model: ModelReport, ctx: GroundingContext) -> tuple[Summary, list[Hypothesis], Grounding]:
    """The model's summary and hypotheses with everything unsupported removed or capped."""
    stats = Grounding()
    kept: list[Hypothesis] = []
    for h in model.hypotheses:
        refs = [checked for ref in h.evidence if (checked := ctx.check(ref)) is not None]
        stats.dropped_refs += len(h.evidence) - len(refs)
        if not refs:
            stats.dropped_hypotheses += 1
            stats.notes.append(f"dropped, nothing cited holds: “{h.statement[:80]}”")
            continue
        confidence = _cap(h, refs)
        actions = [a for a in (_clean(a, ctx) for a in h.actions) if a is not None]
        stats.dropped_actions += len(h.actions) - len(actions)
        if confidence != h.confidence:
            stats.downgraded += 1
        kept.append(
            Hypothesis(
                id="",
                statement=h.statement,
                confidence=confidence,
                evidence=refs,
                checks=h.checks,
                actions=actions,
                rejected_refs=len(h.evidence) - len(refs),
                downgraded_from=h.confidence if confidence != h.confidence else None,
            )
        )
    kept.sort(key=lambda h: (-CONFIDENCE_ORDER[h.confidence], -len(h.evidence)))
    kept = kept[:MAX_HYPOTHESES]
    for n, h in enumerate(kept, 1):
        h.id = f"H{n}"
    summary = model.summary
    if not kept:
        summary = summary.model_copy(update={"cause": NO_CAUSE, "cause_confidence": "low"})
    else:
        best = kept[0].confidence
        if CONFIDENCE_ORDER[summary.cause_confidence] > CONFIDENCE_ORDER[best]:
            summary = summary.model_copy(update={"cause_confidence": best})
    return summary, kept, stats


def _cap(h: ModelHypothesis, refs: list[EvidenceRef]) -> Confidence:
    """Thin evidence (one citation, or past incidents only) caps at low; high needs two incl. a log line."""
    kinds = {r.kind for r in refs}
    if len(refs) == 1 or kinds == {"incident"}:
        return "low"
    if h.confidence == "high" and "log" not in kinds:
        return "medium"
    return h.confidence


def _clean(action: SuggestedAction, ctx: GroundingContext) -> SuggestedAction | None:
    """The action with control characters stripped, or None when its target is not in the evidence."""
    target = _CONTROL.sub(" ", action.target).strip()
    if not target or target.lower() not in ctx.names:
        return None
    params = {
        _CONTROL.sub("", k)[:40]: (_CONTROL.sub(" ", v)[:120] if isinstance(v, str) else v)
        for k, v in list(action.params.items())[:8]
    }
    return action.model_copy(
        update={"target": target, "params": params, "rationale": _CONTROL.sub(" ", action.rationale)}
    )
