"""The guarded endpoint, through the real bot process: hostile requests get 4xx, never 5xx, and leave
no traceback in the bot's log (the figures at scale: tests/benchmarks/bench_endpoint_fuzz.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.localstack import LocalStack
from tests.support.endpoint_fuzz import FORM, JSON, Case, cases, problems_in_log, send, send_streaming

REFUSED = {"unsigned", "forged", "tampered", "bad_timestamp", "stale"}


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with LocalStack(tmp_path_factory.mktemp("guard"), workers=0) as running:
        running.standin.state.add_user("U0ALICE", "alice", "Alice Moreau")
        running.standin.state.add_channel("C0FUZZ01", "inc-fuzz", is_member=True)
        yield running


def bot_log(stack: LocalStack) -> str:
    return Path(stack.workdir / "bot.log").read_text(errors="replace")


@settings(
    max_examples=250,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(data=st.data())
def test_fuzzed_requests_get_4xx_or_2xx_never_5xx(guarded: LocalStack, data: st.DataObject) -> None:
    case = data.draw(cases(guarded.standin.response_url("fuzz")))
    status, _, _ = send(guarded.events_url, case, guarded.signing_secret)
    assert status < 500, case
    if case.signing in REFUSED:
        assert status == 401, case


def test_no_traceback_after_the_fuzz(guarded: LocalStack) -> None:
    """Runs after the fuzz in this module (pytest keeps file order): the bot is alive, its log clean."""
    assert guarded.bot is not None and guarded.bot.poll() is None
    assert problems_in_log(bot_log(guarded)) == []


def test_a_10_mb_forged_body_is_refused_from_its_headers(guarded: LocalStack) -> None:
    big = Case(b"x" * 10_000_000, JSON, "forged")
    status, _ = send_streaming(guarded.events_url, big, guarded.signing_secret)
    assert status == 413


def test_overflowing_window_gets_an_ephemeral_explanation(guarded: LocalStack) -> None:
    driver = guarded.driver()
    resp = driver.slash_command("last 99999999999999d", user_id="U0ALICE", channel_id="C0FUZZ01")
    assert resp.status == 200
    answer = resp.json()
    assert answer["response_type"] == "ephemeral"
    assert "longer than 7 days" in answer["text"]


def test_signed_command_of_the_wrong_shape_is_told_what_is_wrong(guarded: LocalStack) -> None:
    driver = guarded.driver()
    fields = driver.command_fields("checkout down", user_id="U0ALICE", channel_id="C0FUZZ01")
    fields["channel_id"] = "<!channel>"
    body = urlencode({k: v for k, v in fields.items() if k != "response_url"}).encode()
    status, _, ack = send(guarded.events_url, Case(body, FORM, "signed"), guarded.signing_secret)
    assert status == 200
    answer = json.loads(ack)
    assert answer["response_type"] == "ephemeral"
    assert "channel_id" in answer["text"] and "malformed" in answer["text"]


def test_rejected_and_unhandled_bodies_are_not_logged(guarded: LocalStack) -> None:
    marker = "MARKER-4c1f-do-not-log"
    forged = Case(json.dumps({"type": "event_callback", "x": marker}).encode(), JSON, "forged")
    assert send(guarded.events_url, forged, guarded.signing_secret)[0] == 401
    other = f"command=/other&text={marker}&channel_id=C0FUZZ01&user_id=U0ALICE".encode()
    assert send(guarded.events_url, Case(other, FORM, "signed"), guarded.signing_secret)[0] < 500
    assert marker not in bot_log(guarded)


def test_the_bot_s_own_answers_never_carry_live_markup(guarded: LocalStack) -> None:
    """Hostile /triage text comes back in acks and ephemeral answers as text, never as a mention."""
    driver = guarded.driver()
    hostile = "<!channel> <@U0ALICE> <http://evil.example|x>"
    ack = driver.slash_command(f"since 1{hostile}", user_id="U0ALICE", channel_id="C0FUZZ01").json()
    assert ack["response_type"] == "ephemeral" and "@channel" in ack["text"]
    driver.slash_command(f"search {hostile}", user_id="U0ALICE", channel_id="C0FUZZ01")
    assert guarded.standin.wait_for(
        lambda: any("@channel" in str(p) for p in guarded.standin.state.response_posts()), 30
    )
    for answer in [ack, *guarded.standin.state.response_posts()]:
        rendered = json.dumps(answer)
        assert "<!channel>" not in rendered and "<@U0ALICE>" not in rendered and "<http" not in rendered


def test_a_signed_click_of_the_wrong_shape_is_answered_at_once_and_told(guarded: LocalStack) -> None:
    key = "malformed-click"
    payload = {
        "type": "block_actions",
        "user": {"id": "U0ALICE", "team_id": "T0INCIDENT"},
        "channel": {"id": "C0FUZZ01"},
        "team": {"id": "T0INCIDENT"},
        "api_app_id": "A0COPILOT",
        "response_url": guarded.standin.response_url(key),
        "actions": [{"action_id": "proposal_undo", "value": ["not", "a", "string"], "type": "button"}],
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()
    status, _, _ = send(guarded.events_url, Case(body, FORM, "signed"), guarded.signing_secret)
    assert status == 200  # acked, not held for Bolt's 3-second ack timeout and answered 404
    assert guarded.standin.wait_for(lambda: guarded.standin.state.response_posts(key), 30)
    [told] = guarded.standin.state.response_posts(key)
    assert "`value` is missing or malformed" in str(told)
