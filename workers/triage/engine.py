"""From the assembled incident context to a triage report: ask the LLM, ground its answer, or fall
back to evidence-only hypotheses. Whatever fails, the on-call engineer gets an answer, never an error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import structlog

from workers.errors import LLMError
from workers.llm.budget import Budget
from workers.llm.client import LLMClient
from workers.llm.prompts import PromptLoader, RenderedPrompt
from workers.models import IncidentContext
from workers.redaction import ConsistentRedactor, EgressRecord, prepare_egress
from workers.triage.evidence_only import evidence_only_report
from workers.triage.grounding import GroundingContext, ground
from workers.triage.novelty import apply_novelty
from workers.triage.report import MAX_HYPOTHESES, ModelReport, PromptInfo, TriageReport, Usage

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
        rendered = self._render(ctx)
        messages = []
        for role, prompt in (("system", rendered[0]), ("user", rendered[1])):
            # The prompt leaves the network: redact it once more and record what was sent where.
            text, record = prepare_egress(redactor, self.endpoint, prompt.text, f"prompt {prompt.name}")
            egress(record)
            messages.append({"role": role, "content": text})
        try:
            result = self.llm.complete(messages, ModelReport, budget=budget, name="triage_report")
        except LLMError as exc:
            log.warning("llm failed, answering from evidence", error=str(exc))
            fallback = evidence_only_report(ctx, f"the LLM gave no usable answer ({exc})")
            fallback.best_effort = f"{type(exc).__name__}: {exc}"
            return apply_novelty(fallback, ctx)
        summary, hypotheses, grounding = ground(result.parsed, GroundingContext.of(ctx))
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
        if not hypotheses:
            # Nothing the model said survived grounding: show what the evidence alone supports.
            known = evidence_only_report(ctx, "no hypothesis of the model was grounded in the evidence")
            report.hypotheses = known.hypotheses
            report.grounding.notes.append("hypotheses below come from the evidence alone")
        return apply_novelty(report, ctx)

    def _render(self, ctx: IncidentContext) -> tuple[RenderedPrompt, RenderedPrompt]:
        req = ctx.request
        knowledge = ctx.knowledge
        system = self.prompts.render("triage/system", max_hypotheses=MAX_HYPOTHESES)
        user = self.prompts.render(
            "triage/user",
            incident_id=req.incident_id,
            channel=ctx.channel_name,
            window=f"{req.window.start:%Y-%m-%d %H:%M}–{req.window.end:%H:%M} UTC",
            reported=req.text,
            novelty=knowledge.reason if knowledge is not None else "",
            gaps=ctx.gaps,
            service=ctx.evidence.service if ctx.evidence is not None else "",
            entries=ctx.evidence.entries if ctx.evidence is not None else [],
            matches=[m for m in knowledge.matches if not knowledge.novel] if knowledge is not None else [],
            messages=ctx.messages,
        )
        return system, user
