"""Log evidence in `/triage` through the real worker, and `incident-copilot triage` on files."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import redis

from bot.localstack import LocalStack, free_port
from tests.integration.conftest import PATIENCE, details_reply, new_channel, wait_answer, wait_until

SECRET = "hunter2-Sup3r"


def _write_logs(path: Path, now: datetime) -> None:
    lines = []
    for i in range(120):  # a quiet hour before, then the incident
        at = now - timedelta(minutes=90) + timedelta(seconds=30 * i)
        lines.append(
            f"{at:%Y-%m-%dT%H:%M:%S}Z INFO orders-api request ok path=/orders status=200 took={20 + i % 7}ms"
        )
    for i in range(300):
        at = now - timedelta(minutes=20) + timedelta(seconds=3 * i)
        lines.append(
            f"{at:%Y-%m-%dT%H:%M:%S}Z ERROR orders-api redis timeout after 2000ms key=cart:{1000 + i}"
        )
    lines.append(
        f"{now - timedelta(minutes=19):%Y-%m-%dT%H:%M:%S}Z WARN orders-api retry with password={SECRET}"
    )
    path.write_text("\n".join(lines) + "\n")


def _sources_file(tmp_path: Path, logs: Path, extra: str = "") -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text(
        "default_service: orders-api\n"
        "sources:\n"
        "  - name: app-files\n"
        "    type: files\n"
        f"    paths: ['{logs}']\n" + extra
    )
    return path


def test_triage_answer_shows_log_evidence_and_a_failing_source_as_a_gap(
    make_stack: Callable[..., LocalStack], tmp_path: Path
) -> None:
    logs = tmp_path / "orders.log"
    dead_loki = (
        f"  - name: loki\n    type: loki\n    url: http://127.0.0.1:{free_port()}\n"
        "    query: '{app=\"{service}\"}'\n"
    )
    stack = make_stack(env={"EVIDENCE_SOURCES_FILE": str(_sources_file(tmp_path, logs, dead_loki))})
    _write_logs(logs, datetime.now(UTC))  # once the stack is up: "last 30m" holds them however slow that was
    channel, name = new_channel(stack)
    pasted = "xoxp-1234567890-0987654321-abcdefABCDEF"
    stack.standin.state.add_message(channel, "U0ALICE", f"tried the admin token {pasted}, no luck")
    stack.driver().slash_command(
        "orders failing last 30m", user_id="U0ALICE", channel_id=channel, channel_name=name
    )
    answer = wait_answer(stack, channel)
    details = details_reply(stack, channel, answer)
    text = str(answer["blocks"]) + answer["text"] + str(details["blocks"])
    assert pasted not in text and "tried the admin token [REDACTED:slack_token#1]" in text
    assert "*Log evidence* for `orders-api`" in text
    assert "*new* error ×300 (baseline 0)" in text
    assert "ERROR orders-api redis timeout after 2000ms key=cart:" in text
    assert SECRET not in text and "[REDACTED:" in text
    assert "Gap in the evidence" in text and "loki: cannot connect to Loki" in text
    assert "app-files: ok, " in text

    client = redis.Redis.from_url(stack.redis_url)
    try:
        incident = client.get(f"ic:channel:{channel}:incident")
        assert incident is not None
        key = f"ic:incident:{incident.decode()}:egress"
        # The answer, its details reply, then the answer again: the last may land after we saw the first.
        assert wait_until(lambda: client.xlen(key) >= 3, PATIENCE)
        egress = client.xrange(key)
    finally:
        client.close()
    records = [{k.decode(): v.decode() for k, v in fields.items()} for _id, fields in egress]
    assert [r["purpose"] for r in records] == ["triage answer", "triage details", "triage answer"]
    assert all(r["host"] == "127.0.0.1" for r in records)
    assert [r["url"].rsplit("/", 1)[1] for r in records] == ["chat.update", "chat.postMessage", "chat.update"]
    masked = json.loads(records[2]["masked"])  # the answer's record counts the whole run
    assert masked.get("slack_token", 0) >= 1 and sum(masked.values()) >= 2  # the pasted token, the log secret
    assert int(records[1]["bytes"]) > 500 and int(records[2]["bytes"]) > 500


def test_a_malformed_sources_file_stops_the_worker_with_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "sources.yaml"
    bad.write_text("sources:\n  - name: x\n    type: files\n    paths: []\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "REDIS_"))}
    env.update(
        SLACK_BOT_TOKEN="xoxb-test-token", EVIDENCE_SOURCES_FILE=str(bad), REDIS_URL="unix:///nonexistent"
    )
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "--env-file", os.devnull, "worker"],
        env=env, capture_output=True, text=True, timeout=PATIENCE,
    )  # fmt: skip
    assert done.returncode == 2
    assert f"{bad}:4: sources.0.files.paths" in done.stderr or f"{bad}:4: sources.0.paths" in done.stderr
    assert "Traceback" not in done.stderr


def test_cli_triage_prints_the_digest(tmp_path: Path) -> None:
    now = datetime(2026, 3, 14, 11, 10, tzinfo=UTC)
    logs = tmp_path / "orders.log"
    _write_logs(logs, now)
    cli = [sys.executable, "-m", "bot.cli", "--env-file", os.devnull, "triage"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "REDIS_"))}
    env["REDIS_EMBEDDED_DIR"] = str(tmp_path / "redis")  # the knowledge base, empty here
    done = subprocess.run(
        [*cli, "since 10:50", "--logs", str(logs), "--budget", "600"],
        capture_output=True,
        text=True,
        timeout=PATIENCE,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.startswith(
        "Log evidence — incident 2026-03-14 10:50–11:04 UTC; baseline 2026-03-14 09:50–10:50 UTC"
    )
    assert "new error ×300" in out and "> 2026-03-14T11:04:57Z ERROR orders-api redis timeout" in out
    assert SECRET not in out
    assert "Triage (evidence-only mode: no LLM is configured)" in out
    assert (
        "H1 [low] Symptom without a known mechanism: error lines in the service (new, ×300 since 10:50)"
        in out
    )
    assert re.search(r"\n    `.*orders-api redis timeout after <DURATION>", out)  # the template, whole, below

    bad = subprocess.run(
        [*cli, "since 25:99", "--logs", str(logs)], capture_output=True, text=True, timeout=PATIENCE, env=env
    )
    assert bad.returncode == 2 and "not a time of day" in bad.stderr
