"""`/triage` through the real HTTP endpoint, real Redis and a real worker process."""

from __future__ import annotations

import re
import time
import urllib.request

import pytest

from bot.localstack import LocalStack
from bot.standin.blockkit import validate_blocks
from tests.integration.conftest import (
    PATIENCE,
    bot_messages,
    details_reply,
    is_answer,
    job_ids,
    jobs_enqueued,
    new_channel,
    wait_answer,
)


def test_signed_triage_posts_placeholder_then_edits_it_into_the_answer(stack: LocalStack) -> None:
    channel, name = new_channel(stack)
    ws = stack.standin.state
    ts = ws.add_message(
        channel, "U0BRUNO", "gateway 504s on /checkout <!channel>", ts=f"{time.time() - 120:.6f}"
    )
    ws.add_message(channel, "U0BRUNO", "older than the window", ts=f"{time.time() - 3600:.6f}")
    resp = stack.driver().slash_command(
        "checkout slow last 10m", user_id="U0ALICE", channel_id=channel, channel_name=name
    )
    assert resp.status == 200
    assert resp.body == ""  # acked with nothing: the answer comes in the channel

    answer = wait_answer(stack, channel)
    posts = [c for c in stack.standin.calls_to("chat.postMessage") if c.args.get("channel") == channel]
    assert "gathering context" in posts[0].args["text"]  # the placeholder
    assert answer["ts"] == posts[0].response["ts"]  # edited in place, not a second message
    assert len(bot_messages(stack, channel)) == 1
    updates = [c.args["text"] for c in stack.standin.calls_to("chat.update") if c.args["ts"] == answer["ts"]]
    assert "Gathered" in updates[0] and "ranking known patterns" in updates[0]  # progress, then the answer
    text = "\n".join(b["text"]["text"] for b in answer["blocks"] if b.get("type") == "section")
    assert "*Requested by* @Alice Moreau" in text
    assert "checkout slow" in text and "from “last 10m”" in text
    assert "*What's going on*" in text and "*Likely cause*" in text and "*What to do next*" in text
    assert validate_blocks(answer["blocks"]) == []
    details = details_reply(stack, channel, answer)
    assert len(posts) == 2 and posts[1].args["thread_ts"] == answer["ts"]
    conversation = str(details["blocks"])
    assert "Bruno Silva*: gateway 504s on /checkout @channel" in conversation  # quoted without pinging
    assert "<!channel>" not in conversation and "older than the window" not in conversation
    assert validate_blocks(details["blocks"]) == []
    assert ts  # the seeded message exists in the stand-in


def test_answer_says_evidence_only_mode(stack: LocalStack) -> None:
    channel, name = new_channel(stack)
    stack.driver().slash_command("", user_id="U0ALICE", channel_id=channel, channel_name=name)
    answer = wait_answer(stack, channel)
    footer = answer["blocks"][-1]["elements"][0]["text"]
    assert footer.startswith("Evidence-only mode: no LLM is configured.")
    assert "the default window" in str(answer["blocks"])


@pytest.mark.parametrize(
    "signing",
    [{"tamper": True}, {"secret": "not-the-signing-secret"}, {"timestamp_offset": -6 * 60}],
    ids=["tampered-body", "wrong-secret", "stale-timestamp"],
)
def test_bad_signatures_are_rejected_and_nothing_is_enqueued(stack: LocalStack, signing: dict) -> None:
    channel, name = new_channel(stack)
    before_jobs, before_calls = job_ids(stack), len(stack.standin.calls)
    resp = stack.driver().slash_command(
        "since 10:40", user_id="U0ALICE", channel_id=channel, channel_name=name, **signing
    )
    assert resp.status == 401
    time.sleep(0.3)  # anything wrongly started would have reached Redis or Slack by now
    assert not job_ids(stack) - before_jobs  # no new job (an old one may have expired meanwhile)
    assert len(stack.standin.calls) == before_calls
    assert bot_messages(stack, channel) == []


def test_help_is_ephemeral(stack: LocalStack) -> None:
    channel, name = new_channel(stack)
    resp = stack.driver().slash_command("help", user_id="U0ALICE", channel_id=channel, channel_name=name)
    assert resp.status == 200
    body = resp.json()
    assert body.get("response_type", "ephemeral") == "ephemeral"
    assert "`/triage status`" in body["text"] and "last 30 minutes" in body["text"]
    assert bot_messages(stack, channel) == []


def test_bad_window_gets_an_ephemeral_explanation_and_no_job(stack: LocalStack) -> None:
    channel, name = new_channel(stack)
    before = jobs_enqueued(stack)
    resp = stack.driver().slash_command(
        "since 25:99", user_id="U0ALICE", channel_id=channel, channel_name=name
    )
    assert resp.status == 200
    assert "'25:99' is not a time of day" in resp.json()["text"]
    assert jobs_enqueued(stack) == before
    assert bot_messages(stack, channel) == []


