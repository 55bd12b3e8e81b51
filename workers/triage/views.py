"""The digest as the triage answer and the engine see it."""

from __future__ import annotations

from collections.abc import Sequence

from workers.evidence.digest import Digest
from workers.models import EvidenceEntry, EvidenceView


def evidence_view(digest: Digest, service: str, sources: Sequence[str]) -> EvidenceView:
    entries = [
        EvidenceEntry(
            template_id=e.template_id,
            kind=e.kind,
            severity=e.severity,
            count=e.incident_count,
            baseline_count=e.baseline_count,
            ratio=e.ratio,
            first_seen=e.first_seen,
            last_seen=e.last_seen,
            template=e.template,
            exemplar=e.exemplar,
        )
        for e in digest.entries
    ]
    return EvidenceView(
        service=service,
        entries=entries,
        tokens=digest.tokens,
        budget_tokens=digest.budget_tokens,
        encoding=digest.encoding,
        exact=digest.exact,
        sources=list(sources),
        cut=sum(digest.cut.values()),
        bursts=list(digest.bursts),
    )
