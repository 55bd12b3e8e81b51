"""`neutralize`, and every message the product builds for Slack with hostile text in every field that
comes from outside the code: no live mention or link survives in any text field."""

from __future__ import annotations

import re
import typing
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from pydantic import BaseModel

from tests.unit.test_blocks import NOW, _context, _report
from tests.unit.triage.context import context as realistic_context
from workers.knowledge.model import Triplet
from workers.models import SimilarIncident
from workers.postmortem.markup import to_markdown
from workers.postmortem.model import (
    ActionEntry,
    BlameFlag,
    DecisionNode,
    PostmortemDraft,
    Prose,
    TimelineEntry,
)
from workers.proposals.model import Approval, Proposal
from workers.slack import blocks, postmortem_blocks, proposal_blocks, report_blocks
from workers.slack.neutral import link, mention, neutralize
from workers.triage.report import SuggestedAction

HOSTILE = (
    " <!channel> <!here> <!everyone> <@U0VICTIM> <#C0SECRET> <!subteam^S0ONCALL|@oncall> "
    "<http://evil.example/x|click me> <mailto:a@evil.example> & <b> &lt;!here&gt; "
)
SAFE_LINK = "https://kb.example/INC-1"
# The only markup allowed to be live: the code's own mentions of Slack user ids, its own links and
# its block quotes (`>` opening a line).
ALLOWED = re.compile(r"<@U0[A-Z0-9]+>|<" + re.escape(SAFE_LINK) + r"\|[^<>|]*>|^>", re.M)


def test_neutralize_mentions_links_and_brackets() -> None:
    text = "<!here> ask <@U1> or <@U2|bob> in <#C9|inc-db>, see <https://x.io/a|runbook> & <mailto:a@b.c> <b>"
    out = neutralize(text, {"U1": "Alice"})
    assert out == "@here ask @Alice or @bob in #inc-db, see runbook &amp; mailto:a@b.c &lt;b&gt;"


def test_neutralize_reads_slack_escapes_and_is_stable() -> None:
    once = neutralize("&lt;!channel&gt; a &amp; b <!subteam^S1|@sre> <!date^1|today>")
    assert once == "@channel a &amp; b @sre today"
    assert neutralize(once) == once


def test_mention_and_link_accept_only_ids_and_plain_urls() -> None:
    assert mention("U0ALICE") == "<@U0ALICE>"
    assert mention("U0A> <!channel") == "U0A&gt; &lt;!channel"
    assert mention("<!here>") == "@here"
    assert link("https://kb.example/a", "pool | dry <!here>") == "<https://kb.example/a|pool / dry @here>"
    assert link("javascript:alert(1)", "x") == "x"
    assert link("https://a.example/|<!channel>", "x") == "x"


def test_markdown_reads_mentions_as_neutralize_does() -> None:
    for markup in ("<!here>", "<@U1|bob>", "<#C1|inc>", "<!subteam^S1|@sre>"):
        assert to_markdown(markup, {"U1": "Bob"}) == neutralize(markup, {"U1": "Bob"})


NOT_TEXT = {"ts", "thread_ts"}  # Slack timestamps: validated as numbers where they come in


def _poison(value: Any, annotation: Any = None) -> Any:
    """`value` with HOSTILE appended to every free-text string (not to literals or timestamps)."""
    if isinstance(value, BaseModel):
        hints = typing.get_type_hints(type(value))
        fields = [n for n in type(value).model_fields if n not in NOT_TEXT]
        return value.model_copy(update={n: _poison(getattr(value, n), hints.get(n)) for n in fields})
    if isinstance(value, list):
        args = typing.get_args(annotation)
        return [_poison(v, args[0] if args else None) for v in value]
    if isinstance(value, str) and typing.get_origin(annotation) is not typing.Literal:
        return value + HOSTILE
    return value


def _texts(message: Any) -> Iterator[str]:
    """Every string Slack renders: a message's `text`, and `text` fields of its blocks at any depth."""
    if isinstance(message, tuple):  # (text, blocks) as the builders return it
        yield message[0]
        message = message[1]
    if isinstance(message, dict):
        for key, value in message.items():
            if key == "text" and isinstance(value, str):
                yield value
            else:
                yield from _texts(value)
    elif isinstance(message, list):
        for item in message:
            yield from _texts(item)


