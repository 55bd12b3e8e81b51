"""The evidence half of a triage: the service's logs for the incident and a baseline window,
turned into a redacted, token-budgeted digest. `/triage` and `incident-copilot triage` share it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta

from workers.evidence.config import SourcesFile, build_sources
from workers.evidence.digest import Digest, digest_logs
from workers.evidence.gather import Gathered, gather_windows
from workers.evidence.model import LogLine, SourceResult, TimeWindow
from workers.evidence.tokens import TokenCounter
from workers.models import LineRequest
from workers.redaction import Redactor


@dataclass
class Evidence:
    service: str
    gathered: Gathered
    digest: Digest


def _lines(results: Iterable[SourceResult]) -> Iterator[LogLine]:
    """Every source's lines, streamed sources read as they are consumed."""
    for result in results:
        yield from result.iter_lines()


async def investigate(
    cfg: SourcesFile,
    text: str,
    incident: TimeWindow,
    *,
    baseline_minutes: int,
    max_lines: int,
    budget_tokens: int,
    counter: TokenCounter,
    redactor: Redactor,
    request: LineRequest | None = None,
) -> Evidence:
    service = cfg.service_in(text)
    sources = build_sources(cfg.for_service(service), service)
    baseline = TimeWindow(incident.start - timedelta(minutes=baseline_minutes), incident.start)
    gathered = await gather_windows(sources, service, incident, baseline, max_lines)
    digest = await asyncio.to_thread(
        digest_logs,
        _lines(gathered.incident),
        _lines(gathered.baseline),
        budget_tokens=budget_tokens,
        counter=counter,
        redactor=redactor,
        incident=incident,
        baseline=baseline,
        sources=[*gathered.incident, *gathered.baseline],
        request=request,
    )
    return Evidence(service=service, gathered=gathered, digest=digest)
