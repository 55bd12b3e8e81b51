"""Block Kit building blocks, and the small messages: placeholder, failure, search results.

Text that came from people, logs or the model goes through `workers.slack.neutral.neutralize`
before it is shown (quoting `<!channel>` must never ping a channel). Every builder stays inside
Slack's limits (3,000 characters a section, 50 blocks a message).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from workers.models import EvidenceView, IncidentContext, KnowledgeView, SimilarIncident, Window
from workers.slack import ids
from workers.slack.neutral import link, mention, neutralize

Block = dict[str, Any]
SECTION_MAX = 3000
LINE_MAX = 240
QUOTE_MAX = 500
EVIDENCE_SHOWN = 6
SIMILAR_SHOWN = 3
SEARCH_SHOWN = 8
_PARTIAL_ENTITY = re.compile(r"&[a-z]{0,3}$")


def clip(text: str, limit: int) -> str:
    """At most `limit` characters; never ends inside an escape such as `&amp;`."""
    return text if len(text) <= limit else _PARTIAL_ENTITY.sub("", text[: limit - 1]).rstrip() + "…"


def section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(text, SECTION_MAX)}}


def context(*parts: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": clip(p, SECTION_MAX)} for p in parts]}


def fmt_window(window: Window, zone: str) -> str:
    tz = ZoneInfo(zone)
    start, end = window.start.astimezone(tz), window.end.astimezone(tz)
    day = "" if start.date() == end.date() else f"{start:%b %d} "
    label = f"{day}{start:%H:%M}–{end:%H:%M} {start.tzname()} ({window.minutes} min)"
    return label + (f", from “{neutralize(window.phrase)}”" if window.phrase else ", the default window")


def placeholder(
    requester_id: str, window: Window, zone: str, run_id: str, run: int = 1
) -> tuple[str, list[Block]]:
    again = f" (run {run}, updating this board)" if run > 1 else ""
    who = mention(requester_id)
    text = f"Triage requested by {who}{again}: gathering context for {fmt_window(window, zone)}…"
    return text, [section(f":mag: {text}"), context(f"run id `{run_id}`")]


def failure(run_id: str, reason: str) -> tuple[str, list[Block]]:
    text = f"Triage failed: {neutralize(reason)}. Nothing else was changed."
    return text, [
        section(
            f":warning: *{text}*\nRun `/triage` again; if it keeps failing, give your admins the run id."
        ),
        context(f"run id `{run_id}`"),
    ]


def unconfirmed(run_id: str) -> tuple[str, list[Block]]:
    """The placeholder of a run Redis never confirmed as queued: it may still run and replace this."""
    text = "Triage not confirmed: my job queue (Redis) stopped answering while I queued it."
    return text, [
        section(
            f":warning: *{text}*\nIf it was queued, the answer replaces this message; if nothing "
            "changes within a few minutes, run `/triage` again."
        ),
        context(f"run id `{run_id}`"),
    ]


def when(at: datetime, zone: str) -> str:
    return f"{at.astimezone(ZoneInfo(zone)):%H:%M}"


def evidence(view: EvidenceView, zone: str) -> list[Block]:
    """The digest's best entries, one section each (quoted lines are redacted, verbatim)."""
    quoted = [e for e in view.entries if e.exemplar is not None and e.kind != "steady"][:EVIDENCE_SHOWN]
    service = neutralize(view.service) or "all services"
    if not quoted:
        return [section(f"*Log evidence* for `{service}`: nothing stood out.")]
    out = [section(f"*Log evidence* for `{service}`, strongest first:")]
    for e in quoted:
        baseline = f" (baseline {e.baseline_count})" if e.baseline_count is not None else ""
        ratio = f", {e.ratio:.1f}× the baseline rate" if e.kind == "surging" and e.ratio else ""
        span = (
            f" · {when(e.first_seen, zone)}–{when(e.last_seen, zone)}" if e.first_seen and e.last_seen else ""
        )
        quote = clip(neutralize(e.exemplar or ""), QUOTE_MAX)
        kind, severity = neutralize(e.kind), neutralize(e.severity)
        out.append(section(f"*{kind}* {severity} ×{e.count}{baseline}{ratio}{span}\n>{quote}"))
    approx = "" if view.exact else ", approximate"
    more = (
        f" · {len(view.entries) - len(quoted)} more in the digest" if len(view.entries) > len(quoted) else ""
    )
    cut = f", {view.cut} templates cut" if view.cut else ""
    sources = " · ".join(neutralize(s) for s in view.sources)
    digest = f"Digest {view.tokens} of {view.budget_tokens} tokens ({neutralize(view.encoding)}{approx}{cut})"
    out.append(context(f"{digest}{more} · {sources}"))
    return out


def match_text(m: SimilarIncident) -> str:
    title = link(m.link, m.title) if m.link else neutralize(m.title)
    lines = [f"*{title}* `{neutralize(m.record_id)}` (score {m.score:.2f})"]
    if m.root_cause:
        lines.append(f"Root cause: {clip(neutralize(m.root_cause), 600)}")
    if m.fix:
        lines.append(f"Fix: {clip(neutralize(m.fix), 600)}")
    if not m.root_cause and m.snippet:
        lines.append(f"_{clip(neutralize(m.snippet), 300)}_")
    return "\n".join(lines)


def knowledge(view: KnowledgeView) -> list[Block]:
    """Similar past incidents with feedback buttons, or a plain statement that this looks new."""
    if view.novel:
        return [
            section(
                f":new: *No similar past incident* (novelty {view.novelty:.2f}). {neutralize(view.reason)} "
                "This looks new: it needs human judgment."
            )
        ]
    out = [section(f"*Similar past incidents* (novelty {view.novelty:.2f}):")]
    for m in view.matches[:SIMILAR_SHOWN]:
        value = f"{m.record_id}|{view.incident_type}"
        out.append(section(match_text(m)))
        out.append(
            {
                "type": "actions",
                "block_id": clip(f"kb:{m.record_id}", 255),
                "elements": [
                    button("Same cause", ids.KB_SAME_CAUSE, value),
                    button("Not related", ids.KB_NOT_RELATED, value),
                ],
            }
        )
    return out


def button(label: str, action_id: str, value: str) -> Block:
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": label},
        "action_id": action_id,
        "value": value,
    }


def search_results(query: str, matches: list[SimilarIncident]) -> tuple[str, list[Block]]:
    """The ephemeral answer to `/triage search`."""
    if not matches:
        text = f"No past incident matches “{neutralize(query)}”."
        return text, [section(text)]
    text = f"{len(matches)} past incidents match “{neutralize(query)}”"
    return text, [section(f"*{text}:*"), *(section(match_text(m)) for m in matches[:SEARCH_SHOWN])]


def conversation(ctx: IncidentContext, zone: str, names: Mapping[str, str]) -> str:
    shown = ctx.messages
    if not shown:
        return "*Channel in this window*: no messages."
    head = f"*Channel in this window*: {ctx.messages_in_window} messages"
    head += f", the last {len(shown)} shown" if len(shown) < ctx.messages_in_window else ""
    lines = []
    for m in shown:
        replies = f" _({m.reply_count} replies)_" if m.reply_count else ""
        body = clip(neutralize(m.text, names).replace("\n", " "), LINE_MAX)
        lines.append(f"• `{when(m.at, zone)}` *{neutralize(m.author or m.user)}*: {body}{replies}")
    # Keep the newest lines when the section would overflow.
    while lines and len(head) + sum(len(line) + 1 for line in lines) > SECTION_MAX - 40:
        lines.pop(0)
    return head + "\n" + "\n".join(lines)
