"""What the alert pipeline keeps in Redis: which incident each fingerprint and each group belongs
to, every incident's alerts with their state, and when its alert board was last edited."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import redis

from workers.alerts.model import Alert
from workers.redisconn import as_text

P = "ic:alerts:"
FINGERPRINT_TTL_S = 7 * 86400
STORM_GROUP = "storm"


@dataclass(frozen=True)
class AlertIncident:
    id: str
    channel_id: str
    service: str
    board_ts: str
    last_at: float
    board_at: float
    prompted: bool
    triage: str


class AlertBook:
    def __init__(self, client: redis.Redis) -> None:
        self._r = client

    # -- where alerts belong ---------------------------------------------------------------------

    def incident_of_fingerprint(self, key: str) -> str | None:
        found = self._r.get(P + "fp:" + key)
        return as_text(found) if found else None

    def incidents_of_fingerprints(self, keys: list[str]) -> list[str | None]:
        found = self._r.mget([P + "fp:" + k for k in keys]) if keys else []
        return [as_text(f) if f else None for f in found]

    def incident_of_group(self, group: str) -> str | None:
        found = self._r.get(P + "group:" + group)
        return as_text(found) if found else None

    def incident(self, incident_id: str) -> AlertIncident | None:
        raw = {as_text(k): as_text(v) for k, v in (self._r.hgetall(P + "inc:" + incident_id) or {}).items()}
        if not raw:
            return None
        return AlertIncident(
            id=incident_id,
            channel_id=raw.get("channel", ""),
            service=raw.get("service", ""),
            board_ts=raw.get("board_ts", ""),
            last_at=float(raw.get("last_at", 0)),
            board_at=float(raw.get("board_at", 0)),
            prompted=raw.get("prompted") == "1",
            triage=raw.get("triage", ""),
        )

    def register(
        self, incident_id: str, group: str, channel_id: str, service: str, board_ts: str, triage: str
    ) -> None:
        with self._r.pipeline(transaction=True) as pipe:
            pipe.hset(
                P + "inc:" + incident_id,
                mapping={"channel": channel_id, "service": service, "board_ts": board_ts, "group": group,
                         "triage": triage, "last_at": time.time(), "board_at": time.time()},
            )  # fmt: skip
            pipe.set(P + "group:" + group, incident_id)
            pipe.sadd(P + "incidents", incident_id)
            pipe.zadd(P + "opens", {incident_id: time.time()})
            pipe.execute()

    def point_group(self, group: str, incident_id: str) -> None:
        self._r.set(P + "group:" + group, incident_id)

    def opened_since(self, seconds: float) -> int:
        return int(self._r.zcount(P + "opens", time.time() - seconds, "+inf"))

    def incidents(self) -> list[str]:
        return sorted(as_text(i) for i in self._r.smembers(P + "incidents") or ())

    # -- the alerts of an incident ----------------------------------------------------------------

    def attach(self, incident_id: str, alert: Alert, service: str) -> str:
        return self.attach_many([(incident_id, alert, service)])[0]

    def attach_many(self, items: list[tuple[str, Alert, str]]) -> list[str]:
        """Record each alert on its incident, in order, in two round trips: "new" the first time its
        fingerprint is seen there, "deduplicated" when nothing changed, "changed" when its status
        (or its source's state word) changed."""
        if not items:
            return []
        slots = [(P + "inc:" + incident_id + ":alerts", alert.key) for incident_id, alert, _ in items]
        with self._r.pipeline(transaction=False) as pipe:
            for key, field in slots:
                pipe.hget(key, field)
            befores = pipe.execute()
        current: dict[tuple[str, str], dict[str, Any]] = {}
        for slot, before in zip(slots, befores, strict=True):
            current.setdefault(slot, json.loads(as_text(before)) if before else {})
        outcomes = []
        for slot, (_, alert, service) in zip(slots, items, strict=True):
            entry = current[slot]
            outcome = (
                "new" if not entry else ("changed" if entry["status"] != alert.status else "deduplicated")
            )
            if outcome != "deduplicated":
                entry.update(
                    name=alert.name, status=alert.status, severity=alert.severity, service=service,
                    starts_at=alert.starts_at.isoformat(), note=alert.note, links=alert.links(),
                    summary=alert.annotations.get("summary", "")[:300],
                    transitions=int(entry.get("transitions", -1)) + 1, answered_at=None,
                )  # fmt: skip
                entry.setdefault("received_at", alert.received_at.timestamp())
                entry["changed_at"] = alert.received_at.timestamp()
            elif alert.note and alert.note != entry.get("note"):
                entry["note"], outcome = alert.note, "changed"
            outcomes.append(outcome)
        now = time.time()
        with self._r.pipeline(transaction=False) as pipe:
            for (key, field), entry in current.items():
                pipe.hset(key, field, json.dumps(entry))
            for incident_id, alert, _ in items:
                pipe.set(P + "fp:" + alert.key, incident_id, ex=FINGERPRINT_TTL_S)
            for incident_id in {i for i, _, _ in items}:
                pipe.hset(P + "inc:" + incident_id, "last_at", now)
                pipe.sadd(P + "dirty", incident_id)
            pipe.execute()
        return outcomes

    def alerts(self, incident_id: str) -> dict[str, dict[str, Any]]:
        raw = self._r.hgetall(P + "inc:" + incident_id + ":alerts") or {}
        return {as_text(k): json.loads(as_text(v)) for k, v in raw.items()}

    def mark_answered(
        self, incident_id: str, at: float, entries: dict[str, dict[str, Any]] | None = None
    ) -> list[float]:
        """Stamp the alerts the board now shows (`entries`, default all) for the first time;
        returns their waits in seconds."""
        key = P + "inc:" + incident_id + ":alerts"
        waits, updates = [], {}
        for fp, entry in (self.alerts(incident_id) if entries is None else entries).items():
            if entry.get("answered_at") is None:
                entry["answered_at"] = at
                waits.append(max(0.0, at - float(entry["changed_at"])))
                updates[fp] = json.dumps(entry)
        if updates:
            self._r.hset(key, mapping=updates)  # type: ignore[arg-type]
        self._r.hset(P + "inc:" + incident_id, "board_at", at)
        return waits

    def dirty(self) -> list[str]:
        return sorted(as_text(i) for i in self._r.smembers(P + "dirty") or ())

    def clean(self, incident_id: str) -> None:
        self._r.srem(P + "dirty", incident_id)

    def mark_dirty(self, incident_id: str) -> None:
        self._r.sadd(P + "dirty", incident_id)

    def set_prompted(self, incident_id: str, prompted: bool) -> None:
        """Mark that the resolve prompt was posted (or, alerts firing again, that it may be again)."""
        key = P + "inc:" + incident_id
        if prompted:
            self._r.hset(key, "prompted", "1")
        else:
            self._r.hdel(key, "prompted")
