"""`incident-copilot triage` on log files: the same engine as `/triage`, printed to the terminal.

The context is assembled as the triage job assembles it: the digest's view, the knowledge base
asked through `KnowledgeDeps.for_evidence` (similar incidents and novelty, on the calibrated
threshold), the channel's messages in the window (from a file instead of Slack's history), and a
failed knowledge base as a gap; then `Engine.report`, which both paths share.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import structlog

from workers.errors import UserInputError
from workers.evidence.digest import Digest
from workers.knowledge.service import KnowledgeDeps
from workers.llm.budget import Budget
from workers.logconfig import secret_values
from workers.models import ChannelMessage, IncidentContext, TriageRequest, Window
from workers.redaction import ConsistentRedactor, EgressRecord
from workers.runtime import build_engine
from workers.settings import Settings
from workers.triage.report import TriageReport
from workers.triage.views import evidence_view

log = structlog.get_logger(__name__)


def read_messages(path: Path) -> list[ChannelMessage]:
    """Channel messages from a Slack export (a JSON array of messages, or an object with `messages`)
    or from JSON lines, one message per line; each needs `ts` and `text`, `user` is optional."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise UserInputError(f"--channel {path}: cannot read it: {exc.strerror or exc}") from exc
    rows: list[tuple[int, Any]]
    try:
        data = json.loads(text)
    except json.JSONDecodeError:  # JSON lines
        rows = []
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    rows.append((n, json.loads(line)))
                except json.JSONDecodeError as exc:
                    raise UserInputError(f"--channel {path}:{n}: not a JSON object: {exc.msg}") from exc
    else:
        if isinstance(data, dict) and "ts" in data:
            data = [data]  # one line of JSON lines
        items = data.get("messages") if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise UserInputError(f"--channel {path}: expected a JSON array of messages, or JSON lines")
        rows = [(0, item) for item in items]
    out = []
    for n, raw in rows:
        where = f"{path}:{n}" if n else str(path)
        if not isinstance(raw, dict) or "ts" not in raw:
            raise UserInputError(f"--channel {where}: each message needs a `ts` (Slack's message time)")
        if raw.get("bot_id") or raw.get("subtype") in {"bot_message", "channel_join", "channel_leave"}:
            continue
        try:
            float(raw["ts"])
        except (TypeError, ValueError) as exc:
            raise UserInputError(f"--channel {where}: `ts` {raw['ts']!r} is not a Slack timestamp") from exc
        out.append(
            ChannelMessage(
                ts=str(raw["ts"]), user=str(raw.get("user", "")), text=str(raw.get("text", "")),
                thread_ts=raw.get("thread_ts"), reply_count=int(raw.get("reply_count", 0)),
            )
        )  # fmt: skip
    return sorted(out, key=lambda m: float(m.ts))


def local_context(
    text: str,
    digest: Digest,
    settings: Settings,
    *,
    service: str = "",
    messages: Sequence[ChannelMessage] = (),
    knowledge: KnowledgeDeps | None = None,
) -> IncidentContext:
    """The incident context /triage would assemble for this digest, knowledge base and conversation."""
    window = Window(start=digest.incident.start, end=digest.incident.end, phrase="")
    request = TriageRequest.offline(f"r-{secrets.token_hex(5)}", "local", "terminal", text, window)
    view = evidence_view(digest, service, digest.sources)
    gaps: list[str] = []
    known = None
    if knowledge is not None:
        try:
            known = knowledge.for_evidence(text, view)
        except Exception as exc:  # as in /triage: the answer goes out without this part
            gaps.append(f"knowledge base: {type(exc).__name__}: {exc}")
    start, end = window.start.timestamp(), window.end.timestamp()
    in_window = [m for m in messages if start <= float(m.ts) <= end]
    for m in in_window:
        m.author = m.author or m.user
    return IncidentContext(
        request=request,
        incident=None,
        channel_name="terminal",
        requester_name="",
        messages=in_window[-settings.incident.history_limit :],
        messages_in_window=len(in_window),
        evidence=view,
        knowledge=known,
        gaps=gaps,
        llm_configured=settings.llm.configured,
    )


def local_report(ctx: IncidentContext, settings: Settings) -> TriageReport:
    """Hypotheses from the LLM when one is configured, else evidence-only: `Engine.report`, as /triage."""

    def egress(record: EgressRecord) -> None:
        log.info("prompt sent", url=record.url, purpose=record.purpose, masked=record.masked)

    redactor = ConsistentRedactor.with_secrets(secret_values(settings))
    budget = Budget.for_severity(settings.llm, ctx.request.text)
    return build_engine(settings).report(ctx, budget, redactor, egress)


def as_json(report: TriageReport, ctx: IncidentContext) -> dict[str, Any]:
    """The report's fields, with the similar incidents, the gaps and the evidence they rest on."""
    return {
        **report.model_dump(mode="json"),
        "similar": ctx.knowledge.model_dump(mode="json") if ctx.knowledge else None,
        "gaps": ctx.gaps,
        "messages_in_window": ctx.messages_in_window,
        "evidence": ctx.evidence.model_dump(mode="json") if ctx.evidence else None,
    }


def render(report: TriageReport, ctx: IncidentContext) -> str:
    s = report.summary
    mode = "LLM" if report.mode == "llm" else f"evidence-only mode: {report.mode_reason}"
    lines = [
        f"Triage ({mode})",
        f"What's going on: {s.what}",
        f"Likely cause ({s.cause_confidence} confidence): {s.cause}",
        f"What to do next: {s.next}",
    ]
    if report.novel:
        lines.append(f"Novel: {report.novelty_reason} Actions are capped at suggest.")
    if report.best_effort:
        lines.append(f"Best effort: {report.best_effort}")
    lines += [f"Gap: {g}" for g in ctx.gaps]
    for h in report.hypotheses:
        refs = ", ".join(r.id for r in h.evidence)
        lines.append(f"{h.id} [{h.confidence}] {h.statement}")
        lines += [f"    {d}" for d in h.detail.splitlines()]
        lines.append(f"    evidence: {refs or 'none'}")
        lines += [f"    check: {c}" for c in h.checks]
    if not report.hypotheses:
        lines.append("No hypothesis is supported by the evidence.")
    k = ctx.knowledge
    if k is not None and not report.novel:
        lines.append(f"Similar past incidents ({k.reason}):" if k.matches else f"Past incidents: {k.reason}")
        for m in k.matches:
            lines.append(f"  {m.score:.2f} {m.record_id} {m.title}")
            lines += [f"       root cause: {m.root_cause}"] if m.root_cause else []
            lines += [f"       fix: {m.fix}"] if m.fix else []
    return "\n".join(lines)
