"""From the assembled incident context to a triage report: ask the LLM, ground its answer, or fall
back to evidence-only hypotheses. Whatever fails, the on-call engineer gets an answer, never an error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import structlog

from workers.errors import LLMContextOverflow, LLMError
from workers.llm.budget import Budget
from workers.llm.client import LLMClient, LLMResult
from workers.llm.prompts import PromptLoader, RenderedPrompt
from workers.models import ChannelMessage, EvidenceEntry, IncidentContext, SimilarIncident
from workers.redaction import ConsistentRedactor, EgressRecord, prepare_egress
from workers.triage.causes import find_causes
from workers.triage.evidence_only import evidence_only_report
from workers.triage.grounding import GroundingContext, ground
from workers.triage.novelty import apply_novelty
from workers.triage.report import MAX_HYPOTHESES, ModelReport, PromptInfo, TriageReport, Usage
from workers.triage.suspicious import suspicious_items
from workers.triage.vocabulary import default_vocabulary

log = structlog.get_logger(__name__)

Egress = Callable[[EgressRecord], None]


@dataclass
class Engine:
    llm: LLMClient | None
    prompts: PromptLoader
    endpoint: str = ""  # where prompts go, for the egress record

    def report(
        self, ctx: IncidentContext, budget: Budget, redactor: ConsistentRedactor, egress: Egress
    ) -> TriageReport:
        if self.llm is None:
            return apply_novelty(evidence_only_report(ctx, "no LLM is configured"), ctx)
        try:
            try:
                system, user, shown, trimmed, result = self._ask(ctx, self.llm, budget, redactor, egress)
            except LLMContextOverflow:
                # The server counted more than we did; its figures now scale our count: cut, ask again.
                system, user, shown, trimmed, result = self._ask(ctx, self.llm, budget, redactor, egress)
                trimmed = "; ".join(
                    p for p in (f"{self.llm.overflow_note}: cut and sent again", trimmed) if p
                )
        except LLMError as exc:
            log.warning("llm failed, answering from evidence", error=str(exc))
            fallback = evidence_only_report(ctx, f"the LLM gave no usable answer ({exc})")
            overflow = self.llm.overflow_note
            fallback.best_effort = "; ".join(p for p in (f"{type(exc).__name__}: {exc}", overflow) if p)
            return apply_novelty(fallback, ctx)
        rendered = (system, user)
        summary, hypotheses, grounding = ground(result.parsed, GroundingContext.of(shown))
        report = TriageReport(
            mode="llm",
            summary=summary,
            hypotheses=hypotheses,
            grounding=grounding,
            prompts=[PromptInfo(name=p.name, version=p.version, sha256=p.sha256) for p in rendered],
            usage=Usage(
                calls=result.attempts,
                prompt_tokens=result.prompt_tokens,
                completion_tokens=result.completion_tokens,
                cost_usd=result.cost_usd,
                elapsed_s=result.elapsed_s,
                model=result.model,
            ),
        )
        report.best_effort = trimmed
        if not hypotheses:
            # Nothing the model said survived grounding: show what the evidence alone supports.
            known = evidence_only_report(ctx, "no hypothesis of the model was grounded in the evidence")
            report.hypotheses = known.hypotheses
            report.grounding.notes.append("hypotheses below come from the evidence alone")
        return apply_novelty(report, ctx)

    def _ask(
        self,
        ctx: IncidentContext,
        llm: LLMClient,
        budget: Budget,
        redactor: ConsistentRedactor,
        egress: Egress,
    ) -> tuple[RenderedPrompt, RenderedPrompt, IncidentContext, str, LLMResult[ModelReport]]:
        """Fit the prompts to the window, redact them on the way out, record where they went, ask."""
        system, user, shown, trimmed = self._fit(ctx, llm)
        messages = []
        for role, prompt in (("system", system), ("user", user)):
            # The prompt leaves the network: redact it once more and record what was sent where.
            text, record = prepare_egress(redactor, self.endpoint, prompt.text, f"prompt {prompt.name}")
            egress(record)
            messages.append({"role": role, "content": text})
        result = llm.complete(messages, ModelReport, budget=budget, name="triage_report")
        return system, user, shown, trimmed, result

    def _render(self, ctx: IncidentContext) -> tuple[RenderedPrompt, RenderedPrompt]:
        req = ctx.request
        knowledge = ctx.knowledge
        system = self.prompts.render("triage/system", max_hypotheses=MAX_HYPOTHESES)
        user = self.prompts.render_fenced(
            "triage/user",
            incident_id=req.incident_id,
            channel=ctx.channel_name,
            window=f"{req.window.start:%Y-%m-%d %H:%M}–{req.window.end:%H:%M} UTC",
            reported=req.text,
            novelty=knowledge.reason if knowledge is not None else "",
            gaps=ctx.gaps,
            service=ctx.evidence.service if ctx.evidence is not None else "",
            entries=_entries(ctx),
            causes=_causes(ctx),
            matches=_matches(ctx),
            messages=ctx.messages,
            suspicious=set(suspicious_items(ctx)),
        )
        return system, user

    def _fit(
        self, ctx: IncidentContext, llm: LLMClient
    ) -> tuple[RenderedPrompt, RenderedPrompt, IncidentContext, str]:
        """The prompts and what they show, cut down until they fit the model's context window with
        room for the answer: older messages go first, then the weakest log findings, then the least
        similar past incidents."""
        entries, messages, matches = _entries(ctx), list(ctx.messages), _matches(ctx)
        full = (len(entries), len(messages), len(matches))
        while True:
            shown = _showing(ctx, entries, messages, matches)
            system, user = self._render(shown)
            if llm.fits([system.text, user.text], ModelReport):
                break
            if len(messages) > 2:
                messages = messages[len(messages) // 2 :]
            elif len(entries) > 1:
                entries = entries[: len(entries) * 2 // 3]
            elif len(matches) > 1:
                matches = matches[:-1]
            elif messages or entries or matches:
                messages, entries, matches = [], [], []
            else:
                break  # the fixed text alone does not fit: the client says so
        kept = (len(entries), len(messages), len(matches))
        if kept == full:
            return system, user, shown, ""
        return (
            system,
            user,
            shown,
            (
                f"the prompt was cut to fit the model's {llm.context_window}-token context window: kept "
                f"{kept[0]} of {full[0]} log findings, {kept[1]} of {full[1]} messages, "
                f"{kept[2]} of {full[2]} past incidents"
            ),
        )


def _entries(ctx: IncidentContext) -> list[EvidenceEntry]:
    return list(ctx.evidence.entries) if ctx.evidence is not None else []


def _causes(ctx: IncidentContext) -> list[str]:
    """The vocabulary's mechanisms and changes in the shown evidence, ranked, one line each."""
    out = []
    for c in find_causes(ctx, default_vocabulary(), skip=suspicious_items(ctx)).causes:
        when = f", first {c.onset:%H:%M}" if c.onset else ""
        after = f", after {c.trigger[0].name.lower()} [{c.trigger[1].template_id}]" if c.trigger else ""
        then = ", ".join(e.template_id for e in c.explains)
        ids = ", ".join(e.template_id for e in c.entries)
        out.append(
            f"{c.term.name} ({c.kind}) [{ids}]{when}{after}" + (f"; followed by {then}" if then else "")
        )
    return out


def _matches(ctx: IncidentContext) -> list[SimilarIncident]:
    k = ctx.knowledge
    return list(k.matches) if k is not None and not k.novel else []


def _showing(
    ctx: IncidentContext,
    entries: list[EvidenceEntry],
    messages: list[ChannelMessage],
    matches: list[SimilarIncident],
) -> IncidentContext:
    """The context as far as the model is shown it (grounding checks against exactly this)."""
    update: dict[str, object] = {"messages": messages}
    if ctx.evidence is not None:
        update["evidence"] = ctx.evidence.model_copy(update={"entries": entries})
    if ctx.knowledge is not None and not ctx.knowledge.novel:
        update["knowledge"] = ctx.knowledge.model_copy(update={"matches": matches})
    return ctx.model_copy(update=update)
