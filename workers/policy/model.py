"""The policy file (`policies/*.yaml`), validated by Pydantic; errors name the file and line.

Deny rules are checked first; an action type the file does not name is observed only (never shown,
written to the shadow ledger); `approvals: 0` is allowed only for reversible actions, and only while
the error budget is healthy. The error budget caps every level: burning → suggest, exhausted →
observe, and a novel incident → suggest.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from workers.yamllines import read_config, validated

Level = Literal["observe", "suggest", "act"]
BudgetState = Literal["healthy", "burning", "exhausted"]
LEVELS: tuple[Level, ...] = ("observe", "suggest", "act")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Scope(_Strict):
    """Glob patterns; an action is in scope when all three match."""

    environment: str = "*"
    service: str = "*"
    namespace: str = "*"


class Approvers(_Strict):
    users: list[str] = Field(default_factory=list, description="Slack user ids, U…")
    groups: list[str] = Field(default_factory=list, description="Slack user group handles, @sre-oncall")


class RateLimit(_Strict):
    executions: int = Field(ge=1)
    per_minutes: int = Field(ge=1)


class ActionPolicy(_Strict):
    level: Level
    scopes: list[Scope] = Field(default_factory=lambda: [Scope()])
    approvers: Approvers = Field(default_factory=Approvers)
    approvals: int = Field(default=1, ge=0, le=2)
    approval_expiry_minutes: int = Field(default=30, ge=1, le=24 * 60)
    rate_limit: RateLimit | None = None
    max_replica_change: int | None = Field(default=None, ge=1, description="blast radius of scale")
    dry_run_first: bool = True
    reversible: bool = False
    require: list[str] = Field(
        default_factory=list,
        description="parameters an act-level action must name to be approvable (namespace, revision)",
    )

    @model_validator(mode="after")
    def _approvals(self) -> ActionPolicy:
        if self.approvals == 0 and not self.reversible:
            raise ValueError("approvals: 0 is allowed only for actions marked reversible: true")
        if self.level == "act" and self.approvals > 0 and not (self.approvers.users or self.approvers.groups):
            raise ValueError("level act needs approvers (users or groups) or approvals: 0")
        return self


class DenyRule(_Strict):
    action: str = "*"
    environment: str = "*"
    service: str = "*"
    namespace: str = "*"
    reason: str


class BurnWindow(_Strict):
    """Multiwindow burn-rate alert: burning when both windows burn faster than `factor`."""

    long: str = Field(pattern=r"^\d+[mhd]$")
    short: str = Field(pattern=r"^\d+[mhd]$")
    factor: float = Field(gt=0)


class SLO(_Strict):
    objective: float = Field(gt=0, lt=100, description="percent, e.g. 99.9")
    window: str = Field(default="30d", pattern=r"^\d+[dh]$")
    error_ratio_query: str = Field(description="PromQL ratio of bad events; {window} is replaced")


class Caps(_Strict):
    healthy: Level = "act"
    burning: Level = "suggest"
    exhausted: Level = "observe"
    novel: Level = "suggest"


class AlertTriage(_Strict):
    """What an automatic triage of an alert of one severity may do."""

    triage: bool = Field(default=True, description="run the triage at all (false: only post the alert)")
    max_level: Level = Field(default="suggest", description="the highest rung its actions may start at")


class PolicyFile(_Strict):
    version: Literal[1] = 1
    deny: list[DenyRule] = Field(default_factory=list)
    actions: dict[str, ActionPolicy] = Field(default_factory=dict)
    slos: dict[str, SLO] = Field(default_factory=dict)
    burn_rates: list[BurnWindow] = Field(
        default_factory=lambda: [
            BurnWindow(long="1h", short="5m", factor=14.4),
            BurnWindow(long="6h", short="30m", factor=6.0),
        ]
    )
    caps: Caps = Field(default_factory=Caps)
    alerts: dict[str, AlertTriage] = Field(
        default_factory=dict, description="by alert severity (globs; '*' for the rest): automatic triage"
    )
    sha256: str = Field(default="", exclude=True)
    source: str = Field(default="", exclude=True)


def load_policy(path: Path, text: str | None = None) -> PolicyFile:
    """The policy in `path` (or `text`, read from it), or a `ConfigError` listing every problem as
    `file:line: message`."""
    text = read_config(path, "POLICY_FILE") if text is None else text
    policy = validated(path, text, PolicyFile, "a policy file is a mapping (version, deny, actions, slos, …)")
    policy.sha256 = hashlib.sha256(text.encode()).hexdigest()
    policy.source = str(path)
    return policy
