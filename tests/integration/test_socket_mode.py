"""Socket Mode: the same app over a websocket, against the stand-in's Socket Mode endpoint."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable

import pytest

from bot.localstack import LocalStack
from tests.integration.conftest import PATIENCE, bot_messages, new_channel, wait_answer


def test_triage_over_socket_mode(make_stack: Callable[..., LocalStack]) -> None:
    stack = make_stack(socket_mode=True)
    server = stack.standin.socket_mode
    assert server is not None and server.wait_connected(PATIENCE)
    with urllib.request.urlopen(f"{stack.base_url}/readyz", timeout=PATIENCE) as r:
        ready = json.loads(r.read())
    assert ready.pop("alerts") == {  # served in Socket Mode too; no secret configured: disabled
        "alertmanager": "disabled: set ALERTS_ALERTMANAGER_TOKEN or ALERTS_ALERTMANAGER_USERNAME and "
        "_PASSWORD",
        "pagerduty": "disabled: set ALERTS_PAGERDUTY_SECRETS",
    }
    assert (ready["ready"], ready["redis"], ready["slack_socket"]) == (True, True, True)
    assert ready["workers"] == {"triage": 1, "postmortem": 1, "actions": 1, "alerts": 1}
    assert ready["unserved_queues"] == []
    post = urllib.request.Request(f"{stack.base_url}/slack/events", data=b"{}", method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:  # no HTTP events endpoint in Socket Mode
        urllib.request.urlopen(post, timeout=PATIENCE)
    assert refused.value.code == 404
    refused.value.close()


def test_command_is_acked_over_the_socket_and_answered_in_place(
    make_stack: Callable[..., LocalStack],
) -> None:
    stack = make_stack(socket_mode=True)
    server = stack.standin.socket_mode
    assert server is not None and server.wait_connected(PATIENCE)
    channel, name = new_channel(stack)
    fields = stack.driver().command_fields(
        "last 10m", user_id="U0ALICE", channel_id=channel, channel_name=name
    )
    ack = server.send("slash_commands", fields, timeout=PATIENCE)
    assert ack is not None and "envelope_id" in ack
    answer = wait_answer(stack, channel)
    assert len(bot_messages(stack, channel)) == 1 and answer["text"].startswith(f"Triage: #{name}")

    help_ack = server.send("slash_commands", {**fields, "text": "help"}, timeout=PATIENCE)
    assert help_ack is not None and "`/triage status`" in help_ack["payload"]["text"]
