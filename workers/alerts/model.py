"""An alert as every receiver hands it on: one shape for Alertmanager, PagerDuty and generic sources."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

AlertStatus = Literal["firing", "resolved"]


class Alert(BaseModel):
    """One alert at one moment. `fingerprint` is stable across repeats of the same alert (Alertmanager's
    fingerprint, PagerDuty's incident id, a generic source's mapped key)."""

    source: str = Field(description="alertmanager, pagerduty or generic:<name>")
    fingerprint: str
    status: AlertStatus
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: datetime
    ends_at: datetime | None = None
    generator_url: str = ""
    received_at: datetime
    note: str = Field(default="", description="a source's own state word, e.g. PagerDuty's acknowledged")

    @property
    def key(self) -> str:
        """Unique across sources."""
        return f"{self.source}:{self.fingerprint}"

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "") or self.annotations.get("summary", "") or "alert"

    @property
    def severity(self) -> str:
        return self.labels.get("severity", "").lower() or "none"

    def service(self, service_labels: list[str]) -> str:
        """The first of `service_labels` the alert carries ("" when none)."""
        return next((self.labels[k] for k in service_labels if self.labels.get(k)), "")

    def links(self) -> dict[str, str]:
        """Runbook, dashboard and source links, by label, when they are http(s) URLs."""
        found = {
            "runbook": self.annotations.get("runbook_url", ""),
            "dashboard": self.annotations.get("dashboard_url", "") or self.annotations.get("dashboard", ""),
            "source": self.generator_url,
        }
        return {k: v for k, v in found.items() if v.startswith(("https://", "http://"))}