def test_not_in_channel_tells_the_user_how_to_invite(stack: LocalStack) -> None:
    channel, name = new_channel(stack, member=False)
    resp = stack.driver().slash_command("", user_id="U0ALICE", channel_id=channel, channel_name=name)
    assert resp.status == 200
    assert stack.standin.wait_for(lambda: len(stack.standin.state.response_posts()) > 0, PATIENCE)
    posts = [p for p in stack.standin.state.response_posts() if p["channel"] == channel]
    assert posts and "/invite @incident-copilot" in posts[-1]["text"]
    assert posts[-1].get("response_type") == "ephemeral"


def test_status_reports_the_incident_and_its_runs(stack: LocalStack) -> None:
    channel, name = new_channel(stack)
    driver = stack.driver()
    driver.slash_command("", user_id="U0ALICE", channel_id=channel, channel_name=name)
    wait_answer(stack, channel)
    driver.slash_command("status", user_id="U0BRUNO", channel_id=channel, channel_name=name)
    assert stack.standin.wait_for(
        lambda: any(p["channel"] == channel for p in stack.standin.state.response_posts()), PATIENCE
    )
    post = next(p for p in stack.standin.state.response_posts() if p["channel"] == channel)
    assert "*Incident* `INC-" in post["text"] and "Triage runs: 1" in post["text"]


def test_rate_limited_update_is_retried_after_retry_after(stack: LocalStack) -> None:
    channel, name = new_channel(stack)
    stack.standin.rate_limit("chat.update", count=1, retry_after=1)
    started = time.monotonic()
    stack.driver().slash_command("", user_id="U0ALICE", channel_id=channel, channel_name=name)
    wait_answer(stack, channel)
    assert time.monotonic() - started >= 1.0  # it waited as told
    statuses = [c.status for c in stack.standin.calls_to("chat.update") if c.args.get("channel") == channel]
    assert statuses == [429, 200, 200]  # the progress edit, retried once; then the answer


def test_long_conversation_stays_within_block_kit_limits(stack: LocalStack) -> None:
    channel, name = new_channel(stack)
    now = time.time()
    for i in range(60):
        stack.standin.state.add_message(
            channel, "U0BRUNO", f"update {i}: " + "x" * 900, ts=f"{now - 600 + i:.6f}"
        )
    stack.driver().slash_command("last 15m", user_id="U0ALICE", channel_id=channel, channel_name=name)
    answer = wait_answer(stack, channel)
    details = details_reply(stack, channel, answer)
    assert validate_blocks(answer["blocks"]) == [] and validate_blocks(details["blocks"]) == []
    assert "60 messages, the last" in str(details["blocks"])
    assert "update 59:" in str(details["blocks"])  # the newest survive trimming


def test_permanent_failure_is_reported_in_the_channel_with_the_run_id(stack: LocalStack) -> None:
    channel, name = new_channel(stack)
    stack.standin.fail("chat.update", "msg_too_long", count=3)  # the first try and both retries
    stack.driver().slash_command("", user_id="U0ALICE", channel_id=channel, channel_name=name)
    assert stack.standin.wait_for(
        lambda: any("Triage failed" in (m.get("text") or "") for m in bot_messages(stack, channel)), PATIENCE
    )
    message = bot_messages(stack, channel)[0]
    assert message["text"] == "Triage failed: Slack refused the answer. Nothing else was changed."
    assert "run id `r-" in str(message["blocks"])
    assert not is_answer(message)


def test_health_endpoints(stack: LocalStack) -> None:
    with urllib.request.urlopen(f"{stack.base_url}/healthz", timeout=PATIENCE) as r:
        assert r.status == 200
    with urllib.request.urlopen(f"{stack.base_url}/readyz", timeout=PATIENCE) as r:
        assert r.status == 200 and b'"redis": true' in r.read()


def test_metrics_show_commands_ack_latency_jobs_and_queue_depth(stack: LocalStack) -> None:
    channel, name = new_channel(stack)
    stack.driver().slash_command("", user_id="U0ALICE", channel_id=channel, channel_name=name)
    wait_answer(stack, channel)
    with urllib.request.urlopen(f"{stack.base_url}/metrics", timeout=PATIENCE) as resp:
        assert resp.headers["Content-Type"].startswith("text/plain")
        text = resp.read().decode()
    assert re.search(r'incident_copilot_commands_total\{outcome="enqueued",sub="triage"\} [1-9]', text)
    assert re.search(r'incident_copilot_ack_seconds_bucket\{command="triage",le="3\.0"\} [1-9]', text)
    assert re.search(r'incident_copilot_ack_seconds_count\{command="triage"\} [1-9]', text)
    assert re.search(r'incident_copilot_job_seconds_count\{type="triage"\} [1-9]', text)
    assert re.search(
        r'incident_copilot_jobs_total\{mode="evidence-only",outcome="answered",type="triage"\} [1-9]', text
    )
    assert 'incident_copilot_queue_depth{queue="triage"}' in text
