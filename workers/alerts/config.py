"""The alerts file (`ALERTS_CONFIG_FILE`): grouping rules, where alerts land, rate limits, and the
mappings of generic JSON sources. Every field has a default: no file is a valid configuration."""

from __future__ import annotations

import fnmatch
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from workers.yamllines import validated


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Grouping(_Strict):
    by: list[str] = Field(default_factory=lambda: ["service"], description="labels whose values key a group")
    service_labels: list[str] = Field(
        default_factory=lambda: ["service", "app", "job"],
        description="the first one present names the service",
    )
    window_minutes: int = Field(
        default=60,
        ge=1,
        le=7 * 24 * 60,
        description="a group's incident takes alerts this long after its last one",
    )


class RateLimits(_Strict):
    board_update_seconds: float = Field(
        default=5.0, ge=0, le=600, description="per incident, between edits of its alert board"
    )
    slack_writes_per_minute: int = Field(
        default=120, ge=1, le=10_000, description="all alert messages together"
    )
    new_incidents: int = Field(
        default=20, ge=1, le=1000, description="incidents opened per storm window; beyond: one storm incident"
    )
    storm_window_minutes: int = Field(default=10, ge=1, le=24 * 60)


class Route(_Strict):
    """Alerts whose labels match every glob go to `channel` (an existing channel id), or to a new
    channel when `channel` is empty."""

    match: dict[str, str] = Field(default_factory=dict)
    channel: str = ""

    def matches(self, labels: dict[str, str]) -> bool:
        return all(fnmatch.fnmatchcase(labels.get(k, ""), v) for k, v in self.match.items())


class NewChannel(_Strict):
    name_pattern: str = Field(
        default="inc-{service}-{date}", description="fields: service, alertname, severity, date"
    )
    invite: dict[str, list[str]] = Field(
        default_factory=dict, description="service glob → Slack user ids invited to a new channel"
    )

    @field_validator("name_pattern")
    @classmethod
    def _fields_known(cls, v: str) -> str:
        try:
            v.format(service="s", alertname="a", severity="x", date="d")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"unknown field {exc} (use service, alertname, severity, date)") from None
        return v

    def invitees(self, service: str) -> list[str]:
        return sorted(
            {u for glob, users in self.invite.items() if fnmatch.fnmatchcase(service, glob) for u in users}
        )


class GenericMapping(_Strict):
    """Where a generic source keeps each field, as dotted paths into its JSON."""

    alerts: str = Field(default="", description="path to the list of alerts; empty: the body is one alert")
    fingerprint: str
    status: str = Field(default="status", description="resolved when its value is one of resolved_values")
    resolved_values: list[str] = Field(default_factory=lambda: ["resolved", "ok", "closed", "close"])
    labels: str = ""
    annotations: str = ""
    alertname: str = ""
    service: str = ""
    severity: str = ""
    summary: str = ""
    starts_at: str = ""
    url: str = ""
    dashboard: str = ""


class AlertRules(_Strict):
    grouping: Grouping = Field(default_factory=Grouping)
    rate_limits: RateLimits = Field(default_factory=RateLimits)
    routes: list[Route] = Field(default_factory=list)
    new_channel: NewChannel = Field(default_factory=NewChannel)
    triage_lead_minutes: int = Field(
        default=5, ge=0, le=24 * 60, description="the triage window starts this long before startsAt"
    )
    generic: dict[str, GenericMapping] = Field(default_factory=dict)

    def route(self, labels: dict[str, str]) -> Route:
        return next((r for r in self.routes if r.matches(labels)), Route())


def load_rules(path: Path | None) -> AlertRules:
    """The rules in `path`, the defaults without one; a `ConfigError` names the file and line at fault."""
    if path is None:
        return AlertRules()
    return validated(path, path.read_text(), AlertRules, "an alerts file is a mapping (grouping, routes, …)")
