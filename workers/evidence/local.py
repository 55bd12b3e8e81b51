"""`incident-copilot triage` on log files: the digest `/triage` would build, without Slack.

Windows come from the logs themselves: a phrase such as "since 10:40" is read relative to the
newest line; without one the whole of `--logs` is the incident and `--baseline` (if any) the
baseline. When the files hold no time that can be read, the window cannot be applied: every line is
read and the digest says so, rather than measuring the window from the wall clock.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from workers.errors import UserInputError
from workers.evidence.digest import Digest, digest_logs
from workers.evidence.model import LogQuery, SourceResult, TimeWindow
from workers.evidence.sources.files import FileSource, expand, span
from workers.evidence.tokens import TokenCounter
from workers.logconfig import secret_values
from workers.redaction import ConsistentRedactor
from workers.settings import Settings
from workers.timewindow import parse_lines, parse_window

EVERYTHING = TimeWindow(datetime(1970, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))


async def _read(name: str, paths: list[str], window: TimeWindow, max_lines: int) -> SourceResult:
    return await FileSource(name, paths).fetch(LogQuery("", window, max_lines))


async def digest_files(
    text: str, logs: list[str], baseline_paths: list[str], settings: Settings, budget: int | None = None
) -> Digest:
    for flag, patterns in (("--logs", logs), ("--baseline", baseline_paths)):
        if unmatched := expand(patterns)[1]:
            raise UserInputError(f"{flag}: no file matches {', '.join(unmatched)}; nothing to triage")
    ev = settings.evidence
    request, text = parse_lines(text)
    logs_span = await asyncio.to_thread(span, logs)
    now = logs_span.end if logs_span else datetime.now(UTC)
    zone, minutes = settings.incident.timezone, settings.incident.default_window_minutes
    window, _rest = parse_window(text, now=now, zone=zone, default_minutes=minutes)
    notes: list[str] = []
    asked = window.phrase != ""
    if logs_span is None:
        incident = EVERYTHING
        if asked and expand(logs)[0]:  # (no file at all is a gap of its own)
            notes.append(f"no line of --logs has a time I can read, so {window.phrase!r} cannot be applied")
    else:
        incident = TimeWindow(window.start, window.end) if asked else logs_span
    baseline: TimeWindow | None = None
    baseline_read: SourceResult | None = None
    if baseline_paths:
        baseline_span = await asyncio.to_thread(span, baseline_paths)
        if baseline_span is None:
            notes.append("no line of --baseline has a time I can read: all of it is the baseline")
        if baseline_span is None or logs_span is None:  # a nominal window as long as the incident's
            baseline = TimeWindow(incident.start - (incident.end - incident.start), incident.start)
        else:
            baseline = baseline_span
        baseline_read = await _read("baseline", baseline_paths, baseline_span or EVERYTHING, ev.max_lines)
    elif asked and logs_span is not None:
        baseline = TimeWindow(incident.start - timedelta(minutes=ev.baseline_minutes), incident.start)
        baseline_read = await _read("baseline", logs, baseline, ev.max_lines)
    incident_read = await _read("logs", logs, incident, ev.max_lines)
    sources = [incident_read] + ([baseline_read] if baseline_read else [])
    return await asyncio.to_thread(
        digest_logs,
        incident_read.iter_lines(),
        baseline_read.iter_lines() if baseline_read and baseline else (),
        budget_tokens=budget or ev.budget_tokens,
        counter=TokenCounter.for_configured_model(settings.llm.model, ev.encodings_dir),
        redactor=ConsistentRedactor.with_secrets(secret_values(settings)),
        incident=incident,
        baseline=baseline,
        sources=sources,
        request=request,
        notes=notes,
    )
