"""A past incident as the knowledge base keeps it."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

Provenance = Literal["markdown", "json", "yaml", "bot"]


class Triplet(BaseModel):
    """What was seen, why, and what fixed it; `verified` when the fix was confirmed to work."""

    symptom: str
    root_cause: str
    fix: str
    verified: bool = False


class IncidentRecord(BaseModel):
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
    title: str
    started_at: datetime | None = None
    resolved_at: datetime | None = None
    services: list[str] = Field(default_factory=list)
    severity: str = ""
    summary: str = ""
    symptoms: list[str] = Field(default_factory=list)
    root_causes: list[str] = Field(default_factory=list)
    trigger: str = ""
    resolution: str = ""
    action_items: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    log_signature: list[str] = Field(default_factory=list, description="masked log templates seen")
    links: list[str] = Field(default_factory=list)
    triplets: list[Triplet] = Field(default_factory=list)
    source_file: str = ""
    provenance: Provenance = "markdown"
    review: Literal["", "draft", "reviewed"] = Field(default="", description="for the bot's own drafts")
    body: str = Field(default="", description="the remaining text, searchable")
    updated_at: datetime | None = None

    def searchable_text(self) -> str:
        """Everything a lexical search should see, fields weighted by repetition (title twice)."""
        parts = [self.title, self.title, self.summary, *self.symptoms, *self.root_causes, self.trigger]
        parts += [self.resolution, *self.tags, *self.services, self.body]
        parts += [f"{t.symptom} {t.root_cause} {t.fix}" for t in self.triplets]
        return "\n".join(p for p in parts if p)
