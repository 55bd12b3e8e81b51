"""`incident-copilot triage` on log files: the same engine as `/triage`, printed to the terminal."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import structlog

from workers.evidence.digest import Digest
from workers.llm.budget import Budget
from workers.logconfig import secret_values
from workers.models import IncidentContext, TriageRequest, Window
from workers.redaction import ConsistentRedactor, EgressRecord
from workers.runtime import build_engine
from workers.settings import Settings
from workers.triage.report import TriageReport
from workers.triage.views import evidence_view

log = structlog.get_logger(__name__)


def local_report(text: str, digest: Digest, settings: Settings) -> TriageReport:
    """Hypotheses for a digest of local files: from the LLM when one is configured, else evidence-only."""
    now = datetime.now(UTC)
    request = TriageRequest(
        run_id=f"r-{secrets.token_hex(5)}",
        incident_id="local",
        team_id="",
        channel_id="",
        channel_name="terminal",
        requester_id="",
        text=text,
        window=Window(start=digest.incident.start, end=digest.incident.end, phrase=""),
        placeholder_ts="",
        requested_at=now,
    )
    ctx = IncidentContext(
        request=request,
        incident=None,
        channel_name="terminal",
        requester_name="",
        evidence=evidence_view(digest, "", digest.sources),
        llm_configured=settings.llm.configured,
    )

    def egress(record: EgressRecord) -> None:
        log.info("prompt sent", url=record.url, purpose=record.purpose, masked=record.masked)

    redactor = ConsistentRedactor.with_secrets(secret_values(settings))
    return build_engine(settings).report(ctx, Budget.for_severity(settings.llm, text), redactor, egress)


def render(report: TriageReport) -> str:
    s = report.summary
    mode = "LLM" if report.mode == "llm" else f"evidence-only mode: {report.mode_reason}"
    lines = [
        f"Triage ({mode})",
        f"What's going on: {s.what}",
        f"Likely cause ({s.cause_confidence} confidence): {s.cause}",
        f"What to do next: {s.next}",
    ]
    if report.best_effort:
        lines.append(f"Best effort: {report.best_effort}")
    for h in report.hypotheses:
        refs = ", ".join(r.id for r in h.evidence)
        lines.append(f"{h.id} [{h.confidence}] {h.statement}  (evidence: {refs or 'none'})")
        lines += [f"    check: {c}" for c in h.checks]
    if not report.hypotheses:
        lines.append("No hypothesis is supported by the evidence.")
    return "\n".join(lines)
