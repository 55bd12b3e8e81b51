"""The policy ladder in /triage through the real bot and worker: observe-level actions are shadowed,
act-level ones no worker can run are only suggested, every decision is audited and exported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from bot.localstack import LocalStack
from tests.integration.conftest import PATIENCE, new_channel, wait_answer
from tests.integration.test_llm_triage import _answer_from_prompt
from tests.support.fake_llm import FakeLLM
from workers.slack import ids

POLICY = """version: 1
caps: {{novel: act}}  # this channel's incident is novel (an empty knowledge base); let the level show
actions:
  rollback:
    level: {level}
    approvers: {{users: [U0BRUNO]}}
"""


@pytest.fixture
def llm() -> Iterator[FakeLLM]:
    with FakeLLM(default=_answer_from_prompt) as server:
        yield server


def _triage(make_stack: Callable[..., LocalStack], llm: FakeLLM, policy: Path) -> tuple[LocalStack, dict]:
    stack = make_stack(
        env={"OPENAI_BASE_URL": llm.base_url, "OPENAI_API_KEY": "sk-test", "POLICY_FILE": str(policy)}
    )
    channel, name = new_channel(stack)
    stack.standin.state.add_message(channel, "U0ALICE", "payments-svc pool is exhausted")
    stack.driver().slash_command("checkout 504s", user_id="U0ALICE", channel_id=channel, channel_name=name)
    return stack, wait_answer(stack, channel)


def _audit(stack: LocalStack) -> list[dict[str, str]]:
    client = redis.Redis.from_url(stack.redis_url)
    try:
        return [{k.decode(): v.decode() for k, v in f.items()} for _id, f in client.xrange("ic:audit")]
    finally:
        client.close()


def test_an_observe_level_action_is_shadowed_and_audited(
    make_stack: Callable[..., LocalStack], llm: FakeLLM, tmp_path: Path
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY.format(level="observe"))
    stack, answer = _triage(make_stack, llm, policy)
    text = str(answer["blocks"])
    assert "payments-svc pool exhausted by retries" in text and "Suggested:" not in text
    assert "1 action(s) at observe, kept in the shadow ledger" in text
    [entry] = _audit(stack)
    assert entry["kind"] == "shadowed" and entry["level"] == "observe" and entry["by"] == "bot"
    assert json.loads(entry["action"])["target"] == "payments-svc" and len(entry["policy_sha256"]) == 64
    env = {**os.environ, "REDIS_URL": stack.redis_url}
    exported = subprocess.run(
        [sys.executable, "-m", "bot.cli", "--env-file", os.devnull, "audit", "export"],
        capture_output=True, text=True, env=env, timeout=PATIENCE,
    )  # fmt: skip
    assert exported.returncode == 0 and json.loads(exported.stdout.splitlines()[0])["kind"] == "shadowed"


def test_an_act_level_action_no_worker_can_run_is_only_suggested(
    make_stack: Callable[..., LocalStack], llm: FakeLLM, tmp_path: Path
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY.format(level="act"))
    stack, answer = _triage(make_stack, llm, policy)
    text = str(answer["blocks"])
    assert "Suggested: `rollback payments-svc` _(no executor for rollback is configured" in text
    assert ids.PROPOSAL_APPROVE not in text
    [entry] = _audit(stack)
    assert (entry["kind"], entry["level"], entry["written"]) == ("suggested", "suggest", "act")
    assert "no SLO for payments-svc" in entry["budget_reason"]


def test_a_malformed_policy_stops_the_worker_with_the_line(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("version: 1\nactions:\n  restart:\n    level: sometimes\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "REDIS_"))}
    env |= {
        "POLICY_FILE": str(policy),
        "SLACK_BOT_TOKEN": "xoxb-test",
        "REDIS_EMBEDDED_DIR": str(tmp_path / "r"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "--env-file", os.devnull, "worker", "--burst"],
        capture_output=True, text=True, env=env, timeout=PATIENCE,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert f"{policy}:4: actions.restart.level" in done.stderr and "Traceback" not in done.stderr
