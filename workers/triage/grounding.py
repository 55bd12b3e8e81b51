"""Grounding in code: every citation must exist in the evidence the model was shown, every quote must
be verbatim, and confidence may not outrun the evidence. What the model says never widens what the
bot may do: an action may only name the service under investigation or one the team named (in the
channel or in a past incident), never one that only appears inside a log line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from workers.models import IncidentContext
from workers.policy.identity import canonical
from workers.triage.advice import AdviceCheck
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
from workers.triage.suspicious import suspicious_items

NO_CAUSE = "No cause could be grounded in the evidence"
MAX_PARAMS = 8
MAX_PARAM_KEY = 40
MAX_PARAM_VALUE = 120
MAX_TARGET = 128
# Parameters that widen or move what an action touches: their values must be named like a target.
SCOPE_PARAMS = frozenset(
    {"service", "deployment", "target", "namespace", "cluster", "app", "name", "host", "statefulset"}
)
IDENTITY_PARAMS = SCOPE_PARAMS | {"environment"}  # kept in canonical form, as the policy reads them

_SPACE = re.compile(r"\s+")
# C0/C1 controls, line separators, zero-width and bidi-override characters.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]")
_KEY = re.compile(r"[^A-Za-z0-9_.-]")
_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]*[a-z0-9]")


def _norm(text: str) -> str:
    """Whitespace runs collapsed and a trailing ellipsis trimmed: the only liberties a quote may take."""
    return _SPACE.sub(" ", text).strip().removesuffix("…").removesuffix("...").strip()


def _flat(text: str) -> str:
    """One line: control characters out, whitespace runs collapsed."""
    return _SPACE.sub(" ", _CONTROL.sub(" ", text)).strip()


def _short(text: str, limit: int = 80) -> str:
    text = _flat(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class GroundingContext:
    """What the model was shown, by kind and id: the texts a citation may point into, and the names an
    action may target."""

    logs: dict[str, list[str]] = field(default_factory=dict)  # template id → [template, exemplar]
    incidents: dict[str, list[str]] = field(default_factory=dict)  # record id → title, cause, fix, snippet
    messages: dict[str, list[str]] = field(default_factory=dict)  # ts → [text]
    names: set[str] = field(default_factory=set)
    suspicious: dict[str, str] = field(default_factory=dict)  # log or message id → why it looks injected

    @classmethod
    def of(cls, ctx: IncidentContext) -> GroundingContext:
        g = cls()
        if ctx.evidence is not None:
            if ctx.evidence.service:
                g.names.add(canonical(ctx.evidence.service))
            for e in ctx.evidence.entries:
                g.logs[e.template_id] = [e.template, *([e.exemplar] if e.exemplar else [])]
        if ctx.knowledge is not None and not ctx.knowledge.novel:  # novel: the model saw no matches
            for m in ctx.knowledge.matches:
                g.incidents[m.record_id] = [m.title, m.root_cause, m.fix, m.snippet]
        for msg in ctx.messages:
            g.messages[msg.ts] = [msg.text]
        g.suspicious = suspicious_items(ctx)
        # Log lines may carry anyone's text (a request body, an attacker's user agent): not a source;
        # nor is a message that reads like instructions to the model.
        said = [t for ts, t in g.messages.items() if ts not in g.suspicious]
        for texts in (*g.incidents.values(), *said):
            for text in texts:
                g.names.update(_NAME.findall(canonical(text)))
        return g

    def _items(self, kind: str) -> dict[str, list[str]]:
        return {"log": self.logs, "incident": self.incidents, "message": self.messages}[kind]

    def check(self, ref: EvidenceRef) -> EvidenceRef | None:
        """The reference if it holds (with its id filled in for a quote that names none), else None."""
        items = {
            i: t
            for i, t in self._items(ref.kind).items()
            if ref.kind == "incident" or i not in self.suspicious
        }
        quote = _norm(ref.quote)
        if not ref.id:
            if not quote:
                return None
            found = [i for i, texts in items.items() if any(quote in _norm(t) for t in texts)]
            return ref.model_copy(update={"id": found[0]}) if len(found) == 1 else None
        texts = items.get(ref.id)
        if texts is None or (quote and not any(quote in _norm(t) for t in texts)):
            return None
        return ref


def ground(model: ModelReport, ctx: GroundingContext) -> tuple[Summary, list[Hypothesis], Grounding]:
    """The model's summary and hypotheses with everything unsupported removed or capped, ranked and
    numbered H1…, and what was removed. The summary's confidence never exceeds the best hypothesis's."""
    stats = Grounding()
    kept: list[Hypothesis] = []
    for h in model.hypotheses:
        refs = _valid_refs(h, ctx)
        rejected = len(h.evidence) - len(refs)
        stats.dropped_refs += rejected
        if not refs:
            stats.dropped_hypotheses += 1
            stats.notes.append(f"dropped, nothing cited holds: “{_short(h.statement)}”")
            continue
        confidence, why = _cap(h.confidence, refs)
        if why:
            stats.downgraded += 1
            stats.notes.append(f"{h.confidence} → {confidence} ({why}): “{_short(h.statement)}”")
        actions: list[SuggestedAction] = []
        for action in h.actions:
            cleaned = _clean(action, ctx)
            if cleaned is None:
                stats.dropped_actions += 1
                stats.refused_actions.append(action)
                stats.notes.append(
                    f"action dropped, {action.action_type} on “{_short(action.target, 40)}” "
                    "names nothing the evidence names"
                )
            else:
                actions.append(cleaned)
        kept.append(
            Hypothesis(
                id="",
                statement=h.statement,
                confidence=confidence,
                evidence=refs,
                checks=h.checks,
                actions=actions,
                rejected_refs=rejected,
                downgraded_from=h.confidence if why else None,
            )
        )
    _strip_advice(model.summary, kept, stats)
    kept.sort(key=lambda h: (-CONFIDENCE_ORDER[h.confidence], -len(h.evidence)))  # stable: model order
    if len(kept) > MAX_HYPOTHESES:
        stats.notes.append(f"{len(kept) - MAX_HYPOTHESES} weaker hypotheses not shown")
        kept = kept[:MAX_HYPOTHESES]
    for n, h in enumerate(kept, 1):
        h.id = f"H{n}"
    stats.suspicious = dict(ctx.suspicious)
    return _summary(model.summary, kept), kept, stats


def _strip_advice(summary: Summary, kept: list[Hypothesis], stats: Grounding) -> None:
    """Remove, in place and counted, every sentence of the model's prose that instructs an action
    grounding did not keep (see `workers.triage.advice`)."""
    check = AdviceCheck(kept=[a for h in kept for a in h.actions])
    summary.what = check.clean(summary.what)
    summary.cause = check.clean(summary.cause)
    summary.next = check.clean(summary.next)
    for h in kept:
        h.statement = check.clean(h.statement)
        h.checks = [check.clean(c) for c in h.checks]
        h.actions = [a.model_copy(update={"rationale": check.clean(a.rationale)}) for a in h.actions]
    stats.dropped_advice += len(check.removed)
    stats.notes += [f"advice removed, no kept action supports it: “{_short(s)}”" for s in check.removed]


def _valid_refs(h: ModelHypothesis, ctx: GroundingContext) -> list[EvidenceRef]:
    """The references that hold, each item once (a repeated citation is not more evidence)."""
    out: list[EvidenceRef] = []
    seen: set[tuple[str, str]] = set()
    for ref in h.evidence:
        checked = ctx.check(ref)
        if checked is not None and (checked.kind, checked.id) not in seen:
            seen.add((checked.kind, checked.id))
            out.append(checked)
    return out


def _cap(claimed: Confidence, refs: list[EvidenceRef]) -> tuple[Confidence, str]:
    """The confidence the references allow, and why it is lower than claimed ("" when it is not)."""
    kinds = {r.kind for r in refs}
    if claimed != "low" and (len(refs) == 1 or kinds == {"incident"}):
        return "low", "thin evidence: one citation, or past incidents alone"
    if claimed == "high" and "log" not in kinds:
        return "medium", "high needs a log line among two or more citations"
    return claimed, ""


def _summary(summary: Summary, kept: list[Hypothesis]) -> Summary:
    if not kept:
        return summary.model_copy(update={"cause": NO_CAUSE, "cause_confidence": "low"})
    best = max(kept, key=lambda h: CONFIDENCE_ORDER[h.confidence]).confidence
    if CONFIDENCE_ORDER[summary.cause_confidence] > CONFIDENCE_ORDER[best]:
        return summary.model_copy(update={"cause_confidence": best})
    return summary


def _clean(action: SuggestedAction, ctx: GroundingContext) -> SuggestedAction | None:
    """The action with control characters stripped and lengths limited, or None when its target (or a
    parameter that names what it acts on) is not named in the evidence."""
    target = _flat(canonical(action.target))[:MAX_TARGET]
    if not target or target not in ctx.names:
        return None
    params: dict[str, str | int | float | bool] = {}
    for key, value in list(action.params.items())[:MAX_PARAMS]:
        k = _KEY.sub("", key)[:MAX_PARAM_KEY]
        v = _flat(value)[:MAX_PARAM_VALUE] if isinstance(value, str) else value
        if not k:
            continue
        if k.lower() in IDENTITY_PARAMS:
            v = _flat(canonical(v))[:MAX_PARAM_VALUE]
        if k.lower() in SCOPE_PARAMS and v not in ctx.names:
            return None
        params[k] = v
    return action.model_copy(
        update={"target": target, "params": params, "rationale": _flat(action.rationale)}
    )
