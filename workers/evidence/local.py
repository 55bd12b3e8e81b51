"""`incident-copilot triage` on log files: the digest `/triage` would build, without Slack.

Windows come from the logs themselves: a phrase such as "since 10:40" is read relative to the
newest line; without one the whole of `--logs` is the incident and `--baseline` (if any) the
baseline.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from workers.evidence.digest import Digest, digest_logs
from workers.evidence.model import LogLine, LogQuery, SourceResult, TimeWindow
from workers.evidence.sources.files import FileSource
from workers.evidence.tokens import TokenCounter
from workers.logconfig import secret_values
from workers.redaction import ConsistentRedactor
from workers.settings import Settings
from workers.timewindow import parse_window

EVERYTHING = TimeWindow(datetime(1970, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))


async def _read(name: str, paths: list[str], max_lines: int) -> SourceResult:
    return await FileSource(name, paths).fetch(LogQuery("", EVERYTHING, max_lines))


def _span(lines: list[LogLine]) -> TimeWindow | None:
    stamps = [line.ts for line in lines if line.ts is not None]
    return TimeWindow(min(stamps), max(stamps) + timedelta(seconds=1)) if stamps else None


def _within(lines: list[LogLine], window: TimeWindow) -> list[LogLine]:
    return [x for x in lines if x.ts is None or window.start <= x.ts < window.end]


async def digest_files(
    text: str, logs: list[str], baseline_paths: list[str], settings: Settings, budget: int | None = None
) -> Digest:
    ev = settings.evidence
    incident_read = await _read("logs", logs, ev.max_lines)
    baseline_read = await _read("baseline", baseline_paths, ev.max_lines) if baseline_paths else None
    lines = incident_read.lines
    span = _span(lines) or TimeWindow(datetime.now(UTC), datetime.now(UTC) + timedelta(seconds=1))
    window, _rest = parse_window(
        text,
        now=span.end,
        zone=settings.incident.timezone,
        default_minutes=settings.incident.default_window_minutes,
    )
    notes_window = window.phrase != ""
    incident = TimeWindow(window.start, window.end) if notes_window else span
    if baseline_read is not None:
        baseline_lines = baseline_read.lines
        baseline = _span(baseline_lines)
    elif notes_window:
        baseline = TimeWindow(incident.start - timedelta(minutes=ev.baseline_minutes), incident.start)
        baseline_lines = _within(lines, baseline)
    else:
        baseline, baseline_lines = None, []
    sources = [incident_read] + ([baseline_read] if baseline_read else [])
    return digest_logs(
        _within(lines, incident),
        baseline_lines if baseline else (),
        budget_tokens=budget or ev.budget_tokens,
        counter=TokenCounter.for_configured_model(settings.llm.model, ev.encodings_dir),
        redactor=ConsistentRedactor.with_secrets(secret_values(settings)),
        incident=incident,
        baseline=baseline,
        sources=sources,
    )
