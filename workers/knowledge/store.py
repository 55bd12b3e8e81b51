"""Past incidents in Redis, so every worker sees the same knowledge.

Keys: `ic:kb:record:{id}` (the record as JSON), `ic:kb:ids` (a set), `ic:kb:hashes` (id → content
hash, to leave unchanged records alone), `ic:kb:changes` (a stream of id/op/hash, one entry per
change) and `ic:kb:version` (incremented per change), which the search index reads to refresh
incrementally. Each record is written in one MULTI/EXEC, so none is ever half-written.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import redis

from workers.knowledge.model import IncidentRecord
from workers.redisconn import as_text

IDS = "ic:kb:ids"
HASHES = "ic:kb:hashes"
CHANGES = "ic:kb:changes"
VERSION = "ic:kb:version"
READ_CHUNK = 1000


def record_key(record_id: str) -> str:
    return f"ic:kb:record:{record_id}"


def content_hash(record: IncidentRecord) -> str:
    """A digest of everything but `updated_at`: equal for a re-ingest of the same postmortem."""
    data = record.model_dump(mode="json", exclude={"updated_at"})
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@dataclass
class UpsertResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


class KnowledgeStore:
    def __init__(self, client: redis.Redis) -> None:
        self._r = client

    def upsert(self, records: Iterable[IncidentRecord]) -> UpsertResult:
        """Store new and changed records (the last of a repeated id wins), stamping `updated_at`.

        Raises `redis.RedisError` when a write fails: the records before it are stored, that one
        keeps its previous version, and calling again with the same records finishes the job."""
        latest = {r.id: r for r in records}
        ids = list(latest)
        known: list[Any] = list(self._r.hmget(HASHES, ids)) if ids else []
        result = UpsertResult()
        now = datetime.now(UTC)
        for record_id, old in zip(ids, known, strict=True):
            digest = content_hash(latest[record_id])
            if old is not None and as_text(old) == digest:
                result.unchanged.append(record_id)
                continue
            record = latest[record_id].model_copy(update={"updated_at": now})
            with self._r.pipeline(transaction=True) as tx:
                tx.set(record_key(record_id), record.model_dump_json())
                tx.sadd(IDS, record_id)
                tx.hset(HASHES, record_id, digest)
                self._log_change(tx, "upsert", record_id, digest)
                tx.execute()
            (result.created if old is None else result.updated).append(record_id)
        return result

    def delete(self, record_id: str) -> bool:
        """Remove a record; False when there was none."""
        if not self._r.sismember(IDS, record_id):
            return False
        with self._r.pipeline(transaction=True) as tx:
            tx.delete(record_key(record_id))
            tx.srem(IDS, record_id)
            tx.hdel(HASHES, record_id)
            self._log_change(tx, "delete", record_id, "")
            tx.execute()
        return True

    def get(self, record_id: str) -> IncidentRecord | None:
        raw = self._r.get(record_key(record_id))
        return IncidentRecord.model_validate_json(raw) if raw is not None else None

    def get_many(self, record_ids: list[str]) -> list[IncidentRecord | None]:
        """Records by id, in order (None where there is none), in one round trip."""
        raws = self._r.mget([record_key(r) for r in record_ids]) if record_ids else []
        return [IncidentRecord.model_validate_json(raw) if raw is not None else None for raw in raws]

    def ids(self) -> list[str]:
        return sorted(as_text(m) for m in self._r.smembers(IDS))

    def all(self) -> list[IncidentRecord]:
        """Every record, sorted by id, read in pipelined chunks."""
        return list(self.iter_records())

    def iter_records(self) -> Iterator[IncidentRecord]:
        """Every record, sorted by id, a chunk at a time in memory."""
        ids = self.ids()
        for start in range(0, len(ids), READ_CHUNK):
            with self._r.pipeline(transaction=False) as pipe:
                for record_id in ids[start : start + READ_CHUNK]:
                    pipe.get(record_key(record_id))
                raws = pipe.execute()
            yield from (IncidentRecord.model_validate_json(raw) for raw in raws if raw is not None)

    @property
    def client(self) -> redis.Redis:
        return self._r

    def last_change(self) -> str:
        """The id of the latest change in the stream ("0" when there is none)."""
        last = self._r.xrevrange(CHANGES, "+", "-", count=1)
        return as_text(last[0][0]) if last else "0"

    def version(self) -> int:
        """Incremented per change: equal versions mean nothing changed."""
        return int(self._r.get(VERSION) or 0)

    def changes_since(self, stream_id: str) -> tuple[list[tuple[str, str]], str]:
        """(op, id) for each change after `stream_id` ("0" for all), and the last stream id seen."""
        start = "-" if stream_id in ("", "0", "0-0") else f"({stream_id}"
        changes: list[tuple[str, str]] = []
        last = stream_id
        while True:
            entries = self._r.xrange(CHANGES, start, "+", count=READ_CHUNK) or []
            for entry_id, fields in entries:
                values = {as_text(k): as_text(v) for k, v in (fields or {}).items()}
                changes.append((values["op"], values["id"]))
                last = as_text(entry_id)
            if len(entries) < READ_CHUNK:
                return changes, last
            start = f"({last}"

    @staticmethod
    def _log_change(tx: redis.client.Pipeline, op: str, record_id: str, digest: str) -> None:
        tx.xadd(CHANGES, {"id": record_id, "op": op, "hash": digest})
        tx.incr(VERSION)
