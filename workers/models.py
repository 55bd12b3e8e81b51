"""Data that crosses a process boundary (job payloads) or Redis (incident state), as Pydantic models."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

IncidentStatus = Literal["open", "resolved"]
PostmortemTrigger = Literal["resolve", "button", "archive"]


class Window(BaseModel):
    """The time range a triage looks at, in UTC, with what the user typed to get it."""

    start: datetime
    end: datetime
    phrase: str = Field(default="", description="the words it was parsed from; empty when defaulted")

    @property
    def minutes(self) -> int:
        return max(1, round((self.end - self.start).total_seconds() / 60))


class Incident(BaseModel):
    id: str
    channel_id: str
    channel_name: str = ""
    started_at: datetime
    status: IncidentStatus = "open"
    requester: str = Field(description="Slack user id of whoever opened it")
    resolved_at: datetime | None = None
    resolved_by: str = ""
    resolution: str = Field(default="", description="the summary given with /triage resolve")


class PostmortemRequest(BaseModel):
    """The JSON payload of a postmortem job."""

    run_id: str
    incident_id: str
    channel_id: str
    trigger: PostmortemTrigger
    requested_by: str
    summary: str = ""
    requested_at: datetime


class LineRequest(BaseModel):
    """What a triage asked of the lines beside the window: only the newest few, or only errors."""

    tail: int | None = Field(default=None, description="only the newest this many lines of the window")
    errors_only: bool = False


class TriageRequest(BaseModel):
    """The JSON payload of a triage job: everything the worker needs, nothing it must not hold."""

    run_id: str
    incident_id: str
    team_id: str
    channel_id: str
    channel_name: str
    requester_id: str
    text: str = Field(default="", description="the user's description, window phrase removed")
    window: Window
    lines: LineRequest = Field(default_factory=LineRequest)
    placeholder_ts: str
    requested_at: datetime
    max_level: Literal["observe", "suggest", "act"] | None = Field(
        default=None, description="set by an automatic triage of an alert: the highest rung for its actions"
    )

    @classmethod
    def offline(
        cls, run_id: str, incident_id: str, channel_name: str, text: str, window: Window
    ) -> TriageRequest:
        """A request with no Slack behind it (the CLI, a backtest): no team, channel or placeholder."""
        return cls(
            run_id=run_id, incident_id=incident_id, team_id="", channel_id="", channel_name=channel_name,
            requester_id="", text=text, window=window, placeholder_ts="", requested_at=window.end,
        )  # fmt: skip


class ChannelMessage(BaseModel):
    ts: str
    user: str = ""
    author: str = ""
    text: str = ""
    thread_ts: str | None = None
    reply_count: int = 0

    @property
    def at(self) -> datetime:
        from datetime import UTC

        return datetime.fromtimestamp(float(self.ts), tz=UTC)


class EvidenceEntry(BaseModel):
    template_id: str = ""  # T + 8 hex digits, what hypotheses cite
    kind: str  # new, surging, vanished, steady
    severity: str
    count: int
    baseline_count: int | None = None
    ratio: float | None = None
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    template: str
    exemplar: str | None = None  # one redacted line, verbatim


class EvidenceView(BaseModel):
    """The digest's top evidence, as the Slack answer shows it."""

    service: str
    entries: list[EvidenceEntry] = Field(default_factory=list)
    tokens: int
    budget_tokens: int
    encoding: str
    exact: bool
    sources: list[str] = Field(default_factory=list)
    cut: int = 0
    bursts: list[tuple[datetime, int]] = Field(default_factory=list)  # (minute, error lines) surges


class SimilarIncident(BaseModel):
    record_id: str
    title: str
    score: float
    snippet: str = ""
    root_cause: str = ""
    fix: str = ""
    signature: float = Field(default=0.0, description="log-signature overlap with this incident, 0..1")
    link: str = Field(default="", description="where the postmortem lives (http/https only)")


class KnowledgeView(BaseModel):
    """Past incidents like this one, and how novel this one looks."""

    incident_type: str  # what feedback clicks are stored under (the service)
    matches: list[SimilarIncident] = Field(default_factory=list)
    novelty: float
    novel: bool
    reason: str = ""


class IncidentContext(BaseModel):
    """What the worker assembled for one triage run; rendered into the answer."""

    request: TriageRequest
    incident: Incident | None
    channel_name: str
    requester_name: str
    messages: list[ChannelMessage] = Field(default_factory=list)
    messages_in_window: int = 0
    evidence: EvidenceView | None = None
    knowledge: KnowledgeView | None = None
    gaps: list[str] = Field(default_factory=list, description="sources that failed, said plainly")
    llm_configured: bool = False
    elapsed_s: float = 0.0
