"""Pull the incident and baseline windows from every source of a service, concurrently."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from workers.evidence.model import LogQuery, LogSource, SourceResult, TimeWindow


@dataclass
class Gathered:
    incident: list[SourceResult] = field(default_factory=list)
    baseline: list[SourceResult] = field(default_factory=list)

    def gaps(self) -> list[str]:
        return [g for r in (*self.incident, *self.baseline) if (g := r.gap())]


async def _fetch(source: LogSource, query: LogQuery) -> SourceResult:
    """A source that breaks its promise and raises still becomes a gap, not a failed triage."""
    started = time.monotonic()
    try:
        return await source.fetch(query)
    except Exception as exc:  # the evidence must survive any one backend
        return SourceResult(
            source=source.name,
            status="error",
            query="",
            window=query.window,
            note=f"{type(exc).__name__}: {exc}",
            elapsed_s=time.monotonic() - started,
        )


async def gather_windows(
    sources: Sequence[tuple[LogSource, int | None]],
    service: str,
    incident: TimeWindow,
    baseline: TimeWindow,
    max_lines: int,
) -> Gathered:
    """Both windows from every source at once; a source's own cap applies when it is lower."""
    calls = [
        _fetch(source, LogQuery(service, w, min(cap or max_lines, max_lines)))
        for w in (incident, baseline)
        for source, cap in sources
    ]
    results = await asyncio.gather(*calls)
    return Gathered(incident=list(results[: len(sources)]), baseline=list(results[len(sources) :]))
