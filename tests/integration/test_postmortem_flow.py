"""The postmortem through the real bot, worker, Redis and Slack stand-in: a 300-message incident is
replayed, triaged, argued over (Support / Reject clicks, people's own hypotheses), resolved, and the
draft is checked section by section, found by `/triage search` and by the next triage."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis

from bot.localstack import LocalStack
from tests.integration.conftest import PATIENCE, bot_messages, new_channel, wait_answer, wait_until
from tests.support.fake_llm import FakeLLM
from tests.support.prompt_evidence import items_of
from workers import audit
from workers.postmortem.render import SECTIONS
from workers.slack import ids

PEOPLE = [
    ("U0ALICE", "Alice Moreau"),
    ("U0BRUNO", "Bruno Silva"),
    ("U0CHEN", "Chen Wei"),
    ("U0DANA", "Dana Okafor"),
]
RESOLUTION = "Rolled back payments-svc to v41; the connection pool drained and checkout recovered"


def _llm_answer(body: dict[str, Any]) -> str:
    """Triage: two hypotheses citing real channel messages. Postmortem: prose, with one sentence
    that blames a person (the blameless check must flag it)."""
    system = body["messages"][0]["content"]
    if "prose sections of a blameless postmortem" in system:
        return json.dumps(
            {
                "summary": "Checkout timed out for 90 minutes because payments-svc exhausted its pool.",
                "impact": "About 12% of checkouts failed between the alert and the rollback.",
                "detection": "CheckoutLatencyHigh fired; Alice opened the channel.",
                "root_causes": ["payments-svc connection pool exhausted by client retries"],
                "trigger": "Release v42 doubled the client retry count.",
                "resolution": RESOLUTION,
                "went_well": ["The alert fired within two minutes."],
                "went_badly": ["Bruno made a typo in the retry setting and nobody caught it."],
                "lucky": ["Traffic was low for a Sunday."],
                "action_items": [
                    {"text": "Alert on pool wait time", "owner": "Bruno Silva", "type": "detect"}
                ],
                "open_questions": ["Why did the canary not catch it?"],
            }
        )
    shown = [(m["id"], m["text"]) for m in items_of(body, "message")]
    pool = next((ts, text) for ts, text in reversed(shown) if "pool" in text)
    dns = next((ts, text) for ts, text in reversed(shown) if "dns" in text.lower())
    return json.dumps(
        {
            "summary": {
                "what": "Checkout requests time out",
                "cause": "payments-svc connection pool exhausted",
                "cause_confidence": "medium",
                "next": "Check pool wait time",
            },
            "hypotheses": [
                {
                    "statement": "payments-svc connection pool exhausted by client retries",
                    "confidence": "medium",
                    "evidence": [{"kind": "message", "id": pool[0], "quote": pool[1][:25]}],
                    "actions": [{"action_type": "rollback", "target": "payments-svc"}],
                },
                {
                    "statement": "DNS lookups for payments-svc time out on some nodes",
                    "confidence": "low",
                    "evidence": [{"kind": "message", "id": dns[0], "quote": dns[1][:20]}],
                },
            ],
        }
    )


@pytest.fixture
def llm() -> Iterator[FakeLLM]:
    with FakeLLM(default=_llm_answer) as server:
        yield server


def _replay(stack: LocalStack, channel: str, now: datetime) -> tuple[list[str], list[str]]:
    """300 messages over 100 minutes (threads, an alert firing and resolving, pins, people's own
    hypotheses, action items); returns the ts of the pinned messages and their texts."""
    ws = stack.standin.state
    for uid, real in PEOPLE:
        ws.add_user(uid, real.split()[0].lower(), real)
    driver = stack.driver()
    start = now - timedelta(minutes=100)
    script: list[tuple[str, str, int | None]] = [  # (user, text, reply to script index)
        ("alert", "[FIRING:1] CheckoutLatencyHigh payments-svc p99 2.4s", None),
        ("U0ALICE", "checkout p99 is through the roof, opening the incident", None),
        ("U0BRUNO", "hypothesis: DNS resolution is flaky on node pool b", None),
        ("U0CHEN", "ruled out: dig answers in 2 ms from every node", 2),
        ("U0DANA", "theory: payments-svc connection pool exhausted by retries", None),
        ("U0ALICE", "confirmed: pool wait time is pinned at 100%", 4),
        ("U0BRUNO", "payments-svc pool at 50/50 in use, waits climbing", None),
    ]
    fillers = [
        "looking at the dashboards for checkout",
        "error rate on payments-svc still at 12%",
        "no deploys on the gateway today",
        "retries per request went from 1 to 3 after v42",
        "customers are reporting failed payments",
    ]
    n = 0
    while len(script) < 289:
        parent = len(script) - 1 if n % 7 == 6 else None
        user = PEOPLE[n % len(PEOPLE)][0]
        script.append((user, f"{fillers[n % len(fillers)]} ({n})", parent))
        n += 1
    script += [
        ("U0CHEN", "dns errors in the resolver logs are the usual background noise", None),
        ("U0ALICE", "action item: <@U0BRUNO> add an alert on pool wait time", None),
        ("U0DANA", "follow-up: add a runbook step for rolling back payments-svc", None),
        ("U0BRUNO", "rolling back payments-svc to v41 now", None),
        ("U0CHEN", "pool is draining, waits back to normal", None),
        ("U0ALICE", "checkout p99 back under 300 ms", None),
        ("alert", "[RESOLVED] CheckoutLatencyHigh payments-svc", None),
        ("U0DANA", "customers confirm payments go through", None),
        ("U0ALICE", "keeping the channel open for another 10 minutes", None),
        ("U0BRUNO", "I'll write up the retry change", None),
        ("U0CHEN", "thanks all", None),
    ]
    assert len(script) == 300
    stamps: list[str] = []
    for i, (user, text, parent) in enumerate(script):
        ts = f"{(start + timedelta(seconds=20 * i)).timestamp():.6f}"
        thread = stamps[parent] if parent is not None else None
        if user == "alert":
            message = {
                "type": "message",
                "subtype": "bot_message",
                "bot_id": "B0ALERTS",
                "username": "Alertmanager",
                "text": text,
            }
            stamps.append(ws.insert(channel, message, ts=ts, thread_ts=thread))
        else:
            stamps.append(ws.add_message(channel, user, text, ts=ts, thread_ts=thread))
            driver.message_event(channel, user, text, stamps[-1], thread_ts=thread)
    pinned = [1, 5, 6, 60, 120, 200, 292, 295]
    for i in pinned:
        ws.add_reaction(channel, stamps[i], "pushpin", "U0ALICE")
    return [stamps[i] for i in pinned], [script[i][1] for i in pinned]


def _client(stack: LocalStack) -> redis.Redis:
    return redis.Redis.from_url(stack.redis_url, decode_responses=True)


def _summary_message(stack: LocalStack, channel: str) -> dict[str, Any] | None:
    return next((m for m in bot_messages(stack, channel) if "Postmortem draft" in str(m.get("blocks"))), None)


def _uploaded(stack: LocalStack) -> str:
    """The one file the bot uploaded, once its bytes have arrived."""
    ws = stack.standin.state
    assert ws.wait_for(lambda: len(ws.files()) == 1 and ws.file_content(ws.files()[0]["id"]), PATIENCE)
    return (ws.file_content(ws.files()[0]["id"]) or b"").decode()


def test_a_300_message_incident_gets_a_full_draft_that_the_next_triage_finds(
    make_stack: Callable[..., LocalStack], llm: FakeLLM
) -> None:
    stack = make_stack(
        env={
            "OPENAI_BASE_URL": llm.base_url,
            "OPENAI_API_KEY": "sk-test-key",
            "LLM_MODEL": "gpt-4o-mini",
            "INCIDENT_HISTORY_LIMIT": "200",
        }
    )
    channel, name = new_channel(stack, prefix="inc-checkout")
    pinned_ts, pinned_texts = _replay(stack, channel, datetime.now(UTC))
    driver = stack.driver()
    driver.slash_command("checkout 504s last 2h", user_id="U0ALICE", channel_id=channel, channel_name=name)
    answer = wait_answer(stack, channel, timeout=PATIENCE)
    votes = {
        e["value"].split("|")[1]: e
        for b in answer["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] in (ids.HYP_SUPPORT, ids.HYP_REJECT)
    }
    board = sorted(votes)
    assert len(board) == 2, answer["blocks"]
    [incident] = [
        e["value"] for b in answer["blocks"] if b["type"] == "actions" for e in b["elements"]
        if e["action_id"] == ids.INCIDENT_RESOLVE
    ]  # fmt: skip
    pool_id, dns_id = board  # H1 pool (ranked first), H2 DNS
    for action_id, hypothesis, user in (
        (ids.HYP_SUPPORT, pool_id, "U0CHEN"),
        (ids.HYP_SUPPORT, pool_id, "U0DANA"),
        (ids.HYP_REJECT, dns_id, "U0CHEN"),
    ):
        resp = driver.block_action(
            action_id, f"{incident}|{hypothesis}", user_id=user, channel_id=channel, message_ts=answer["ts"]
        )
        assert resp.status == 200
    client = _client(stack)
    assert wait_until(lambda: client.xlen(f"ic:incident:{incident}:timeline") >= 5, PATIENCE)
    rollback = {"action_type": "rollback", "target": "payments-svc"}
    audit.record(client, incident, "denied", by="U0ALICE", action=rollback, reason="requester cannot approve")
    audit.record(client, incident, "executed", by="U0BRUNO", action=rollback, result="succeeded")

    driver.slash_command(f"resolve {RESOLUTION}", user_id="U0ALICE", channel_id=channel, channel_name=name)
    assert stack.standin.wait_for(lambda: _summary_message(stack, channel) is not None, PATIENCE), stack.log(
        "worker-0"
    )
    summary = _summary_message(stack, channel)
    assert summary is not None
    doc = _uploaded(stack)

    headings = re.findall(r"^## (.+)$", doc, re.M)
    assert [h for h in headings if not h.startswith("Appendix")] == list(SECTIONS)
    timeline = doc.split("## Timeline", 1)[1].split("## Detection", 1)[0]
    positions = [timeline.find(text) for text in pinned_texts]
    assert all(p >= 0 for p in positions) and positions == sorted(positions), positions
    assert sum(line.startswith("- ") and "📌" in line for line in timeline.splitlines()) == len(pinned_ts)
    stored_draft = json.loads(client.get(f"ic:postmortem:{incident}") or "{}")
    moments = [datetime.fromisoformat(e["at"]) for e in stored_draft["timeline"]]
    assert moments == sorted(moments) and stored_draft["messages_read"] == 300
    tree = doc.split("## Decision tree", 1)[1].split("## Actions taken", 1)[0]
    assert f"**{pool_id}** ✅ confirmed" in tree and f"**{dns_id}** ❌ rejected" in tree
    assert "**P1** ❌ rejected" in tree and "**P2** ✅ confirmed" in tree  # people's own hypotheses
    assert "Reject from Chen Wei" in tree and "Support from Dana Okafor" in tree
    actions = doc.split("## Actions taken", 1)[1].split("## What went well", 1)[0]
    assert "denied: `rollback payments-svc` by Alice Moreau (requester cannot approve)" in actions
    assert "executed: `rollback payments-svc` by Bruno Silva (succeeded)" in actions
    blame = doc.split("## Blameless review", 1)[1]
    assert "Bruno made a typo" in blame and "Try:" in blame
    # The model's "Alert on pool wait time" is the channel's own item, kept as the people wrote it.
    assert "| Add an alert on pool wait time | Bruno Silva | - | detect | channel |" in doc
    assert "Alert on pool wait time |" not in doc
    assert "Appendix: channel log (300 messages)" in doc
    triplets = doc.split("## Triplets", 1)[1].split("## Blameless review", 1)[0].strip().splitlines()
    assert triplets == [  # Dana's theory and the bot's H1 are one cause, so one triplet
        "- symptom: checkout 504s → root cause: payments-svc connection pool exhausted by retries → "
        f"fix: {RESOLUTION} (verified)"
    ]

    stored = json.loads(client.get(f"ic:kb:record:{incident}") or "{}")
    assert stored["provenance"] == "bot" and stored["review"] == "draft" and stored["links"]

    # A second trigger ("Mark resolved" on the triage answer) drafts version 2 of the same draft,
    # edits the same summary message and adds the new file in its thread.
    driver.block_action(
        ids.INCIDENT_RESOLVE, incident, user_id="U0BRUNO", channel_id=channel, message_ts=answer["ts"]
    )
    assert wait_until(
        lambda: json.loads(client.get(f"ic:postmortem:{incident}") or "{}").get("version") == 2, PATIENCE
    )
    assert stack.standin.wait_for(lambda: len(stack.standin.state.files()) == 2, PATIENCE)
    summaries = [m for m in bot_messages(stack, channel) if "Postmortem draft" in str(m.get("blocks"))]
    assert [m["ts"] for m in summaries] == [summary["ts"]] and "Version 2" in str(summaries[0]["blocks"])

    approve = next(
        e for b in summary["blocks"] if b["type"] == "actions" for e in b["elements"]
        if e["action_id"] == ids.POSTMORTEM_APPROVE
    )  # fmt: skip
    driver.block_action(
        ids.POSTMORTEM_APPROVE,
        approve["value"],
        user_id="U0DANA",
        channel_id=channel,
        message_ts=summary["ts"],
    )
    assert wait_until(
        lambda: json.loads(client.get(f"ic:kb:record:{incident}") or "{}").get("review") == "reviewed",
        PATIENCE,
    )

    env = {**os.environ, "REDIS_URL": stack.redis_url}
    cli = [sys.executable, "-m", "bot.cli", "--env-file", os.devnull, "kb"]
    shown = subprocess.run(
        [*cli, "show", incident, "--format", "md"], env=env, capture_output=True, text=True, timeout=PATIENCE
    )
    assert shown.stdout.startswith("# Postmortem: checkout 504s: payments-svc connection pool exhausted")
    assert "| Status | reviewed by <@U0DANA> (version 2) |" in shown.stdout
    exported = subprocess.run(
        [*cli, "export-triplets"], env=env, capture_output=True, text=True, timeout=PATIENCE
    )
    [row] = [json.loads(line) for line in exported.stdout.splitlines()]
    assert row["record_id"] == incident and row["verified"] is True and row["review"] == "reviewed"
    assert {n["id"]: n["state"] for n in row["decision_tree"]} == {
        "P1": "rejected", "P2": "confirmed", pool_id: "confirmed", dns_id: "rejected"
    }  # fmt: skip

    driver.slash_command(
        "search connection pool exhausted retries", user_id="U0BRUNO", channel_id=channel, channel_name=name
    )
    assert stack.standin.wait_for(
        lambda: any(incident in str(p) for p in stack.standin.state.response_posts()), PATIENCE
    )

    channel2, name2 = new_channel(stack, prefix="inc-checkout")
    stack.standin.state.add_message(channel2, "U0BRUNO", "payments-svc pool at 50/50 in use again")
    stack.standin.state.add_message(channel2, "U0BRUNO", "dns looks fine")
    driver.slash_command(
        "checkout 504s, payments-svc connection pool exhausted",
        user_id="U0BRUNO",
        channel_id=channel2,
        channel_name=name2,
    )
    second = wait_answer(stack, channel2, timeout=PATIENCE)
    similar = [
        b["text"]["text"]
        for b in second["blocks"]
        if b["type"] == "section" and f"`{incident}` (score" in b["text"]["text"]
    ]
    assert len(similar) == 1 and "/archives/" in similar[0]  # linked to the draft's summary message
    assert "Root cause: payments-svc connection pool exhausted by retries" in similar[0]
    client.close()


def test_archiving_the_channel_drafts_the_postmortem_in_the_postmortem_channel(
    make_stack: Callable[..., LocalStack],
) -> None:
    stack = make_stack(env={"POSTMORTEM_CHANNEL": "C0PMORTEM"})
    stack.standin.state.add_channel("C0PMORTEM", "postmortems")
    channel, _name = new_channel(stack)
    driver = stack.driver()
    ts = stack.standin.state.add_message(channel, "U0ALICE", "queue consumers stuck")
    driver.message_event(channel, "U0ALICE", "queue consumers stuck", ts)
    client = _client(stack)
    assert wait_until(lambda: client.get(f"ic:channel:{channel}:incident") is not None, PATIENCE)
    incident = client.get(f"ic:channel:{channel}:incident")
    stack.standin.state.archive_channel(channel)
    assert driver.event({"type": "channel_archive", "channel": channel, "user": "U0ALICE"}).status == 200
    assert stack.standin.wait_for(lambda: _summary_message(stack, "C0PMORTEM") is not None, PATIENCE), (
        stack.log("worker-0")
    )
    posted = str(_summary_message(stack, "C0PMORTEM"))
    assert "Evidence-only draft" in posted and "no LLM is configured" in posted
    assert not bot_messages(stack, channel)  # nothing posted to the archived channel
    record = json.loads(client.get(f"ic:kb:record:{incident}") or "{}")
    assert record["review"] == "draft" and record["tags"] == ["postmortem", "evidence-only"]
    client.close()
