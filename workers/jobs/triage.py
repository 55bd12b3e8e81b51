"""The triage job: assemble the incident context and edit the placeholder into the answer.

Idempotent by construction: it only ever edits the one placeholder message, so a retry after a
crash leaves exactly one answer in the channel.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import replace
from functools import partial
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from workers import metrics, runtime
from workers.evidence.investigate import Evidence, investigate
from workers.evidence.model import TimeWindow
from workers.incidents import IncidentStore
from workers.jobs.context import bind_job
from workers.jobs.placeholder import ensure_placeholder
from workers.knowledge.service import KnowledgeDeps, evidence_signature
from workers.llm.budget import Budget
from workers.logconfig import secret_values
from workers.models import (
    ChannelMessage,
    EvidenceView,
    IncidentContext,
    KnowledgeView,
    TriageRequest,
)
from workers.policy.ladder import Origin
from workers.postmortem import milestones
from workers.redaction import ConsistentRedactor, prepare_egress, redact_strings
from workers.runtime import EvidenceDeps
from workers.settings import Settings
from workers.slack import report_blocks
from workers.triage.engine import Engine
from workers.triage.report import TriageReport
from workers.triage.views import evidence_view

HISTORY_PAGE = 200
DETAILS_BLOCK = "triage-details"


def run(payload: dict[str, Any]) -> dict[str, Any]:
    """RQ entry point."""
    rt = runtime.current()
    request = ensure_placeholder(rt, TriageRequest.model_validate(payload))
    with bind_job("triage", request.run_id, channel=request.channel_id, incident=request.incident_id) as line:
        started = time.monotonic()
        zone = rt.settings.incident.timezone
        redactor = ConsistentRedactor.with_secrets(secret_values(rt.settings))
        ctx = asyncio.run(
            assemble(request, rt.slack, rt.incidents, rt.settings, rt.evidence, redactor, rt.knowledge)
        )
        _post(rt, redactor, request, *report_blocks.progress(_progress_line(ctx, rt.engine), request.run_id))
        assembled = time.monotonic()
        budget = Budget.for_severity(rt.settings.llm, request.text)  # "sev1" in the text doubles it
        egress = partial(rt.incidents.record_egress, request.incident_id)
        report = rt.engine.report(ctx, budget, redactor, egress)
        report = rt.board.merge(request.incident_id, report, request.run_id)
        service = ctx.evidence.service if ctx.evidence is not None else ""
        origin = Origin(
            request.incident_id,
            request.run_id,
            request.requester_id,
            request.channel_id,
            request.placeholder_ts,
        )
        report = rt.ladder.classify(report, service, origin, rt.redis.client, cap=request.max_level)
        signature = evidence_signature(ctx.evidence)
        rt.incidents.record_findings(
            request.incident_id, request.text or report.summary.what, service, signature
        )
        if ctx.evidence is not None:
            milestones.record(
                rt.redis.client, request.incident_id, ctx.evidence, request.window.end, request.placeholder_ts
            )
        reported = time.monotonic()
        ctx.elapsed_s = time.monotonic() - started
        runs = max(1, len(rt.incidents.triages(request.incident_id)))
        _details(rt, redactor, request, *report_blocks.details(ctx, zone))
        _post(rt, redactor, request, *report_blocks.answer(ctx, report, zone, run=runs), run_totals=True)
        stages = {
            "assemble_s": round(assembled - started, 3),
            "report_s": round(reported - assembled, 3),
            "post_s": round(time.monotonic() - reported, 3),
        }
        # Masked in the evidence, the prompts and the answer, this run.
        masked = dict(redactor.counts)
        line.update(
            outcome="answered",
            mode=report.mode,
            hypotheses=len(report.hypotheses),
            dropped=report.grounding.dropped_hypotheses,
            downgraded=report.grounding.downgraded,
            novel=report.novel,
            tokens=report.usage.prompt_tokens + report.usage.completion_tokens,
            masked=sum(masked.values()),
            messages=ctx.messages_in_window,
            gaps=len(ctx.gaps),
            prompts=",".join(f"{p.name}@{p.version}:{p.sha256[:12]}" for p in report.prompts),
            **stages,
        )
        if ctx.evidence is not None:
            line.update(digest_tokens=ctx.evidence.tokens, evidence=len(ctx.evidence.entries))
        _record_metrics(rt, report, time.monotonic() - started)
        return {"messages": ctx.messages_in_window, "gaps": ctx.gaps, "mode": report.mode, "stages": stages}


def _record_metrics(rt: runtime.Runtime, report: TriageReport, seconds: float) -> None:
    client = rt.redis.client
    metrics.inc(client, "jobs", type="triage", outcome="answered", mode=report.mode)
    metrics.observe(client, "job_seconds", seconds, type="triage")
    if report.usage.calls:
        metrics.inc(client, "llm_tokens", report.usage.prompt_tokens, kind="prompt")
        metrics.inc(client, "llm_tokens", report.usage.completion_tokens, kind="completion")
    if rt.engine.llm is not None and report.mode == "evidence-only":
        metrics.inc(client, "llm_errors", error=report.best_effort.split(":", 1)[0] or "unknown")
    for h in report.hypotheses:
        for c in h.classified:
            metrics.inc(client, "decisions", level=c.level, written=c.written)
    if report.shadowed:
        metrics.inc(client, "decisions", report.shadowed, level="observe", written="any")


def _progress_line(ctx: IncidentContext, engine: Engine) -> str:
    found = []
    if ctx.evidence is not None:
        found.append(f"{len(ctx.evidence.entries)} log findings")
    if ctx.knowledge is not None:
        found.append(f"{len(ctx.knowledge.matches)} similar past incidents")
    found.append(f"{ctx.messages_in_window} channel messages")
    doing = "asking the model" if engine.llm is not None else "ranking known patterns (evidence-only mode)"
    return f"Gathered {', '.join(found)}; {doing}…"


def _post(
    rt: runtime.Runtime,
    redactor: ConsistentRedactor,
    req: TriageRequest,
    text: str,
    body: list[Any],
    *,
    run_totals: bool = False,
) -> None:
    """Edit the answer message. Whatever it quotes is redacted once more on the way out; the final
    answer's egress record counts what was masked in the whole run (evidence, prompts, answer)."""
    message = redact_strings({"text": text, "blocks": body}, redactor)
    url = f"{rt.settings.slack.api_url}chat.update"
    _body, record = prepare_egress(redactor, url, json.dumps(message), "triage answer")
    rt.slack.chat_update(channel=req.channel_id, ts=req.placeholder_ts, **message)
    if run_totals:
        record = replace(record, masked=dict(redactor.counts))
    rt.incidents.record_egress(req.incident_id, record)


