"""Block Kit for alerts in an incident channel: the alert board (edited in place as alerts arrive),
a resolved alert, and the question whether to resolve the incident. Alert text is untrusted: it is
neutralised (no mentions, no markup) and links are shown only for http(s) URLs."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from workers.slack import ids
from workers.slack.blocks import Block, button, clip, context, section
from workers.slack.neutral import link, neutralize

SHOWN = 10
RESOLVED_NAMED = 5
ICONS = {"firing": ":red_circle:", "resolved": ":large_green_circle:"}


def _line(entry: dict[str, Any], zone: str) -> str:
    since = datetime.fromisoformat(entry["starts_at"]).astimezone(ZoneInfo(zone))
    flaps = int(entry.get("transitions", 0))
    extra = f", flapping ({flaps} changes)" if flaps > 1 else ""
    note = (
        f", {entry['note']}" if entry.get("note") and entry["note"] not in ("triggered", "resolved") else ""
    )
    summary = f": {clip(entry['summary'], 140)}" if entry.get("summary") else ""
    return neutralize(
        f"{ICONS.get(entry['status'], '')} *{entry['name']}* ({entry['severity']}) since {since:%H:%M}"
        f"{extra}{note}{summary}"
    )


def board(
    service: str, incident_id: str, entries: list[dict[str, Any]], zone: str, triage: str
) -> tuple[str, list[Block]]:
    """The incident's alerts, firing first, newest change first."""
    firing = sum(e["status"] == "firing" for e in entries)
    ordered = sorted(entries, key=lambda e: (e["status"] != "firing", -float(e.get("changed_at", 0))))
    head = (
        f":rotating_light: *Alerts for `{neutralize(service or 'unknown service')}`*: {firing} firing, "
        f"{len(entries) - firing} resolved"
    )
    lines = [_line(e, zone) for e in ordered[:SHOWN]]
    if len(ordered) > SHOWN:
        lines.append(f"… and {len(ordered) - SHOWN} more alerts (all on the incident)")
    links: dict[str, str] = {}
    for e in ordered:
        for kind, url in (e.get("links") or {}).items():
            links.setdefault(kind, url)
    out = [section(head), section("\n".join(lines))]
    if links:
        out.append(section(" · ".join(link(url, kind.capitalize()) for kind, url in sorted(links.items()))))
    out.append(context(f"incident `{incident_id}`", clip(neutralize(triage), 500)))
    return (
        f"Alerts for {service or 'unknown service'}: {firing} firing, {len(entries) - firing} resolved",
        out,
    )


def resolved(entries: list[dict[str, Any]]) -> tuple[str, list[Block]]:
    """One thread reply for the alerts an edit of the board found resolved."""
    names = [f"{e['name']} ({e['severity']})" for e in entries[:RESOLVED_NAMED]]
    more = f" and {len(entries) - RESOLVED_NAMED} more" if len(entries) > RESOLVED_NAMED else ""
    text = neutralize(f"Resolved: {', '.join(names)}{more}")
    return text, [section(f":white_check_mark: {text}")]


def resolve_prompt(incident_id: str, count: int) -> tuple[str, list[Block]]:
    """Every alert is resolved: resolve the incident? The button is the triage answer's Mark resolved."""
    text = f"All {count} alerts of this incident are resolved. Resolve the incident and draft its postmortem?"
    return text, [
        section(f":checkered_flag: {text}"),
        {"type": "actions", "elements": [button("Mark resolved", ids.INCIDENT_RESOLVE, incident_id)]},
    ]
