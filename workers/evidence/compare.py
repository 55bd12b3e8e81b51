"""Incident against baseline: which templates are new, surging, vanished or steady, and error bursts.

One miner is fed both windows (window labels "baseline" and "incident"); rates are lines per minute
of each window, so windows of different lengths compare fairly. A baseline count below `floor`
lines is noise: the baseline rate a surge is measured against is never less than `floor` lines
over the baseline window.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from workers.evidence.model import TimeWindow
from workers.evidence.templates import TemplateMiner, TemplateStats

Kind = Literal["new", "surging", "vanished", "steady"]
_SEVERITY_WEIGHT = {"fatal": 5.0, "error": 4.0, "warning": 2.5, "unknown": 1.5, "info": 1.0, "debug": 0.5}
_KIND_WEIGHT: dict[Kind, float] = {"new": 3.0, "surging": 2.5, "vanished": 1.5, "steady": 0.5}
_SECOND = 1 / 60
_MAX_BUCKETS = 7 * 24 * 60


@dataclass
class Finding:
    template: TemplateStats
    kind: Kind
    ratio: float | None  # incident rate / baseline rate; None when the baseline had none
    score: float


def _minutes(window: TimeWindow) -> float:
    return max((window.end - window.start).total_seconds() / 60, _SECOND)


def _in(window: TimeWindow, moment: datetime) -> bool:
    return window.start <= moment < window.end


def _steady(stats: TemplateStats, baseline: TimeWindow, expected_in_incident: float, floor: int) -> bool:
    """Regular enough in the baseline that its absence from the incident means something stopped."""
    minutes_seen = sum(1 for minute in stats.per_minute if _in(baseline, minute))
    return expected_in_incident >= floor and minutes_seen >= 2


def _score(stats: TemplateStats, kind: Kind, volume: int) -> float:
    weight = _SEVERITY_WEIGHT.get(stats.severity, 1.0) * _KIND_WEIGHT[kind]
    return weight * (1 + math.log10(1 + volume))


def compare(
    miner: TemplateMiner,
    incident: TimeWindow,
    baseline: TimeWindow,
    *,
    surge_ratio: float = 3.0,
    floor: int = 3,
) -> list[Finding]:
    """Every template seen in the incident, and the baseline regulars it lacks, best score first."""
    incident_minutes, baseline_minutes = _minutes(incident), _minutes(baseline)
    noise_rate = floor / baseline_minutes
    findings = []
    for stats in miner.templates():
        in_incident, in_baseline = stats.counts.get("incident", 0), stats.counts.get("baseline", 0)
        incident_rate, baseline_rate = in_incident / incident_minutes, in_baseline / baseline_minutes
        ratio = incident_rate / baseline_rate if in_baseline else None
        kind: Kind
        if not in_incident:
            if not in_baseline or not _steady(stats, baseline, baseline_rate * incident_minutes, floor):
                continue
            kind, volume = "vanished", in_baseline
        elif not in_baseline:
            kind, volume = "new", in_incident
        elif incident_rate * (1 + 1e-9) >= surge_ratio * max(baseline_rate, noise_rate):  # float-safe ≥
            kind, volume = "surging", in_incident
        else:
            kind, volume = "steady", in_incident
        findings.append(Finding(stats, kind, ratio, _score(stats, kind, volume)))
    findings.sort(key=lambda finding: -finding.score)
    return findings


def error_bursts(
    miner: TemplateMiner, window: TimeWindow, bucket_minutes: int = 1, *, floor: int = 3, factor: float = 3.0
) -> list[tuple[datetime, int]]:
    """Buckets of `window` whose error and fatal lines exceed `factor` × the median bucket and `floor`."""
    width = timedelta(minutes=bucket_minutes)
    if (window.end - window.start) / width > _MAX_BUCKETS:  # a window left open (no times could be read)
        seen = [m for stats in miner.templates() for m in stats.per_minute if _in(window, m)]
        if seen:
            window = TimeWindow(max(window.start, min(seen)), min(window.end, max(seen) + width))
    buckets = max(1, math.ceil((window.end - window.start) / width))
    counts = [0] * buckets
    for stats in miner.templates():
        if stats.severity not in ("error", "fatal"):
            continue
        for minute, count in stats.per_minute.items():
            if _in(window, minute):
                counts[(minute - window.start) // width] += count
    median = statistics.median(counts)
    return [
        (window.start + index * width, count)
        for index, count in enumerate(counts)
        if count >= floor and count > factor * median
    ]