def _details(
    rt: runtime.Runtime, redactor: ConsistentRedactor, req: TriageRequest, text: str, body: list[Any]
) -> None:
    """The thread reply with the long parts: edited when it exists, so a retry or a re-run adds none."""
    body = [{**body[0], "block_id": DETAILS_BLOCK}, *body[1:]]
    message = redact_strings({"text": text, "blocks": body}, redactor)
    replies = rt.slack.conversations_replies(channel=req.channel_id, ts=req.placeholder_ts, limit=200)
    found: list[dict[str, Any]] = replies.get("messages", [])
    mine = next(
        (
            m
            for m in found
            if m.get("ts") != req.placeholder_ts
            and any(b.get("block_id") == DETAILS_BLOCK for b in m.get("blocks", []))
        ),
        None,
    )
    url = f"{rt.settings.slack.api_url}{'chat.update' if mine else 'chat.postMessage'}"
    _body, record = prepare_egress(redactor, url, json.dumps(message), "triage details")
    if mine is not None:
        rt.slack.chat_update(channel=req.channel_id, ts=mine["ts"], **message)
    else:
        rt.slack.chat_postMessage(channel=req.channel_id, thread_ts=req.placeholder_ts, **message)
    rt.incidents.record_egress(req.incident_id, record)


async def assemble(
    req: TriageRequest,
    slack: WebClient,
    store: IncidentStore,
    settings: Settings,
    evidence: EvidenceDeps | None = None,
    redactor: ConsistentRedactor | None = None,
    knowledge: KnowledgeDeps | None = None,
) -> IncidentContext:
    """Gather channel, requester, incident, conversation and logs concurrently; a failed source is a gap."""
    gaps: list[str] = []
    redactor = redactor or ConsistentRedactor()
    info, requester, history, incident, logs = await asyncio.gather(
        asyncio.to_thread(_channel_name, slack, req.channel_id),
        asyncio.to_thread(_user_name, slack, req.requester_id),
        asyncio.to_thread(_history, slack, req),
        asyncio.to_thread(store.get, req.incident_id),
        _evidence(req, settings, evidence, redactor),
        return_exceptions=True,
    )
    view: EvidenceView | None = None
    if isinstance(logs, BaseException):
        gaps.append(f"log evidence: {_why(logs)}")
    elif logs is not None:
        gaps.extend(logs.gathered.gaps())
        view = evidence_view(logs.digest, logs.service, _sources(logs))
    known: KnowledgeView | None = None
    if knowledge is not None:
        try:
            known = await asyncio.to_thread(knowledge.for_evidence, req.text, view)
        except Exception as exc:  # the answer goes out without this part rather than not at all
            gaps.append(f"knowledge base: {_why(exc)}")
    if isinstance(info, BaseException):
        gaps.append(f"channel info: {_why(info)}")
        info = req.channel_name
    if isinstance(requester, BaseException):
        requester = req.requester_id
    if isinstance(incident, BaseException):
        gaps.append(f"incident state: {_why(incident)}")
        incident = None
    messages: list[ChannelMessage] = []
    if isinstance(history, BaseException):
        gaps.append(f"channel history for the window: {_why(history)}")
    else:
        messages = history
    shown = messages[-settings.incident.history_limit :]
    users = sorted({m.user for m in shown if m.user})
    authors = await asyncio.gather(*(asyncio.to_thread(_user_name, slack, u) for u in users))
    names = dict(zip(users, authors, strict=True))
    for m in shown:
        m.author = names.get(m.user, m.user)
    return IncidentContext(
        request=req,
        incident=incident,
        channel_name=str(info),
        requester_name=str(requester),
        messages=shown,
        messages_in_window=len(messages),
        evidence=view,
        knowledge=known,
        gaps=[redactor.redact(gap) for gap in gaps],  # a source's error may quote a URL with its password
        llm_configured=settings.llm.configured,
    )


