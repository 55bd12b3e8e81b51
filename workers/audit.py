"""The audit trail: append-only Redis streams, one per incident and one for everything.

Every decision on an action goes here (shadowed, suggested, and later proposed, approved, denied,
executed) with who, when, the inputs, the policy file's hash, the budget state and novelty. Nothing
in the product edits or deletes an entry; `incident-copilot audit export` reads them out.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import redis

from workers.redisconn import as_text

GLOBAL = "ic:audit"
INCIDENT_MAX = 100_000  # entries kept per incident (approximately); the global stream is trimmed by age


def incident_key(incident_id: str) -> str:
    return f"ic:incident:{incident_id}:audit"


def record(client: redis.Redis, incident_id: str, kind: str, **fields: Any) -> None:
    entry: dict[Any, Any] = {
        "kind": kind,
        "incident": incident_id,
        "at": datetime.now(UTC).isoformat(),
        **{k: v if isinstance(v, str) else json.dumps(v) for k, v in fields.items()},
    }
    with client.pipeline(transaction=True) as tx:
        if incident_id:  # an entry about no known incident (a forged button, say) is global only
            tx.xadd(incident_key(incident_id), entry, maxlen=INCIDENT_MAX, approximate=True)
        tx.xadd(GLOBAL, entry)
        tx.execute()


def export(client: redis.Redis, since: datetime | None = None, chunk: int = 1000) -> Iterator[dict[str, str]]:
    """Every global entry at or after `since`, oldest first."""
    start = f"{int(since.timestamp() * 1000)}-0" if since else "-"
    while True:
        entries = client.xrange(GLOBAL, start, "+", count=chunk) or []
        for entry_id, fields in entries:
            yield {"id": as_text(entry_id), **{as_text(k): as_text(v) for k, v in (fields or {}).items()}}
        if len(entries) < chunk:
            return
        start = f"({as_text(entries[-1][0])}"
