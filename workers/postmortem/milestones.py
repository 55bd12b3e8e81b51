"""Log milestones for the postmortem timeline, kept from each triage's evidence: change events
(a deploy or config change logged for the first time), the first error, the error peak, and the
recovery (when the errors stopped).

Each `/triage` records what its evidence shows, with the answer message it was shown in (the link);
`load` merges the runs: the earliest first error, the highest peak, every change once, and a
recovery only when a run saw the logs stay quiet for `QUIET` after the last error.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta

import redis
from pydantic import BaseModel

from workers.models import EvidenceEntry, EvidenceView
from workers.redisconn import as_text

# The digest counts errors per minute; five quiet minutes in a row is the shortest silence that is
# not one of the gaps seen between bursts of a still-failing service.
QUIET = timedelta(minutes=5)
RUNS_MAX = 50
_CHANGE = re.compile(
    r"(?i)\b(?:deploy\w*|rollout|rolled out|release[ds]?|config(?:uration)?\s+(?:change|reload)\w*"
    r"|migrat\w+|upgrad\w+|feature flag|flag \w+ (?:enabled|disabled)|version\s+v?\d|starting .* v\d"
    r"|rollback|roll(?:ed|ing)? back)"
)
_FAILING = ("error", "fatal")


class Milestone(BaseModel):
    kind: str  # change, first error, error peak, recovery
    at: datetime
    what: str
    message_ts: str = ""  # the triage answer that showed the evidence
    count: int = 0  # error lines in the peak minute


class _Run(BaseModel):
    message_ts: str
    window_end: datetime
    last_error: datetime | None = None
    milestones: list[Milestone]


def _key(incident_id: str) -> str:
    return f"ic:incident:{incident_id}:milestones"


def _quote(e: EvidenceEntry) -> str:
    return (e.exemplar or e.template).split("\n")[0][:300]


def from_view(view: EvidenceView, message_ts: str) -> list[Milestone]:
    """What one triage's evidence shows (the recovery is decided by `load`, across runs)."""
    out = [
        Milestone(kind="change", at=e.first_seen, what=_quote(e), message_ts=message_ts)
        for e in view.entries
        if e.kind == "new" and e.first_seen and e.severity not in _FAILING and _CHANGE.search(e.template)
    ]
    starts = [(e.first_seen, e) for e in _failing(view) if e.first_seen]
    if starts:
        at, first = min(starts, key=lambda pair: pair[0])
        out.append(Milestone(kind="first error", at=at, what=_quote(first), message_ts=message_ts))
    if view.bursts:
        at, count = max(view.bursts, key=lambda b: (b[1], -b[0].timestamp()))
        what = f"{count} error lines in one minute, the most in the window"
        out.append(Milestone(kind="error peak", at=at, what=what, message_ts=message_ts, count=count))
    return out


def _failing(view: EvidenceView) -> list[EvidenceEntry]:
    return [e for e in view.entries if e.kind in ("new", "surging") and e.severity in _FAILING]


def record(
    client: redis.Redis, incident_id: str, view: EvidenceView, window_end: datetime, message_ts: str
) -> None:
    """Keep what this triage's evidence shows, for the postmortem."""
    ends = [e.last_seen for e in _failing(view) if e.last_seen]
    run = _Run(
        message_ts=message_ts,
        window_end=window_end,
        last_error=max(ends) if ends else None,
        milestones=from_view(view, message_ts),
    )
    key = _key(incident_id)
    with client.pipeline(transaction=False) as pipe:
        pipe.rpush(key, run.model_dump_json())
        pipe.ltrim(key, -RUNS_MAX, -1)
        pipe.execute()


def load(client: redis.Redis, incident_id: str) -> list[Milestone]:
    """The merged milestones of every triage run, oldest first."""
    runs = [_Run.model_validate(json.loads(as_text(raw))) for raw in client.lrange(_key(incident_id), 0, -1)]
    every = [m for r in runs for m in r.milestones]
    changes: dict[str, Milestone] = {}
    for m in sorted((m for m in every if m.kind == "change"), key=lambda m: m.at):
        changes.setdefault(m.what, m)
    out = list(changes.values())
    if firsts := [m for m in every if m.kind == "first error"]:
        out.append(min(firsts, key=lambda m: m.at))
    if peaks := [m for m in every if m.kind == "error peak"]:
        out.append(max(peaks, key=lambda m: (m.count, -m.at.timestamp())))
    ended = [r for r in runs if r.last_error]
    if ended:
        last = max(ended, key=lambda r: (r.last_error, r.window_end))
        seen_until = max(r.window_end for r in runs)
        if last.last_error and seen_until - last.last_error >= QUIET:
            what = f"the last error line; the logs stayed free of these errors until {seen_until:%H:%M} UTC"
            out.append(Milestone(kind="recovery", at=last.last_error, what=what, message_ts=last.message_ts))
    return sorted(out, key=lambda m: m.at)
