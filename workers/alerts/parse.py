"""Webhook bodies → `Alert`s: Alertmanager's v4 payload, PagerDuty's V3 webhook events, and generic
JSON through a configured mapping. A body that is not what the receiver reads raises
`AlertPayloadError` naming what is wrong."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from workers.alerts.config import GenericMapping
from workers.alerts.model import Alert
from workers.errors import AlertPayloadError

PAGERDUTY_EVENTS = {
    "incident.triggered": "firing",
    "incident.acknowledged": "firing",
    "incident.unacknowledged": "firing",
    "incident.escalated": "firing",
    "incident.reopened": "firing",
    "incident.resolved": "resolved",
}
MAX_ALERTS = 1000


def body_json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise AlertPayloadError(f"the body is not JSON ({exc}); send Content-Type application/json") from None


def _time(value: Any, field: str) -> datetime:
    if not isinstance(value, str) or not value:
        raise AlertPayloadError(f"{field} is missing; it must be an RFC 3339 time")
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise AlertPayloadError(f"{field} {value[:40]!r} is not an RFC 3339 time") from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _strings(value: Any, field: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise AlertPayloadError(f"{field} must be an object of strings")
    return {str(k): str(v) for k, v in value.items()}


def alertmanager(data: Any, now: datetime) -> list[Alert]:
    """Alertmanager's webhook payload, version 4: every alert of the group, firing or resolved."""
    if not isinstance(data, dict) or not isinstance(data.get("alerts"), list):
        raise AlertPayloadError("not an Alertmanager webhook payload: no `alerts` list")
    if str(data.get("version", "4")) != "4":
        raise AlertPayloadError(
            f"Alertmanager payload version {data.get('version')!r}; this receiver reads 4"
        )
    if len(data["alerts"]) > MAX_ALERTS:
        raise AlertPayloadError(
            f"{len(data['alerts'])} alerts in one payload; at most {MAX_ALERTS} (set max_alerts)"
        )
    common = _strings(data.get("commonLabels"), "commonLabels")
    out = []
    for i, raw in enumerate(data["alerts"]):
        if not isinstance(raw, dict):
            raise AlertPayloadError(f"alerts[{i}] is not an object")
        labels = {**common, **_strings(raw.get("labels"), f"alerts[{i}].labels")}
        status = raw.get("status")
        if status not in ("firing", "resolved"):
            raise AlertPayloadError(f"alerts[{i}].status {status!r}: must be firing or resolved")
        fingerprint = str(raw.get("fingerprint") or "") or _fingerprint(labels)
        ends = raw.get("endsAt")
        out.append(
            Alert(
                source="alertmanager",
                fingerprint=fingerprint,
                status=status,
                labels=labels,
                annotations=_strings(raw.get("annotations"), f"alerts[{i}].annotations"),
                starts_at=_time(raw.get("startsAt"), f"alerts[{i}].startsAt"),
                ends_at=_time(ends, f"alerts[{i}].endsAt") if status == "resolved" and ends else None,
                generator_url=str(raw.get("generatorURL") or ""),
                received_at=now,
            )
        )
    return out


def _fingerprint(labels: dict[str, str]) -> str:
    import hashlib

    return hashlib.sha256(json.dumps(labels, sort_keys=True).encode()).hexdigest()[:16]


def pagerduty(data: Any, now: datetime) -> list[Alert]:
    """A PagerDuty V3 webhook event; incident events become one alert keyed by the incident id, other
    event types (pings, notes) none."""
    event = data.get("event") if isinstance(data, dict) else None
    if not isinstance(event, dict) or not isinstance(event.get("event_type"), str):
        raise AlertPayloadError("not a PagerDuty V3 webhook: no `event.event_type`")
    kind = event["event_type"]
    status = PAGERDUTY_EVENTS.get(kind)
    if status is None:
        return []
    incident = event.get("data")
    if not isinstance(incident, dict) or not incident.get("id"):
        raise AlertPayloadError(f"{kind} without `event.data.id` (the incident)")
    service = incident.get("service")
    service = service if isinstance(service, dict) else {}
    priority = incident.get("priority")
    priority = priority if isinstance(priority, dict) else {}
    labels = {
        "alertname": str(incident.get("title") or "PagerDuty incident")[:200],
        "service": str(service.get("summary") or ""),
        "severity": str(priority.get("summary") or incident.get("urgency") or ""),
        "urgency": str(incident.get("urgency") or ""),
    }
    return [
        Alert(
            source="pagerduty",
            fingerprint=str(incident["id"]),
            status=status,  # type: ignore[arg-type]
            labels={k: v for k, v in labels.items() if v},
            annotations={"summary": str(incident.get("title") or "")} if incident.get("title") else {},
            starts_at=_time(incident.get("created_at") or event.get("occurred_at"), "event.data.created_at"),
            ends_at=_time(event.get("occurred_at"), "event.occurred_at") if status == "resolved" else None,
            generator_url=str(incident.get("html_url") or ""),
            received_at=now,
            note=kind.removeprefix("incident."),
        )
    ]


def _path(data: Any, path: str) -> Any:
    for step in path.split(".") if path else []:
        if isinstance(data, dict):
            data = data.get(step)
        elif isinstance(data, list) and step.isdigit() and int(step) < len(data):
            data = data[int(step)]
        else:
            return None
    return data


def generic(name: str, mapping: GenericMapping, data: Any, now: datetime) -> list[Alert]:
    """A configured source's JSON, each field read at its mapped path."""
    items = _path(data, mapping.alerts) if mapping.alerts else [data]
    if not isinstance(items, list):
        raise AlertPayloadError(f"{name}: `{mapping.alerts}` is not a list of alerts")
    if len(items) > MAX_ALERTS:
        raise AlertPayloadError(f"{name}: {len(items)} alerts in one payload; at most {MAX_ALERTS}")
    resolved = {v.lower() for v in mapping.resolved_values}
    out = []
    for i, item in enumerate(items):
        fingerprint = _path(item, mapping.fingerprint)
        if fingerprint in (None, ""):
            raise AlertPayloadError(
                f"{name}: alert {i} has nothing at `{mapping.fingerprint}` (its fingerprint)"
            )
        labels = _strings(_path(item, mapping.labels), f"{name}: {mapping.labels}") if mapping.labels else {}
        for label, path in (
            ("alertname", mapping.alertname),
            ("service", mapping.service),
            ("severity", mapping.severity),
        ):
            value = _path(item, path) if path else None
            if value not in (None, ""):
                labels[label] = str(value)
        annotations = (
            _strings(_path(item, mapping.annotations), f"{name}: {mapping.annotations}")
            if mapping.annotations
            else {}
        )
        for name_, path_ in (("summary", mapping.summary), ("dashboard_url", mapping.dashboard)):
            value = _path(item, path_) if path_ else None
            if value:
                annotations.setdefault(name_, str(value))
        starts = _path(item, mapping.starts_at) if mapping.starts_at else None
        state = str(_path(item, mapping.status) or "").lower()
        out.append(
            Alert(
                source=f"generic:{name}",
                fingerprint=str(fingerprint),
                status="resolved" if state in resolved else "firing",
                labels=labels,
                annotations=annotations,
                starts_at=_time(starts, f"{name}: {mapping.starts_at}") if starts else now,
                generator_url=str(_path(item, mapping.url) or "") if mapping.url else "",
                received_at=now,
            )
        )
    return out