async def _evidence(
    req: TriageRequest, settings: Settings, deps: EvidenceDeps | None, redactor: ConsistentRedactor
) -> Evidence | None:
    if deps is None:
        return None
    return await investigate(
        deps.sources,
        req.text,
        TimeWindow(req.window.start, req.window.end),
        baseline_minutes=settings.evidence.baseline_minutes,
        max_lines=settings.evidence.max_lines,
        budget_tokens=settings.evidence.budget_tokens,
        counter=deps.counter,
        redactor=redactor,
        request=req.lines,
    )


def _sources(evidence: Evidence) -> list[str]:
    """One label per source: its status and line counts in both windows."""
    g = evidence.gathered
    return [
        f"{i.source}: {i.status}, {i.line_count()} incident / {b.line_count()} baseline lines"
        + (f" ({i.dating})" if i.dating else "")
        for i, b in zip(g.incident, g.baseline, strict=True)
    ]


def _why(exc: BaseException) -> str:
    if isinstance(exc, SlackApiError):
        error = exc.response.get("error", "error")
        needed = exc.response.get("needed")
        return f"Slack answered {error}" + (f" (missing scope {needed})" if needed else "")
    return f"{type(exc).__name__}: {exc}"


def _channel_name(slack: WebClient, channel: str) -> str:
    return str(slack.conversations_info(channel=channel)["channel"]["name"])


def _user_name(slack: WebClient, user: str) -> str:
    try:
        profile = slack.users_info(user=user)["user"]
    except SlackApiError:
        return user
    return str(profile.get("real_name") or profile.get("name") or user)


def _history(slack: WebClient, req: TriageRequest) -> list[ChannelMessage]:
    """Human messages in the window, oldest first (the bot's own messages are left out)."""
    out: list[ChannelMessage] = []
    cursor = None
    while True:
        page = slack.conversations_history(
            channel=req.channel_id,
            oldest=f"{req.window.start.timestamp():.6f}",
            latest=f"{req.window.end.timestamp():.6f}",
            inclusive=True,
            limit=HISTORY_PAGE,
            cursor=cursor,
        )
        raw: dict[str, Any]
        for raw in page.get("messages", []):
            if raw.get("bot_id") or raw.get("subtype") in {"bot_message", "channel_join", "channel_leave"}:
                continue
            out.append(
                ChannelMessage(
                    ts=raw["ts"],
                    user=raw.get("user", ""),
                    text=raw.get("text", ""),
                    thread_ts=raw.get("thread_ts"),
                    reply_count=int(raw.get("reply_count", 0)),
                )
            )
        cursor = (page.get("response_metadata") or {}).get("next_cursor")
        if not page.get("has_more") or not cursor:
            break
    return sorted(out, key=lambda m: float(m.ts))
