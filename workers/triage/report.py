"""The triage report: what the model is asked for, and what the answer shows after grounding.

`ModelReport` is the JSON schema the LLM fills in. `TriageReport` is what the engine hands to Slack:
the grounded hypotheses (or the evidence-only ones), with how they were obtained and how much of
what the model said was dropped or downgraded.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, Field

Confidence = Literal["high", "medium", "low"]
CONFIDENCE_ORDER: dict[str, int] = {"low": 0, "medium": 1, "high": 2}
RefKind = Literal["log", "incident", "message"]
ActionType = Literal["restart", "rollback", "scale", "silence_alert", "run_runbook"]
Mode = Literal["llm", "evidence-only"]
BoardStatus = Literal["new", "strengthened", "weakened", "unchanged"]

MAX_HYPOTHESES = 5
MAX_TEXT = 600


def clipper(limit: int) -> BeforeValidator:
    """Cut over-long strings and lists instead of rejecting the whole answer for them."""

    def clip(value: Any) -> Any:
        if isinstance(value, str) and len(value) > limit:
            return value[: limit - 1] + "…"
        if isinstance(value, list) and len(value) > limit:
            return value[:limit]
        return value

    return BeforeValidator(clip)


Text = Annotated[str, clipper(MAX_TEXT), Field(max_length=MAX_TEXT)]


class EvidenceRef(BaseModel):
    """A pointer into the evidence the model was given.

    `log`: a digest template id (`T7a6a1779`); `incident`: a past incident id from the knowledge
    base; `message`: a channel message ts. `quote`, when given, must appear verbatim in it."""

    kind: RefKind
    id: Annotated[str, clipper(64), Field(max_length=64)]
    quote: Text = ""


class SuggestedAction(BaseModel):
    """A typed action for a human (or, later, the policy) to consider; never executed from here."""

    action_type: ActionType
    target: Annotated[str, clipper(128), Field(description="service, deployment or alert it applies to")] = ""
    params: dict[str, str | int | float | bool] = Field(default_factory=dict)
    rationale: Text = ""


class ModelHypothesis(BaseModel):
    statement: Text
    confidence: Confidence
    evidence: Annotated[list[EvidenceRef], clipper(12)] = Field(default_factory=list)
    checks: Annotated[list[Text], clipper(6)] = Field(
        default_factory=list, description="what would confirm or refute it"
    )
    actions: Annotated[list[SuggestedAction], clipper(4)] = Field(default_factory=list)


class Summary(BaseModel):
    """The three parts an on-call engineer reads first."""

    what: Annotated[Text, Field(description="what is going on")]
    cause: Annotated[Text, Field(description="the likely cause")]
    cause_confidence: Confidence
    next: Annotated[Text, Field(description="what to do next")]


class ModelReport(BaseModel):
    """What the LLM must return."""

    summary: Summary
    hypotheses: Annotated[list[ModelHypothesis], clipper(8)] = Field(default_factory=list)


class ClassifiedAction(BaseModel):
    """A suggested action with the level the policy ladder gave it (never set by the model)."""

    action: SuggestedAction
    level: Literal["observe", "suggest", "act"]
    written: Literal["observe", "suggest", "act"] = Field(description="what the policy file says")
    reasons: list[str] = Field(default_factory=list)
    proposal_id: str = Field(default="", description="set when it awaits approval (act level)")


class Hypothesis(ModelHypothesis):
    id: str = Field(description="stable across re-runs of /triage in one incident: H1, H2, …")
    detail: str = Field(default="", description="below the one-line claim: the mechanism and the chain")
    classified: list[ClassifiedAction] = Field(default_factory=list, description="set by the policy ladder")
    status: BoardStatus = "new"
    rejected_refs: int = Field(default=0, description="references dropped by grounding")
    downgraded_from: Confidence | None = None


class Grounding(BaseModel):
    """What grounding removed or weakened in the model's answer."""

    dropped_hypotheses: int = 0
    dropped_refs: int = 0
    downgraded: int = 0
    dropped_actions: int = 0
    notes: list[str] = Field(default_factory=list)
    refused_actions: list[SuggestedAction] = Field(
        default_factory=list, description="actions dropped for naming nothing the evidence names"
    )
    dropped_advice: int = Field(
        default=0, description="sentences removed for instructing an action grounding did not keep"
    )
    suspicious: dict[str, str] = Field(
        default_factory=dict, description="evidence that looks like instructions to the model: id → why"
    )


class PromptInfo(BaseModel):
    name: str
    version: int
    sha256: str


class Usage(BaseModel):
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    elapsed_s: float = 0.0
    model: str = ""


class TriageReport(BaseModel):
    mode: Mode
    mode_reason: str = Field(default="", description="why evidence-only, when it is")
    summary: Summary
    hypotheses: list[Hypothesis] = Field(default_factory=list)
    novel: bool = False
    novelty_reason: str = ""
    action_cap: Literal["suggest"] | None = Field(
        default=None, description="set when actions may only be suggested"
    )
    grounding: Grounding = Field(default_factory=Grounding)
    prompts: list[PromptInfo] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    best_effort: str = Field(default="", description="why the answer may be incomplete (budget, timeout)")
    budget_state: str = Field(default="", description="the error budget when the actions were classified")
    shadowed: int = Field(default=0, description="actions at observe: not shown, in the shadow ledger")
