"""Where a new alert incident lands: a channel where an incident for the service is already open,
else the first matching route's channel, else a channel the bot creates (named by the pattern, the
alert in its topic, the configured people invited)."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

import redis
import structlog
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from workers.alerts import slackcall
from workers.alerts.config import AlertRules
from workers.alerts.model import Alert
from workers.incidents import IncidentStore
from workers.redisconn import as_text

log = structlog.get_logger(__name__)
NAME_MAX = 80
TOPIC_MAX = 250


@dataclass(frozen=True)
class Landing:
    channel_id: str
    channel_name: str
    how: str  # "open incident", "route", "created"


def open_incident_channel(client: redis.Redis, incidents: IncidentStore, service: str) -> Landing | None:
    """A channel whose open incident is about `service` (as its triage recorded it)."""
    if not service:
        return None
    for pointer in client.scan_iter(match="ic:channel:*:incident", count=500):
        incident = incidents.get(as_text(client.get(pointer) or b""))
        if incident is None or incident.status != "open":
            continue
        if incidents.findings(incident.id)[1] == service:
            return Landing(incident.channel_id, incident.channel_name, "open incident")
    return None


def channel_name(rules: AlertRules, alert: Alert, service: str, now: datetime) -> str:
    raw = rules.new_channel.name_pattern.format(
        service=service or "unknown", alertname=alert.name, severity=alert.severity, date=f"{now:%Y%m%d}"
    )
    name = re.sub(r"[^a-z0-9_-]+", "-", raw.lower()).strip("-_")
    return (name or "inc-alert")[:NAME_MAX]


def create_channel(
    slack: WebClient, client: redis.Redis, rules: AlertRules, alert: Alert, service: str
) -> Landing:
    """A new public channel; a taken name gets a short random suffix."""
    base = channel_name(rules, alert, service, datetime.now(UTC))
    name = base
    for _ in range(5):
        try:
            created = slackcall.call(client, slack.conversations_create, name=name)
            break
        except SlackApiError as exc:
            if exc.response.get("error") != "name_taken":
                raise
            name = f"{base[: NAME_MAX - 5]}-{secrets.token_hex(2)}"
    else:
        raise RuntimeError(f"no free channel name like {base!r} after 5 tries")
    channel_id = str(created["channel"]["id"])
    summary = alert.annotations.get("summary", "")
    topic = f"{alert.severity} {alert.name}" + (f": {summary}" if summary and summary != alert.name else "")
    try:
        slackcall.call(client, slack.conversations_setTopic, channel=channel_id, topic=topic[:TOPIC_MAX])
        if invitees := rules.new_channel.invitees(service):
            slackcall.call(client, slack.conversations_invite, channel=channel_id, users=",".join(invitees))
    except SlackApiError as exc:  # the incident goes on without the topic or the invitations
        log.warning("channel set-up incomplete", channel=channel_id, error=exc.response.get("error"))
    return Landing(channel_id, name, "created")


def land(
    slack: WebClient,
    client: redis.Redis,
    incidents: IncidentStore,
    rules: AlertRules,
    alert: Alert,
    service: str,
) -> Landing:
    found = open_incident_channel(client, incidents, service)
    if found is not None:
        return found
    route = rules.route({**alert.labels, "severity": alert.severity})
    if route.channel:
        info = slackcall.call(client, slack.conversations_info, channel=route.channel)
        return Landing(route.channel, str(info["channel"].get("name", "")), "route")
    return create_channel(slack, client, rules, alert, service)
