"""The search index as a snapshot in Redis, so a new process (the CLI, a restarted worker) loads the
postings instead of re-reading and re-tokenizing every record, then applies the changes since.

Key `ic:kb:index` (a hash): `meta` (JSON: format, the change-stream id it includes, documents),
`docs` (JSON rows per document), `text` and `sig` (the postings' arrays). Written after a full build
and then every EVERY_CHANGES changes by whichever process applied them; any copy is consistent with
its stream id, so the last writer winning is fine.
"""

from __future__ import annotations

import json
from typing import Any

KEY = "ic:kb:index"
FORMAT = 2
EVERY_CHANGES = 1000


def _client(store: Any) -> Any:
    return getattr(store, "client", None)


def read(store: Any) -> dict[str, bytes] | None:
    """The snapshot's fields, or None when there is none (or not in this format)."""
    client = _client(store)
    if client is None:
        return None
    raw = client.hgetall(KEY)
    if not raw:
        return None
    data = {(k.decode() if isinstance(k, bytes) else k): v for k, v in raw.items()}
    meta = json.loads(data.get("meta", b"{}"))
    return data if meta.get("format") == FORMAT else None


def write(store: Any, fields: dict[str, bytes | str]) -> None:
    client = _client(store)
    if client is not None:
        client.hset(KEY, mapping=fields)
