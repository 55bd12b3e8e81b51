from datetime import UTC, datetime, timedelta

from bot.standin.blockkit import validate_blocks
from workers.models import ChannelMessage, Incident, IncidentContext, SimilarIncident, TriageRequest, Window
from workers.slack import blocks, ids, report_blocks
from workers.triage.report import (
    MAX_HYPOTHESES,
    MAX_TEXT,
    ClassifiedAction,
    EvidenceRef,
    Hypothesis,
    SuggestedAction,
    Summary,
    TriageReport,
)

NOW = datetime(2026, 3, 14, 11, 10, tzinfo=UTC)


def _context(texts: list[str], gaps: list[str] | None = None) -> IncidentContext:
    window = Window(start=NOW - timedelta(minutes=30), end=NOW, phrase="last 30m")
    request = TriageRequest(
        run_id="r-1", incident_id="INC-1", team_id="T", channel_id="C1", channel_name="inc-x",
        requester_id="U1", text="db <!channel>", window=window, placeholder_ts="1.0", requested_at=NOW,
    )  # fmt: skip
    messages = [
        ChannelMessage(
            ts=f"{(NOW - timedelta(minutes=20)).timestamp() + i:.6f}", user="U2", author="Bob", text=t
        )
        for i, t in enumerate(texts)
    ]
    incident = Incident(id="INC-1", channel_id="C1", started_at=NOW, requester="U1")
    return IncidentContext(
        request=request, incident=incident, channel_name="inc-x", requester_name="Alice",
        messages=messages, messages_in_window=len(messages), gaps=gaps or [],
    )  # fmt: skip


def _report(hypotheses: int = 2, *, mode: str = "evidence-only", novel: bool = False) -> TriageReport:
    long = "x" * MAX_TEXT
    return TriageReport(
        mode=mode,  # type: ignore[arg-type]
        mode_reason="no LLM is configured",
        summary=Summary(
            what="504s on checkout", cause="pool exhausted", cause_confidence="low", next="check"
        ),
        hypotheses=[
            Hypothesis(
                id=f"H{i + 1}",
                statement=f"hypothesis {i} <!channel> {long}",
                confidence="low",
                evidence=[EvidenceRef(kind="log", id=f"T{i:08x}", quote=long) for _ in range(12)],
                checks=[long] * 6,
                actions=[SuggestedAction(action_type="rollback", target="payments-svc", rationale=long)] * 4,
                classified=[
                    ClassifiedAction(
                        action=SuggestedAction(action_type="rollback", target="payments-svc", rationale=long),
                        level="suggest",
                        written="act",
                        reasons=["the policy says act for rollback", "novel incident: capped at suggest"],
                    )
                ]
                * 4,
            )
            for i in range(hypotheses)
        ],
        novel=novel,
        novelty_reason="nothing similar",
        action_cap="suggest" if novel else None,
    )


def test_answer_is_valid_block_kit_and_says_what_it_is() -> None:
    ctx = _context(["pool exhausted"], gaps=["channel info: Slack answered ratelimited"])
    text, answer = report_blocks.answer(ctx, _report(), "UTC")
    assert validate_blocks(answer) == []
    rendered = str(answer)
    assert "*Reported*: db @channel" in rendered and "<!channel>" not in rendered
    assert "Gap in the evidence" in rendered and "ratelimited" in rendered
    assert "Evidence-only mode: no LLM is configured." in rendered
    assert "*What's going on*: 504s on checkout" in rendered and "*Likely cause* (low confidence)" in rendered
    buttons = [e["action_id"] for b in answer if b["type"] == "actions" for e in b["elements"]]
    assert buttons == [ids.HYP_SUPPORT, ids.HYP_REJECT, ids.HYP_NEED_DATA] * 2 + [ids.INCIDENT_RESOLVE]
    assert text == "Triage: #inc-x: pool exhausted"


def test_the_largest_possible_board_stays_within_block_kit_limits() -> None:
    ctx = _context(["x"])
    _, answer = report_blocks.answer(ctx, _report(MAX_HYPOTHESES, novel=True), "UTC")
    assert validate_blocks(answer) == [] and len(answer) < 50
    assert "This looks novel" in str(answer) and "_(novel incident: capped at suggest)_" in str(answer)


def test_huge_conversation_goes_to_the_details_reply_trimmed_to_the_newest_lines() -> None:
    _, details = report_blocks.details(_context([f"line {i} " + "y" * 2000 for i in range(40)]), "UTC")
    assert validate_blocks(details) == []
    conversation = next(
        b["text"]["text"] for b in details if "Channel in this window" in b.get("text", {}).get("text", "")
    )
    assert "line 39" in conversation and "line 0 " not in conversation


def test_failure_message_names_the_run_id() -> None:
    text, failure = blocks.failure("r-abc", "the worker running it stopped before it finished")
    assert (
        text == "Triage failed: the worker running it stopped before it finished. Nothing else was changed."
    )
    assert "r-abc" in str(failure) and validate_blocks(failure) == []


def test_a_similar_incident_links_to_its_postmortem_without_breaking_the_markup() -> None:
    m = SimilarIncident(
        record_id="INC-7", title="pool <ran> dry | again", score=0.6, link="https://wiki.example.com/pm/7"
    )
    assert blocks.match_text(m).startswith(
        "*<https://wiki.example.com/pm/7|pool &lt;ran&gt; dry / again>* `INC-7`"
    )
    assert blocks.match_text(m.model_copy(update={"link": ""})).startswith("*pool &lt;ran&gt; dry | again*")
