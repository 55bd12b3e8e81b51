"""Drafting: the evidence-only draft from data alone, the LLM's prose around the same data parts,
the Markdown sections, and the knowledge-base record."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest

from tests.support.fake_llm import FakeLLM, Reply
from tests.unit.llm.test_client import budget, client
from tests.unit.postmortem.builders import at, gathered, hypothesis
from workers.evidence.tokens import TokenCounter
from workers.llm.prompts import PromptLoader
from workers.postmortem.draft import TITLE_MAX, draft
from workers.postmortem.markup import shorten
from workers.postmortem.milestones import Milestone
from workers.postmortem.model import TO_WRITE, PostmortemDraft
from workers.postmortem.record import to_record
from workers.postmortem.render import SECTIONS, markdown
from workers.redaction import ConsistentRedactor, EgressRecord

SUMMARY = "Killed the slow report query; the database pool drained"
SECRET = "xoxb-1234567890-abcdefghijklmnop"


def _draft(llm_client: object = None, summary: str = SUMMARY) -> tuple[PostmortemDraft, list[EgressRecord]]:
    sent: list[EgressRecord] = []
    pm = draft(
        gathered(),
        resolved_by="U1",
        summary=summary,
        llm=llm_client,  # type: ignore[arg-type]
        prompts=PromptLoader(),
        budget=budget(),
        redactor=ConsistentRedactor(),
        egress=sent.append,
        now=at(95),
    )
    return pm, sent


def test_evidence_only_draft_comes_from_the_data_with_prompts_for_the_prose() -> None:
    pm, sent = _draft()
    assert pm.mode == "evidence-only" and pm.mode_reason == "no LLM is configured" and sent == []
    p = pm.prose
    assert p.root_causes == ["orders-api database pool exhausted by slow queries"]
    assert (
        p.trigger.startswith(TO_WRITE)
        and p.went_well[0].startswith(TO_WRITE)
        and p.lucky[0].startswith(TO_WRITE)
    )
    assert p.impact.startswith(
        "Incident open 90 min (2026-03-01 09:00 → 10:30 UTC). "
        "Alerting from 09:00 to 10:20 (80 min): OrdersErrorRate orders-api."
    )
    assert "7 messages from 3 people; service: orders-api." in p.impact
    assert p.detection == (
        "Alert OrdersErrorRate orders-api (alertmanager) fired at 09:00 UTC. First reported in the channel "
        "by Alice Moreau at 09:01 UTC. First bot hypothesis at 09:10 UTC."
    )
    assert p.resolution == SUMMARY + ". Executed by the bot: restart orders-api (succeeded)."
    assert [(i.text, i.owner, i.type, i.source) for i in p.action_items] == [
        ("Alert on connection pool waits", "Chen Wei", "detect", "channel"),
        ("Write a runbook for draining the pool", "", "mitigate", "channel"),
    ]
    assert p.went_badly[0].startswith(
        "3 hypothesis(es) were pursued and then rejected or dropped: P1 (7 min); H2 (15 min); H3 (14 min)."
    )
    assert [t.model_dump() for t in pm.triplets] == [
        {"symptom": "orders API 503s", "root_cause": "orders-api database pool exhausted by slow queries",
         "fix": SUMMARY, "verified": True}
    ]  # fmt: skip
    assert [a.kind for a in pm.actions] == ["suggested", "denied", "executed"]
    assert pm.title == "orders API 503s: orders-api database pool exhausted by slow queries"


def test_the_timeline_is_ordered_and_holds_messages_hypotheses_verdicts_actions_and_the_resolution() -> None:
    pm, _ = _draft()
    moments = [e.at for e in pm.timeline]
    assert moments == sorted(moments)
    sources = {e.source for e in pm.timeline}
    assert sources == {"message", "alert", "bot", "hypothesis", "verdict", "action", "resolution"}
    assert [e.what for e in pm.timeline if e.key] == ["orders API throwing 503s"]
    kinds = [(f"{e.at:%H:%M}", e.kind) for e in pm.timeline if e.kind]
    assert kinds[:3] == [
        ("09:00", "alert firing: OrdersErrorRate orders-api (alertmanager)"),
        ("09:01", "first report"),
        ("09:05", "hypothesis raised"),  # Bruno's own, at the time he wrote it
    ]
    assert ("09:12", "hypothesis rejected") in kinds  # settled by Chen's reply
    assert ("10:20", "alert resolved: OrdersErrorRate orders-api (alertmanager), after 80 min") in kinds
    assert pm.timeline[-1].what == f"Incident resolved: {SUMMARY}" and pm.timeline[-1].who == "Alice Moreau"


def test_markdown_has_every_section_in_order_and_marks_the_evidence_only_draft() -> None:
    pm, _ = _draft()
    doc = markdown(pm)
    assert [h for h in re.findall(r"^## (.+)$", doc, re.M) if not h.startswith("Appendix")] == list(SECTIONS)
    assert "Drafted without an LLM: sections marked ✍️ are prompts for the humans" in doc
    assert (
        "| Started / resolved | 2026-03-01 09:00 / 2026-03-01 10:30 UTC (started at the first alert) |" in doc
    )
    assert "- **H3** ❌ rejected, 09:24" in doc and "- **H2** ➖ dropped, 09:25" in doc
    assert "| Alert on connection pool waits | Chen Wei | - | detect | channel |" in doc
    assert "Appendix: channel log (7 messages)" in doc and "Appendix" not in markdown(pm, appendix=False)


def test_the_record_is_a_bot_draft_that_search_can_use() -> None:
    pm, _ = _draft()
    record = to_record(pm)
    assert record.provenance == "bot" and record.review == "draft" and record.id == "INC-1"
    assert (
        record.root_causes == ["orders-api database pool exhausted by slow queries"] and record.trigger == ""
    )
    assert record.triplets == pm.triplets and "Appendix" not in record.body


@pytest.fixture(scope="module")
def tokens() -> TokenCounter:
    return TokenCounter.for_configured_model("gpt-4o-mini")


@pytest.fixture
def fake() -> Iterator[FakeLLM]:
    with FakeLLM() as server:
        yield server


def test_llm_prose_is_used_around_the_same_data_and_its_blame_is_flagged(
    fake: FakeLLM, tokens: TokenCounter
) -> None:
    prose = {
        "summary": "Orders failed for 90 minutes.",
        "impact": "About 3% of orders failed.",
        "detection": "An alert.",
        "root_causes": ["slow report query held connections"],
        "resolution": "Query killed.",
        "went_badly": ["Bruno forgot to add an index."],
        "open_questions": ["Why was the query slow?"],
    }
    fake.script(Reply(json.dumps(prose)))
    pm, sent = _draft(client(fake, tokens), summary=f"{SUMMARY} token {SECRET}")
    assert pm.mode == "llm" and pm.prose.summary == "Orders failed for 90 minutes."
    assert pm.prose.impact.startswith("Incident open 90 min") and pm.prose.impact.endswith(
        "About 3% of orders failed."
    )
    assert pm.prose.open_questions == ["Why was the query slow?"]  # every hypothesis was settled
    fired = "Alert OrdersErrorRate orders-api (alertmanager) fired at 09:00 UTC."
    assert pm.prose.detection.startswith(fired)
    assert pm.prose.detection.endswith("An alert.")  # the data's facts, then the model's words
    assert [f.sentence for f in pm.blame] == ["Bruno forgot to add an index."]
    assert [t.root_cause for t in pm.triplets] == ["orders-api database pool exhausted by slow queries"]
    assert len(sent) == 2 and SECRET not in json.dumps(fake.chat_requests()[0].body)


def test_an_llm_that_answers_nonsense_leaves_an_evidence_only_draft(
    fake: FakeLLM, tokens: TokenCounter
) -> None:
    fake.script(Reply("not json at all"), Reply("still not json"))
    pm, _ = _draft(client(fake, tokens))
    assert pm.mode == "evidence-only" and pm.mode_reason.startswith("the LLM gave no usable answer")
    assert pm.prose.trigger.startswith(TO_WRITE)


def test_a_long_title_keeps_the_cause_and_is_never_cut_mid_word() -> None:
    symptom = "checkout requests fail with 504 gateway timeouts for customers in every region " * 2
    statement = "orders-api database pool exhausted by slow report queries holding connections open"
    got = gathered(symptom=symptom)
    got.hypotheses = [hypothesis("H1", statement)]
    pm = draft(
        got, resolved_by="U1", summary=SUMMARY, llm=None, prompts=PromptLoader(), budget=budget(),
        redactor=ConsistentRedactor(), egress=lambda _r: None, now=at(95),
    )  # fmt: skip
    assert len(pm.title) <= TITLE_MAX and pm.title.endswith(f": {statement}")
    head = pm.title.split(": ", 1)[0].rstrip("…")
    assert symptom.startswith(head) and symptom[len(head)] == " "  # cut between words
    assert shorten("a b c", 10) == "a b c" and shorten("alpha beta gamma", 12) == "alpha beta…"


def test_a_past_incident_s_cause_is_quoted_as_theirs() -> None:
    got = gathered()
    got.hypotheses = [hypothesis("H1", "Same cause as INC-2024-17: v38 of orders-api leaked connections")]
    pm = draft(
        got, resolved_by="U1", summary="", llm=None, prompts=PromptLoader(), budget=budget(),
        redactor=ConsistentRedactor(), egress=lambda _r: None, now=at(95),
    )  # fmt: skip
    [node] = [n for n in pm.decision_tree if n.id == "H1"]
    assert node.statement == (
        "Same cause as past incident INC-2024-17, whose record says: “v38 of orders-api leaked connections”"
    )


def test_log_milestones_give_the_detection_delay_and_a_trigger_candidate_for_humans() -> None:
    got = gathered()
    got.milestones = [
        Milestone(kind="change", at=at(-20), what="config reloaded retry_max=3"),
        Milestone(kind="change", at=at(-12), what="deploy started version=v42"),
        Milestone(kind="first error", at=at(-10), what="ERROR pool exhausted"),
        Milestone(kind="change", at=at(50), what="rollback started version=v41"),
    ]
    pm = draft(
        got, resolved_by="U1", summary=SUMMARY, llm=None, prompts=PromptLoader(), budget=budget(),
        redactor=ConsistentRedactor(), egress=lambda _r: None, now=at(95),
    )  # fmt: skip
    assert "The first error was logged at 08:50 UTC, 10 min before anyone was told." in pm.prose.detection
    assert pm.prose.trigger == (
        f"{TO_WRITE}confirm or replace the candidate from the logs: a change at 08:48:00 UTC, 2 min before "
        "the first error: “deploy started version=v42”."
    )
    assert to_record(pm).trigger == ""  # a candidate is not a finding
    kinds = [(e.kind, e.source) for e in pm.timeline if e.source == "log"]
    assert kinds == [("change", "log"), ("change", "log"), ("first error", "log"), ("change", "log")]
