"""Private incident channels, through the stand-in (which answers `missing_scope` for a private
channel when the token lacks the `groups:*` scopes, as Slack does): with the manifest's scopes the
bot keeps their messages, triages there, and drafts the postmortem when one is archived."""

from __future__ import annotations

import json

import pytest
import redis
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.localstack import LocalStack
from bot.manifest import scopes
from tests.integration.conftest import PATIENCE, wait_answer, wait_until


def test_a_private_incident_channel_works_like_a_public_one(stack: LocalStack) -> None:
    channel, name = "C0PRIVATE1", "inc-private-payroll"
    stack.standin.state.add_channel(channel, name, is_private=True)
    assert {"groups:history", "groups:read"} <= set(stack.standin.state.scopes) == set(scopes())
    driver = stack.driver()
    ts = stack.standin.state.add_message(channel, "U0BRUNO", "payroll export stuck since 10:40")
    driver.message_event(channel, "U0BRUNO", "payroll export stuck since 10:40", ts, channel_type="group")

    client = redis.Redis.from_url(stack.redis_url, decode_responses=True)
    try:

        def kept() -> list[str]:
            incident = client.get(f"ic:channel:{channel}:incident")
            stream = client.xrange(f"ic:incident:{incident}:messages") if incident else []
            return [fields.get("text", "") for _id, fields in stream]

        assert wait_until(lambda: kept() == ["payroll export stuck since 10:40"], PATIENCE)

        driver.slash_command("payroll export stuck", user_id="U0ALICE", channel_id=channel, channel_name=name)
        wait_answer(stack, channel)
        history = [
            c for c in stack.standin.calls_to("conversations.history") if c.args.get("channel") == channel
        ]
        assert history and all(c.response.get("ok") for c in history)  # read with groups:history

        incident = client.get(f"ic:channel:{channel}:incident")
        driver.event({"type": "group_archive", "channel": channel, "user": "U0ALICE"})
        assert wait_until(lambda: bool(client.get(f"ic:postmortem:{incident}")), PATIENCE), stack.log(
            "worker-0"
        )
        assert json.loads(client.get(f"ic:postmortem:{incident}") or "{}")["version"] >= 1
    finally:
        client.close()


def test_without_the_groups_scopes_slack_refuses_private_channels(stack: LocalStack) -> None:
    stack.standin.state.add_channel("C0PRIVATE2", "inc-private-2", is_private=True)
    web = WebClient(token=stack.bot_token, base_url=stack.standin.api_url)
    granted = stack.standin.state.scopes
    stack.standin.state.scopes = [s for s in granted if not s.startswith("groups:")]
    try:
        for call in (web.conversations_history, web.conversations_info):
            with pytest.raises(SlackApiError) as refused:
                call(channel="C0PRIVATE2")
            assert refused.value.response["error"] == "missing_scope"
    finally:
        stack.standin.state.scopes = granted
    assert web.conversations_info(channel="C0PRIVATE2")["channel"]["is_private"] is True
