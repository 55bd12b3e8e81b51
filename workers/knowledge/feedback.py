"""Labels from Slack ("same cause" / "not related") that move a past incident up or down in later searches."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import redis

FEEDBACK_SAME = 0.15  # per net "same cause" label
FEEDBACK_NOT = -0.3  # per net "not related" label
FEEDBACK_BOUNDS = (-0.6, 0.3)
FEEDBACK_PREFIX = "ic:kb:feedback:"
LABELS = {"same cause": 1, "not related": -1}


class FeedbackStore:
    """ "same cause" / "not related" labels per (incident type, record), one per user, in Redis."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    @staticmethod
    def key(incident_type: str, record_id: str) -> str:
        return f"{FEEDBACK_PREFIX}{incident_type or 'unknown'}:{record_id}"

    def record(self, incident_type: str, record_id: str, label: str, user: str = "") -> None:
        """Store a label; a user's later label replaces their earlier one, anonymous ones all count."""
        if label not in LABELS:
            raise ValueError(f"unknown feedback label {label!r}")
        self.client.hset(self.key(incident_type, record_id), user or f"anon:{uuid.uuid4().hex}", label)

    def adjustments(self, incident_type: str, record_ids: Sequence[str]) -> dict[str, float]:
        """The bounded score adjustment of each record, from its net labels (one round trip)."""
        pipe = self.client.pipeline(transaction=False)
        for rid in record_ids:
            pipe.hvals(self.key(incident_type, rid))
        out: dict[str, float] = {}
        for rid, labels in zip(record_ids, pipe.execute(), strict=True):
            net = sum(LABELS.get(v.decode() if isinstance(v, bytes) else str(v), 0) for v in labels)
            adj = net * (FEEDBACK_SAME if net > 0 else -FEEDBACK_NOT)
            out[rid] = min(FEEDBACK_BOUNDS[1], max(FEEDBACK_BOUNDS[0], adj))
        return out

    def adjustment(self, incident_type: str, record_id: str) -> float:
        return self.adjustments(incident_type, [record_id])[record_id]
