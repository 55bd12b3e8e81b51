"""Per-incident state in Redis: which channels are incident channels, the open incident of each,
and the channel messages received through the Events API (the timeline's raw material)."""

from __future__ import annotations

import fnmatch
import hashlib
import json
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import redis

from workers.models import Incident
from workers.redaction import EgressRecord
from workers.redisconn import as_text

PREFIX = "ic:"
EVENT_DEDUP_TTL_S = 3600
MESSAGES_MAX = 10_000
NAME_CACHE_TTL_S = 3600
EGRESS_MAX = 100_000


def _k(*parts: str) -> str:
    return PREFIX + ":".join(parts)


class IncidentStore:
    def __init__(self, client: redis.Redis, channel_pattern: str) -> None:
        self._r = client
        self._pattern = channel_pattern

    def is_incident_channel(self, channel_id: str, channel_name: str | None) -> bool:
        """Named like an incident channel, or a channel where `/triage` ran."""
        if channel_name and fnmatch.fnmatchcase(channel_name, self._pattern):
            return True
        return bool(self._r.sismember(_k("incident_channels"), channel_id))

    def channel_name(self, channel_id: str, lookup: Callable[[], str | None]) -> str | None:
        """The channel's name from a short-lived cache, else from `lookup` (a Slack call)."""
        key = _k("channel", channel_id, "name")
        if cached := self._r.get(key):
            return as_text(cached)
        name = lookup()
        if name:
            self._r.set(key, name, ex=NAME_CACHE_TTL_S)
        return name

    def open_or_get(self, channel_id: str, channel_name: str, requester: str, now: datetime) -> Incident:
        """The channel's open incident, or a new one; safe when two commands race."""
        pointer = _k("channel", channel_id, "incident")
        for _ in range(3):
            current = self._r.get(pointer)
            if current is not None and (incident := self.get(as_text(current))) and incident.status == "open":
                return incident
            incident = Incident(
                id=f"INC-{now.astimezone(UTC):%Y%m%d}-{secrets.token_hex(3)}",
                channel_id=channel_id,
                channel_name=channel_name,
                started_at=now,
                requester=requester,
            )
            with self._r.pipeline() as pipe:
                try:
                    pipe.watch(pointer)  # type: ignore[no-untyped-call]
                    if pipe.get(pointer) != current:
                        continue
                    pipe.multi()
                    pipe.set(pointer, incident.id)
                    pipe.hset(_k("incident", incident.id), mapping=_to_hash(incident))  # type: ignore[arg-type]
                    pipe.sadd(_k("incident_channels"), channel_id)
                    pipe.execute()
                    return incident
                except redis.WatchError:
                    continue
        raise redis.RedisError(f"could not open an incident for {channel_id}: too much contention")

    def get(self, incident_id: str) -> Incident | None:
        raw = self._r.hgetall(_k("incident", incident_id))
        if not raw:
            return None
        return Incident.model_validate({as_text(k): as_text(v) for k, v in raw.items()})

    def current_for(self, channel_id: str) -> Incident | None:
        pointer = self._r.get(_k("channel", channel_id, "incident"))
        return self.get(as_text(pointer)) if pointer else None

    def record_message(self, incident_id: str, event_id: str, message: dict[str, str]) -> bool:
        """Append a channel message once per Slack event id (Slack retries deliveries); an event
        without an id is known by a hash of its incident and content, never by a shared key."""
        if not event_id:
            content = json.dumps([incident_id, message], sort_keys=True).encode()
            event_id = "sha256-" + hashlib.sha256(content).hexdigest()
        if not self._r.set(_k("event", event_id), 1, nx=True, ex=EVENT_DEDUP_TTL_S):
            return False
        fields: dict[Any, Any] = dict(message)
        self._r.xadd(_k("incident", incident_id, "messages"), fields, maxlen=MESSAGES_MAX)
        return True

    def messages(self, incident_id: str) -> list[dict[str, str]]:
        entries = self._r.xrange(_k("incident", incident_id, "messages")) or []
        return [{as_text(k): as_text(v) for k, v in (fields or {}).items()} for _id, fields in entries]

    def record_egress(self, incident_id: str, record: EgressRecord) -> None:
        """Append to the incident's and the global egress log: where evidence went, what was masked."""
        fields = _egress_fields(record)
        with self._r.pipeline(transaction=False) as pipe:
            pipe.xadd(_k("incident", incident_id, "egress"), fields, maxlen=MESSAGES_MAX)
            pipe.xadd(_k("egress"), {**fields, "incident": incident_id}, maxlen=EGRESS_MAX, approximate=True)
            pipe.execute()

    def egress(self, incident_id: str) -> list[dict[str, str]]:
        entries = self._r.xrange(_k("incident", incident_id, "egress")) or []
        return [{as_text(k): as_text(v) for k, v in (fields or {}).items()} for _id, fields in entries]

    def resolve(self, incident_id: str, by: str, at: datetime, summary: str = "") -> Incident | None:
        """Mark the incident resolved (the first resolution time is kept; a later summary replaces an
        earlier one). The channel's next `/triage` opens a new incident."""
        key = _k("incident", incident_id)
        if not self._r.exists(key):
            return None
        self._r.hsetnx(key, "resolved_at", at.isoformat())
        fields = {"status": "resolved", "resolved_by": by} | ({"resolution": summary} if summary else {})
        self._r.hset(key, mapping=fields)  # type: ignore[arg-type]
        return self.get(incident_id)

    def record_findings(self, incident_id: str, symptom: str, service: str, signature: list[str]) -> None:
        """What triage saw, for the postmortem: the first symptom, the service, new log templates."""
        key = _k("incident", incident_id, "findings")
        if symptom:
            self._r.hsetnx(key, "symptom", symptom)
        if service:
            self._r.hsetnx(key, "service", service)
        if signature:
            self._r.sadd(_k("incident", incident_id, "signature"), *signature)

    def findings(self, incident_id: str) -> tuple[str, str, list[str]]:
        """(symptom, service, log signature) as recorded by triage runs."""
        raw = {
            as_text(k): as_text(v)
            for k, v in (self._r.hgetall(_k("incident", incident_id, "findings")) or {}).items()
        }
        signature = sorted(
            as_text(t) for t in self._r.smembers(_k("incident", incident_id, "signature")) or ()
        )
        return raw.get("symptom", ""), raw.get("service", ""), signature

    def record_triage(self, incident_id: str, run_id: str, message_ts: str) -> None:
        self._r.rpush(_k("incident", incident_id, "triages"), f"{run_id} {message_ts}")

    def triages(self, incident_id: str) -> list[tuple[str, str]]:
        rows = self._r.lrange(_k("incident", incident_id, "triages"), 0, -1)
        pairs = [as_text(r).split(" ", 1) for r in rows]
        return [(run_id, ts) for run_id, ts in pairs]


def _egress_fields(record: EgressRecord) -> dict[Any, Any]:
    return {
        "url": record.url, "host": record.host, "purpose": record.purpose, "at": record.at.isoformat(),
        "masked": json.dumps(record.masked, sort_keys=True), "bytes": record.bytes_sent,
    }  # fmt: skip


def _to_hash(incident: Incident) -> dict[str, str]:
    fields = incident.model_dump(exclude_none=True)
    return {k: v.isoformat() if isinstance(v, datetime) else str(v) for k, v in fields.items()}
