"""A bot without a worker does not look hung: `/readyz` and `/triage status` say which queues no
worker serves, and a placeholder no worker took is edited to say so; a worker that starts later
answers it as usual."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable

from bot.localstack import PATIENCE, LocalStack
from bot.worker_watch import NO_WORKER_AFTER_S
from tests.integration.conftest import bot_messages, new_channel, wait_answer


def _readyz(stack: LocalStack) -> dict[str, object]:
    with urllib.request.urlopen(f"{stack.base_url}/readyz", timeout=PATIENCE) as resp:
        return dict(json.loads(resp.read()))


def test_no_worker_is_reported_and_the_placeholder_says_so(make_stack: Callable[..., LocalStack]) -> None:
    stack = make_stack(workers=0)
    ready = _readyz(stack)
    assert ready["workers"] == {"triage": 0, "postmortem": 0, "actions": 0, "alerts": 0}
    assert ready["unserved_queues"] == ["triage", "postmortem", "actions", "alerts"]

    channel, name = new_channel(stack)
    driver = stack.driver()
    driver.slash_command("status", user_id="U0ALICE", channel_id=channel, channel_name=name)
    assert stack.standin.wait_for(lambda: bool(stack.standin.state.response_posts()), PATIENCE)
    status = stack.standin.state.response_posts()[-1]["text"]
    assert "No worker serves triage, postmortem, actions" in status

    driver.slash_command("checkout 504s", user_id="U0ALICE", channel_id=channel, channel_name=name)
    assert stack.standin.wait_for(
        lambda: any(
            "No worker is serving the `triage` queue" in m["text"] for m in bot_messages(stack, channel)
        ),
        NO_WORKER_AFTER_S + PATIENCE,
    )

    stack.start_worker()
    stack.wait_workers()
    assert _readyz(stack)["unserved_queues"] == []
    wait_answer(stack, channel)  # the queued job runs once a worker serves the queue
    assert len(bot_messages(stack, channel)) == 1  # edited in place, never a second message
