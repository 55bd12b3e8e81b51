"""Alerts to incidents: each alert joins the incident its fingerprint already belongs to, else its
group's incident (same values of the grouping labels, last alert within the window), else opens a
new one (at most `new_incidents` per storm window; beyond that one storm incident takes them). The
alert board of each changed incident is edited at most once per `board_update_seconds` and within
an overall budget of Slack writes; whatever that defers is folded into the next edit, and a drain
ends only when every board shows every alert."""

from __future__ import annotations

import secrets
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from slack_sdk.errors import SlackApiError

from workers import metrics
from workers.alerts import autotriage, inbox, slackcall
from workers.alerts.config import AlertRules
from workers.alerts.landing import land
from workers.alerts.model import Alert
from workers.alerts.store import STORM_GROUP, AlertBook
from workers.models import TriageRequest, Window
from workers.queue import enqueue_triage
from workers.runtime import Runtime
from workers.slack import alert_blocks
from workers.slack.blocks import context, section
from workers.slack.neutral import neutralize

log = structlog.get_logger(__name__)
BATCH = 200
SETTLE_S = 0.5
STORM_SERVICE = "alert-storm"


class Pipeline:
    def __init__(self, rt: Runtime, rules: AlertRules, run_id: str) -> None:
        self.rt, self.rules, self.run_id = rt, rules, run_id
        self.r = rt.redis.client
        self.book = AlertBook(self.r)
        self.outcomes: Counter[str] = Counter()

    def drain(self, keepalive: Callable[[], object] = lambda: None) -> Counter[str]:
        """Handle every alert in the inbox and bring every board up to date, each when it is due
        (`keepalive` is called between rounds: it renews the drain lock)."""
        while True:
            while batch := inbox.take(self.r, BATCH):
                self._begin(batch)
                for alert in batch:
                    self.handle(alert)
                for (*_, how), outcome in zip(
                    self._pending, self.book.attach_many([p[:3] for p in self._pending]), strict=True
                ):
                    self._count(how if outcome == "new" else outcome)
                inbox.done(self.r, len(batch))
                for outcome, count in self._counted.items():
                    metrics.inc(self.r, "alerts", count, outcome=outcome)
                self.refresh(patient=False)
                keepalive()
            if failed := self.refresh(patient=True):  # the job's retry edits them
                raise RuntimeError(f"alert boards not edited: {', '.join(failed)}")
            if not self.book.dirty():
                return self.outcomes
            time.sleep(SETTLE_S)  # boards edited recently wait until they are due
            keepalive()

    # -- grouping ----------------------------------------------------------------------------------

    def _begin(self, batch: list[Alert]) -> None:
        """Per-batch lookups: the batch's fingerprints in one round trip, and caches of what the
        batch itself keeps up to date (which incident a group has, which incidents are open)."""
        keys = [a.key for a in batch]
        self._fingerprints = dict(zip(keys, self.book.incidents_of_fingerprints(keys), strict=True))
        self._groups: dict[str, str | None] = {}
        self._is_open: dict[str, bool] = {}
        self._last_at: dict[str, float] = {}
        self._counted: Counter[str] = Counter()
        self._pending: list[tuple[str, Alert, str, str]] = []  # (incident, alert, service, how)

    def handle(self, alert: Alert) -> None:
        service = alert.service(self.rules.grouping.service_labels)
        incident_id = self._fingerprints.get(alert.key)
        how = "known"
        if incident_id is None or not self._open(incident_id):
            group = self._group(alert, service)
            if group not in self._groups:
                self._groups[group] = self.book.incident_of_group(group)
            incident_id = self._groups[group]
            how = "grouped"
            if incident_id is None or not self._open(incident_id, self.rules.grouping.window_minutes):
                if alert.status == "resolved":  # nothing open to resolve: noted, not opened
                    self._count("unmatched")
                    return
                incident_id = self._open_for(alert, service, group)
                self._groups.pop(group, None)
                self._groups.pop(STORM_GROUP, None)
                if incident_id is None:  # opened with this alert on it
                    self._count("opened")
                    self._fingerprints.pop(alert.key, None)
                    return
        self._pending.append((incident_id, alert, service, how))  # attached together at the batch's end
        self._fingerprints[alert.key] = incident_id
        self._last_at[incident_id] = time.time()

    def _group(self, alert: Alert, service: str) -> str:
        values = [service if k == "service" else alert.labels.get(k, "") for k in self.rules.grouping.by]
        return "|".join(values) or alert.key

    def _open(self, incident_id: str, window_minutes: int | None = None) -> bool:
        if incident_id not in self._is_open:
            incident = self.rt.incidents.get(incident_id)
            self._is_open[incident_id] = incident is not None and incident.status == "open"
        if not self._is_open[incident_id]:
            return False
        if window_minutes is None:
            return True
        if incident_id not in self._last_at:
            known = self.book.incident(incident_id)
            self._last_at[incident_id] = known.last_at if known is not None else 0.0
        return self._last_at[incident_id] >= time.time() - window_minutes * 60

    def _open_for(self, alert: Alert, service: str, group: str) -> str | None:
        """The incident to join (the storm's, or the landing channel's own), or None when a new one
        was opened with the alert on it."""
        limits = self.rules.rate_limits
        if self.book.opened_since(limits.storm_window_minutes * 60) >= limits.new_incidents:
            storm = self.book.incident_of_group(STORM_GROUP)
            if storm is not None and self._open(storm, limits.storm_window_minutes):
                self.book.point_group(group, storm)
                return storm
            group, service = STORM_GROUP, STORM_SERVICE
        landing = land(self.rt.slack, self.r, self.rt.incidents, self.rules, alert, service)
        incident = self.rt.incidents.open_or_get(
            landing.channel_id, landing.channel_name, alert.source, datetime.now(UTC)
        )
        if self.book.incident(incident.id) is not None:  # the channel's incident takes alerts already
            self.book.point_group(group, incident.id)
            return incident.id
        self.book.attach(incident.id, alert, service)
        decision = autotriage.audited(
            self.r, self.rt.ladder, incident.id, self.run_id, alert.severity, service
        )
        note = decision.describe()
        if group == STORM_GROUP:
            note = (
                f"alert storm: {limits.new_incidents} incidents opened within "
                f"{limits.storm_window_minutes} min, so further alerts are grouped here. {note}"
            )
        text, blocks = alert_blocks.board(
            service, incident.id, list(self.book.alerts(incident.id).values()), self.zone, note
        )
        posted = slackcall.call(
            self.r, self.rt.slack.chat_postMessage, channel=incident.channel_id, text=text, blocks=blocks
        )
        self.book.register(incident.id, group, incident.channel_id, service, str(posted["ts"]), note)
        self._answered(incident.id)
        log.info(
            "alert incident opened", incident=incident.id, channel=incident.channel_id, landing=landing.how
        )
        if decision.run and not self.rt.incidents.triages(incident.id):
            self._triage(
                incident.id, incident.channel_id, landing.channel_name, alert, service, decision.max_level
            )
        return None

    def _triage(
        self, incident_id: str, channel_id: str, channel_name: str, alert: Alert, service: str, level: Any
    ) -> None:
        run_id = f"alert-{secrets.token_hex(6)}"
        now = datetime.now(UTC)
        start = min(alert.starts_at, now - timedelta(minutes=1)) - timedelta(
            minutes=self.rules.triage_lead_minutes
        )
        text = triage_text(alert, service)
        since = f"{start.astimezone(ZoneInfo(self.zone)):%H:%M} {self.zone}"
        placeholder = f"Automatic triage of {alert.name}: gathering context from {since}…"
        posted = slackcall.call(
            self.r, self.rt.slack.chat_postMessage, channel=channel_id, text=placeholder,
            blocks=[section(f":mag: {neutralize(placeholder)}"), context(f"run id `{run_id}`")],
        )  # fmt: skip
        window = Window(start=start, end=now, phrase="from the alert")
        request = TriageRequest(
            run_id=run_id, incident_id=incident_id, team_id="", channel_id=channel_id,
            channel_name=channel_name, requester_id=alert.source, text=text, window=window,
            placeholder_ts=str(posted["ts"]), requested_at=now, max_level=level,
        )  # fmt: skip
        enqueue_triage(self.r, request)
        self.rt.incidents.record_triage(incident_id, run_id, request.placeholder_ts)

    # -- the boards --------------------------------------------------------------------------------

    @property
    def zone(self) -> str:
        return self.rt.settings.incident.timezone

    def refresh(self, *, patient: bool) -> list[str]:
        """Edit the boards that are due, within the overall budget of writes; returns the incidents
        whose board Slack would not take. Mid-drain (not `patient`), Slack's first "slow down"
        defers every edit to the next round rather than holding up the alerts behind it."""
        limits = self.rules.rate_limits
        failed = []
        for incident_id in self.book.dirty():
            known = self.book.incident(incident_id)
            if known is None or not known.board_ts:
                self.book.clean(incident_id)
                continue
            if time.time() - known.board_at < limits.board_update_seconds:
                continue
            if not slackcall.may_write(self.r, limits.slack_writes_per_minute):
                break
            attempts = slackcall.ATTEMPTS if patient else 1
            try:
                self._edit(
                    incident_id, known.channel_id, known.board_ts, known.service, known.triage, attempts
                )
            except SlackApiError as exc:
                error = exc.response.get("error")
                log.warning("alert board not edited", incident=incident_id, error=error)
                if error != "ratelimited":  # gone or archived: waiting will not bring it back
                    continue
                self.book.mark_dirty(incident_id)  # the next edit carries it
                failed.append(incident_id)
                if not patient:
                    break
        return failed if patient else []

    def _edit(
        self, incident_id: str, channel: str, board_ts: str, service: str, note: str, attempts: int
    ) -> None:
        self.book.clean(incident_id)
        entries = self.book.alerts(incident_id)
        text, blocks = alert_blocks.board(service, incident_id, list(entries.values()), self.zone, note)
        slack, r = self.rt.slack, self.r
        slackcall.call(r, slack.chat_update, attempts, channel=channel, ts=board_ts, text=text, blocks=blocks)
        fresh = [e for e in entries.values() if e.get("answered_at") is None and e["status"] == "resolved"]
        if fresh:
            text, blocks = alert_blocks.resolved(fresh)
            slackcall.call(
                r,
                slack.chat_postMessage,
                attempts,
                channel=channel,
                thread_ts=board_ts,
                text=text,
                blocks=blocks,
            )
        self._answered(incident_id, entries)
        firing = sum(e["status"] == "firing" for e in entries.values())
        known = self.book.incident(incident_id)
        if firing == 0 and known is not None and not known.prompted:
            text, blocks = alert_blocks.resolve_prompt(incident_id, len(entries))
            slackcall.call(r, slack.chat_postMessage, attempts, channel=channel, text=text, blocks=blocks)
            self.book.set_prompted(incident_id, True)
        elif firing:
            self.book.set_prompted(incident_id, False)

    def _answered(self, incident_id: str, entries: dict[str, dict[str, Any]] | None = None) -> None:
        waits = self.book.mark_answered(incident_id, time.time(), entries)
        metrics.observe_many(self.r, "alert_first_answer_seconds", waits)

    def _count(self, outcome: str) -> None:
        self.outcomes[outcome] += 1
        self._counted[outcome] += 1


def triage_text(alert: Alert, service: str) -> str:
    """What the triage reads: the alert's name, service, summary, description and labels."""
    notes = " ".join(
        alert.annotations.get(k, "")
        for k in ("summary", "description", "message")
        if alert.annotations.get(k)
    )
    labels = " ".join(f"{k}={v}" for k, v in sorted(alert.labels.items()) if k not in ("alertname",))
    return f"{service} alert {alert.name} ({alert.severity}): {notes} [{labels}]"[:1000]