def _assert_inert(name: str, message: Any) -> None:
    texts = list(_texts(message))
    assert texts, name
    for text in texts:
        rest = ALLOWED.sub("", text)
        assert "<" not in rest and ">" not in rest, f"{name}: live markup in {text!r}"
        assert not re.search(r"&(?!amp;|lt;|gt;)", rest), f"{name}: raw & in {text!r}"
        assert "U0VICTIM>" not in text and "evil.example/x|" not in text, name


def _draft() -> PostmortemDraft:
    return PostmortemDraft(
        incident_id="INC-1",
        title="Checkout 504s",
        channel_id="C1",
        mode="evidence-only",
        mode_reason="no LLM",
        reviewed_by="@alice",
        review="reviewed",
        generated_at=NOW,
        started_at=NOW - timedelta(minutes=40),
        resolved_at=NOW,
        prose=Prose(summary="pool exhausted", impact="checkout", detection="alert", resolution="rollback"),
        timeline=[TimelineEntry(at=NOW, what="rolled back", who="Bob", key=True)],
        decision_tree=[
            DecisionNode(id="H1", statement="pool", raised_by="bot", raised_at=NOW, state="confirmed")
        ],
        actions=[ActionEntry(at=NOW, kind="executed", action="rollback payments", detail="ok")],
        triplets=[Triplet(symptom="504s", root_cause="retry loop", fix="roll back")],
        blame=[BlameFlag(where="summary", sentence="Bob broke it", why="names", suggestion="the deploy")],
        gaps=["channel history: not_in_channel"],
    )


def _proposal(state: str) -> Proposal:
    return Proposal(
        id="P1",
        incident_id="INC-1",
        channel_id="C1",
        hypothesis_id="H1",
        action=SuggestedAction(action_type="restart", target="checkout-api", params={"replicas": "3"}),
        requested_by="U0ALICE",
        novel=False,
        policy_sha256="",
        approvals_needed=1,
        created_at=NOW,
        expires_at=NOW + timedelta(minutes=30),
        state=state,  # type: ignore[arg-type]
        reason="denied by the on-call",
        approvals=[Approval(user="U0BRUNO", at=NOW)],
    )


def test_every_message_the_product_builds_is_inert() -> None:
    ctx = _poison(realistic_context())
    ctx = ctx.model_copy(update={"messages": _poison(_context(["pool at 50/50"]).messages)})
    report = _poison(_report(2))
    match = _poison(SimilarIncident(record_id="INC-9", title="pool dry", score=0.5, root_cause="x", fix="y"))
    linked = match.model_copy(update={"link": SAFE_LINK})
    evil_link = match.model_copy(update={"link": "https://kb.example/a|<!channel>"})
    window = ctx.request.window
    messages: dict[str, Any] = {
        "placeholder": blocks.placeholder("U0ALICE" + HOSTILE, window, "UTC", "r-1"),
        "placeholder rerun": blocks.placeholder("U0ALICE", window, "UTC", "r-1", run=2),
        "failure": blocks.failure("r-1", "the worker stopped" + HOSTILE),
        "search hit": blocks.search_results("pool" + HOSTILE, [match, linked, evil_link]),
        "search miss": blocks.search_results("pool" + HOSTILE, []),
        "answer": report_blocks.answer(ctx, report, "UTC"),
        "answer rerun": report_blocks.answer(ctx, report, "UTC", run=2),
        "details": report_blocks.details(ctx, "UTC"),
        "postmortem": postmortem_blocks.summary(_poison(_draft()), "Full draft in the thread."),
        "buttons": proposal_blocks.buttons("P1", neutralize("restart" + HOSTILE), neutralize("x" + HOSTILE)),
    }
    novel_view = ctx.knowledge.model_copy(update={"novel": True}) if ctx.knowledge else None
    messages["novel"] = blocks.knowledge(novel_view) if novel_view else []
    for state in ("approved", "succeeded", "failed", "denied", "cancelled", "expired"):
        messages[f"outcome {state}"] = proposal_blocks.outcome(_poison(_proposal(state)))
    for name, message in messages.items():
        _assert_inert(name, message)
    assert "<@U0ALICE>" in messages["placeholder rerun"][0]  # the code's own mention still works
    assert f"<{SAFE_LINK}|" in str(messages["search hit"])
