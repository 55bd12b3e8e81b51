"""A proposal: one act-level action from a triage answer, on its way from proposed to a result.

proposed → approved → executing → succeeded | failed, or proposed → denied | expired | cancelled.
The button that acts on it carries only the opaque `id`; everything else stays in Redis.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from workers.policy.decide import ActionRequest, whole
from workers.policy.identity import canonical
from workers.triage.report import SuggestedAction

State = Literal["proposed", "approved", "executing", "succeeded", "failed", "denied", "expired", "cancelled"]
FINAL: frozenset[State] = frozenset({"succeeded", "failed", "denied", "expired", "cancelled"})


class Approval(BaseModel):
    user: str
    at: datetime


class Proposal(BaseModel):
    id: str
    incident_id: str
    channel_id: str
    message_ts: str = Field(default="", description="the triage answer it was proposed in")
    hypothesis_id: str
    action: SuggestedAction
    requested_by: str = Field(description="who ran the /triage that proposed it; never its approver")
    novel: bool
    policy_sha256: str
    approvals_needed: int
    approvals: list[Approval] = Field(default_factory=list)
    created_at: datetime
    expires_at: datetime
    state: State = "proposed"
    reason: str = Field(default="", description="why it was denied, expired, cancelled or failed")
    result: str = ""
    undo_token: str = ""
    undone: bool = False

    def request(self) -> ActionRequest:
        return self.request_for(self.action)

    @staticmethod
    def request_for(action: SuggestedAction) -> ActionRequest:
        """The policy's view of an action, in canonical names: type, service, the scope named in its
        parameters, and the parameters themselves."""
        params = {canonical(k): str(v) for k, v in action.params.items() if not isinstance(v, bool)}
        return ActionRequest(
            action.action_type,
            action.target,
            environment=params.get("environment", ""),
            namespace=params.get("namespace", ""),
            replica_change=whole(action.params.get("replica_change")),
            params=params,
        ).canonical()

    def label(self) -> str:
        params = " ".join(f"{k}={v}" for k, v in sorted(self.action.params.items()))
        return f"{self.action.action_type} {self.action.target}" + (f" {params}" if params else "")
