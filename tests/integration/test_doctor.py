"""`incident-copilot doctor` names every fault of a deliberately broken installation (loopback
stand-ins for each part), and finds nothing to fail in a healthy one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.localstack import PATIENCE, LocalStack, free_port
from bot.standin import SlackStandIn
from workers.redisconn import redis_server_binary


def doctor(env: dict[str, str], cwd: Path) -> tuple[int, dict[str, dict[str, str]]]:
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "--env-file", os.devnull, "doctor", "--json"],
        env=env, cwd=cwd, capture_output=True, text=True, timeout=PATIENCE,
    )  # fmt: skip
    assert "Traceback" not in done.stderr, done.stderr
    findings = json.loads(done.stdout)["findings"]
    return done.returncode, {f["part"]: f for f in findings}


@pytest.fixture
def redis_with_password(tmp_path: Path) -> Iterator[int]:
    port = free_port()
    args = [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--requirepass", "s3cret-pw",
            "--save", "", "--appendonly", "no", "--dir", str(tmp_path)]  # fmt: skip
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, start_new_session=True)
    yield port
    LocalStack.stop_process(proc)


def test_doctor_names_every_fault_of_a_broken_installation(tmp_path: Path, redis_with_password: int) -> None:
    slack = SlackStandIn(bot_token="xoxb-doctor-test")
    slack.state.scopes = ["chat:write", "commands"]  # installed before the bot needed more
    slack.start()
    dead = [free_port() for _ in range(6)]
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        "default_service: checkout\nsources:\n"
        f"  - {{name: app-files, type: files, paths: ['{tmp_path}/logs/{{service}}.log']}}\n"
        f"  - {{name: loki, type: loki, url: 'http://127.0.0.1:{dead[0]}', query: '{{app=\"x\"}}'}}\n"
        f"  - {{name: es, type: elasticsearch, url: 'http://127.0.0.1:{dead[1]}', index: logs, query: x}}\n"
    )
    policy = tmp_path / "policy.yaml"
    policy.write_text("version: 1\nactions:\n  restart:\n    level: sometimes\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "OPENAI_", "EXECUTOR_"))}
    env.update(
        SLACK_BOT_TOKEN="xoxb-doctor-test",
        SLACK_API_URL=slack.api_url,
        SLACK_SIGNING_SECRET="not-the-signing-secret",
        REDIS_URL=f"redis://127.0.0.1:{redis_with_password}/0",
        OPENAI_BASE_URL=f"http://127.0.0.1:{dead[2]}/v1",
        OPENAI_API_KEY="sk-test",
        EVIDENCE_SOURCES_FILE=str(sources),
        POLICY_FILE=str(policy),
        PROMETHEUS_URL=f"http://127.0.0.1:{dead[3]}",
        EXECUTOR_ALERTMANAGER_URL=f"http://127.0.0.1:{dead[4]}",
        EXECUTOR_WEBHOOK_URL=f"http://127.0.0.1:{dead[5]}/hooks/runbook",
        EXECUTOR_WEBHOOK_SECRET="0123456789abcdef0123",
        SECRETS_DIR=str(tmp_path / "no-secrets"),
    )
    try:
        code, found = doctor(env, tmp_path)
    finally:
        slack.stop()

    assert code == 1
    expected = {
        "slack.scopes": "channels:history",
        "slack.signing_secret": "32 hex digits",
        "redis": "refused us",
        "llm": "cannot reach the LLM",
        "sources.app-files": f"no file matches {tmp_path}/logs/checkout.log",
        "sources.loki": "",
        "sources.es": "",
        "policy": "policy.yaml:4: actions.restart.level",
        "prometheus": "cannot query",
        "executors.alertmanager": "cannot reach",
        "executors.webhook": "cannot reach",
    }
    for part, words in expected.items():
        assert part in found, f"{part} not reported: {sorted(found)}"
        assert found[part]["status"] == "fail" and words in found[part]["found"], found[part]
        assert found[part]["fix"], f"{part}: no fix given"
    assert found["slack.token"]["status"] == "ok"  # the token itself is fine: only its scopes are not


def test_doctor_passes_a_healthy_installation(make_stack: Callable[..., LocalStack], tmp_path: Path) -> None:
    stack = make_stack()
    code, found = doctor(stack.env(), tmp_path)
    failed = {part: f for part, f in found.items() if f["status"] == "fail"}
    assert code == 0 and not failed, failed
    assert found["slack.scopes"]["status"] == found["workers"]["status"] == found["redis"]["status"] == "ok"
