"""What every executor offers: a dry run that changes nothing, the action itself, a check that it
really happened, and (where one exists) an undo. One module per backend.

Executors raise `workers.errors.ExecutorError` for a failure to report; the job never retries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class ActionRequest:
    action: str  # restart, scale, rollback, silence_alert, run_runbook
    target: str  # the service (deployment, alert) it applies to
    params: dict[str, str] = field(default_factory=dict)
    requested_by: str = ""
    proposal_id: str = ""


@dataclass(frozen=True)
class Plan:
    lines: list[str]


@dataclass(frozen=True)
class Outcome:
    ok: bool
    detail: str
    undo_token: str = ""  # what `undo` needs; empty when there is nothing to undo


@dataclass(frozen=True)
class Verification:
    ok: bool
    detail: str


class Executor(Protocol):
    kinds: frozenset[str]  # the action types it runs

    def dry_run(self, action: ActionRequest) -> Plan: ...

    def execute(self, action: ActionRequest) -> Outcome: ...

    def verify(self, action: ActionRequest, outcome: Outcome) -> Verification: ...

    def undo(self, action: ActionRequest, outcome: Outcome) -> Outcome | None: ...
