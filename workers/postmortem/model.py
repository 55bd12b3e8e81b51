"""The postmortem draft: the data-derived parts (timeline, decision tree, actions, triplets) and the
prose sections, which the LLM writes or, in evidence-only mode, are left as prompts for humans."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from workers.knowledge.model import Triplet
from workers.triage.report import clipper

TO_WRITE = "✍️ _To write:_ "  # marks a prose section left for the humans (evidence-only mode)
Text = Annotated[str, clipper(2000)]
ItemType = Literal["prevent", "mitigate", "detect"]


class TimelineEntry(BaseModel):
    at: datetime
    what: str
    who: str = ""
    link: str = Field(default="", description="permalink of the Slack message it came from")
    source: Literal["message", "alert", "bot", "hypothesis", "verdict", "action", "resolution", "log"] = (
        "message"
    )
    key: bool = Field(default=False, description="marked with the pin reaction, or pinned")
    kind: str = Field(
        default="",
        description="why it is a key event: alert firing, first report, status update, decision, …",
    )

    @property
    def shown(self) -> bool:
        """In the Timeline section (every channel message is in the appendix)."""
        return self.key or bool(self.kind) or self.source not in ("message", "alert")


class DecisionNode(BaseModel):
    """One hypothesis raised during the incident, and what became of it."""

    id: str
    statement: str
    raised_by: str = Field(description="'bot' or the person's name")
    raised_at: datetime
    state: Literal["confirmed", "rejected", "dropped", "open"]
    decided_at: datetime | None = None
    why: str = ""
    evidence_for: list[str] = Field(default_factory=list)
    evidence_against: list[str] = Field(default_factory=list)
    confidence: str = ""
    minutes: float = Field(
        default=0.0, description="from raised to decided (or to resolution when never decided)"
    )
    link: str = Field(default="", description="where it was raised: the triage answer or the message")
    decided_link: str = Field(default="", description="the message that settled it, when one did")


class ActionEntry(BaseModel):
    at: datetime
    kind: str = Field(description="audit kind: suggested, shadowed, proposed, approved, denied, executed…")
    action: str
    by: str = ""
    detail: str = ""


class ActionItem(BaseModel):
    text: Text
    owner: str = ""
    type: ItemType = "prevent"
    due: str = Field(default="", description="due date when the messages give one, as written")
    source: Literal["channel", "model"] = Field(
        default="model", description="channel: written by people in the channel; model: suggested by the LLM"
    )


class BlameFlag(BaseModel):
    where: str = Field(description="the section or timeline time it was found in")
    sentence: str
    why: str
    suggestion: str


class Prose(BaseModel):
    """What the LLM writes (the JSON schema it is asked for)."""

    summary: Text
    impact: Text
    detection: Text
    root_causes: Annotated[list[Text], clipper(6)] = Field(default_factory=list)
    trigger: Text = ""
    resolution: Text
    went_well: Annotated[list[Text], clipper(8)] = Field(default_factory=list)
    went_badly: Annotated[list[Text], clipper(8)] = Field(default_factory=list)
    lucky: Annotated[list[Text], clipper(8)] = Field(default_factory=list)
    action_items: Annotated[list[ActionItem], clipper(12)] = Field(default_factory=list)
    open_questions: Annotated[list[Text], clipper(8)] = Field(default_factory=list)


class PostmortemDraft(BaseModel):
    incident_id: str
    title: str
    channel_id: str
    channel_name: str = ""
    mode: Literal["llm", "evidence-only"]
    mode_reason: str = ""
    review: Literal["draft", "reviewed"] = "draft"
    reviewed_by: str = ""
    version: int = 1
    generated_at: datetime
    started_at: datetime
    start_basis: str = Field(default="", description="what set the start: the first alert, …")
    opened_at: datetime | None = Field(default=None, description="when the incident was opened in Slack")
    resolved_at: datetime
    resolved_by: str = ""
    services: list[str] = Field(default_factory=list)
    participants: list[str] = Field(default_factory=list)
    prose: Prose
    timeline: list[TimelineEntry] = Field(default_factory=list)
    decision_tree: list[DecisionNode] = Field(default_factory=list)
    actions: list[ActionEntry] = Field(default_factory=list)
    triplets: list[Triplet] = Field(default_factory=list)
    log_signature: list[str] = Field(default_factory=list)
    blame: list[BlameFlag] = Field(default_factory=list)
    bias_notes: list[str] = Field(default_factory=list)
    gaps: list[str] = Field(default_factory=list, description="what could not be read, said plainly")
    messages_read: int = 0
    link: str = Field(default="", description="permalink of the summary message in Slack")
