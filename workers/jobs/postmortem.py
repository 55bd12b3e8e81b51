"""The postmortem job: resolve the incident, gather, draft, post the summary with the Markdown file,
and store the draft in the knowledge base.

Idempotent per incident: a second trigger (the button after `/triage resolve`, or the channel being
archived) drafts a new version of the same draft and edits the same summary message; a per-incident
lock keeps two triggers from drafting at once.
"""

from __future__ import annotations

import time
from dataclasses import replace
from functools import partial
from typing import Any

from slack_sdk.errors import SlackApiError

from workers import audit, metrics, runtime
from workers.jobs.context import bind_job
from workers.llm.budget import Budget
from workers.logconfig import secret_values
from workers.models import PostmortemRequest
from workers.postmortem.draft import draft
from workers.postmortem.gather import SlackReader, gather, permalink
from workers.postmortem.model import PostmortemDraft
from workers.postmortem.record import DraftStore
from workers.postmortem.render import markdown
from workers.redaction import ConsistentRedactor, prepare_egress, redact_strings
from workers.slack import postmortem_blocks


def run(payload: dict[str, Any]) -> dict[str, Any]:
    """RQ entry point."""
    req = PostmortemRequest.model_validate(payload)
    rt = runtime.current()
    drafts = DraftStore(rt.redis.client)
    with (
        bind_job("postmortem", req.run_id, incident=req.incident_id, channel=req.channel_id) as line,
        drafts.lock(req.incident_id),
    ):
        started = time.monotonic()
        incident = rt.incidents.resolve(req.incident_id, req.requested_by, req.requested_at, req.summary)
        if incident is None:
            line.update(outcome="unknown_incident")
            return {"outcome": "unknown_incident"}
        redactor = ConsistentRedactor.with_secrets(secret_values(rt.settings))
        settings = rt.settings.postmortem
        got = gather(
            SlackReader(rt.slack, page=settings.page_size),
            incident,
            rt.incidents,
            rt.board,
            rt.redis.client,
            pin_reaction=settings.pin_reaction,
            lookback_minutes=settings.lookback_minutes,
        )
        # Secrets in the channel stay out of the draft, the knowledge base and the prompt.
        got.messages = [replace(m, text=redactor.redact(m.text)) for m in got.messages]
        summary = redactor.redact(incident.resolution)
        pm = draft(
            got,
            resolved_by=incident.resolved_by,
            summary=summary,
            llm=rt.engine.llm,
            prompts=rt.engine.prompts,
            budget=Budget.for_severity(rt.settings.llm, summary),
            redactor=redactor,
            egress=partial(rt.incidents.record_egress, incident.id),
            endpoint=rt.engine.endpoint,
        )
        pm = drafts.save(pm, rt.knowledge.store)
        where = _publish(rt, drafts, pm, req, redactor, got.workspace)
        audit.record(
            rt.redis.client,
            incident.id,
            "postmortem_drafted",
            by=req.requested_by,
            trigger=req.trigger,
            version=str(pm.version),
            mode=pm.mode,
            posted=where or "not posted",
        )
        seconds = time.monotonic() - started
        metrics.inc(rt.redis.client, "jobs", type="postmortem", outcome="drafted", mode=pm.mode)
        metrics.observe(rt.redis.client, "job_seconds", seconds, type="postmortem")
        result = {
            "outcome": "drafted",
            "version": pm.version,
            "mode": pm.mode,
            "messages": pm.messages_read,
            "hypotheses": len(pm.decision_tree),
            "posted": where,
            "slack_calls": got.slack_calls,
            "seconds": round(seconds, 3),
        }
        line.update(trigger=req.trigger, **result)
        return result


def _publish(
    rt: runtime.Runtime,
    drafts: DraftStore,
    pm: PostmortemDraft,
    req: PostmortemRequest,
    redactor: ConsistentRedactor,
    workspace: str,
) -> str:
    """Post or edit the summary and upload the draft in its thread; the channel it went to, or "".

    An archived incident channel takes no messages: the draft then goes to POSTMORTEM_CHANNEL when
    one is set, and is only stored otherwise."""
    channel = req.channel_id
    if req.trigger == "archive" or _archived(rt, channel):
        channel = rt.settings.postmortem.channel
        if not channel:
            return ""
    refs = drafts.slack_refs(pm.incident_id)
    name = f"postmortem-{pm.incident_id}-v{pm.version}.md"
    text, blocks = postmortem_blocks.summary(pm, f"Full draft: `{name}` in the thread.")
    message = redact_strings({"text": text, "blocks": blocks}, redactor)
    if refs.get("channel") == channel and refs.get("ts"):
        rt.slack.chat_update(channel=channel, ts=refs["ts"], **message)
        ts = refs["ts"]
    else:
        ts = str(rt.slack.chat_postMessage(channel=channel, **message)["ts"])
        drafts.set_slack_refs(pm.incident_id, channel=channel, ts=ts)
    link = permalink(workspace, channel, ts)
    if link and link != pm.link:
        drafts.set_link(pm.incident_id, link, rt.knowledge.store)
    url = f"{rt.settings.slack.api_url}files.completeUploadExternal"
    document, record = prepare_egress(redactor, url, markdown(pm), "postmortem draft")
    rt.incidents.record_egress(pm.incident_id, record)
    rt.slack.files_upload_v2(
        channel=channel,
        thread_ts=ts,
        filename=name,
        title=f"Postmortem draft v{pm.version}: {pm.title}"[:250],
        content=document,
        initial_comment=f"Draft version {pm.version} ({pm.mode}).",
        request_file_info=False,
    )
    return channel


def _archived(rt: runtime.Runtime, channel: str) -> bool:
    try:
        return bool(rt.slack.conversations_info(channel=channel)["channel"].get("is_archived"))
    except SlackApiError:
        return False
