"""`incident-copilot triage` and `/triage` give the same hypotheses, novelty and similar incidents on the
same logs, knowledge base and conversation: one engine, two front ends."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import redis

from bot.localstack import LocalStack
from tests.evals.triage.build import build_kb
from tests.integration.conftest import PATIENCE, new_channel, wait_answer
from workers.knowledge.ingest import ingest_path
from workers.knowledge.service import KnowledgeDeps
from workers.settings import LLMSettings
from workers.triage.board import Board


def _stamp(at: datetime) -> str:
    return f"{at:%Y-%m-%dT%H:%M:%S}.000Z"


def _logs(path: Path, now: datetime) -> None:
    """A quiet baseline, then a CoreDNS config reload, NXDOMAIN answers and the errors they cause."""
    lines = []
    for i in range(100):
        at = now - timedelta(minutes=85) + timedelta(seconds=30 * i)
        lines.append(
            f"{_stamp(at)} INFO orders-api request completed path=/orders status=200 took={20 + i % 7}ms"
        )
    lines.append(f"{_stamp(now - timedelta(minutes=25))} coredns [INFO] Reloading complete")
    for i in range(40):
        at = now - timedelta(minutes=23) + timedelta(seconds=30 * i)
        lines.append(
            f'{_stamp(at)} coredns [INFO] 10.0.3.{i % 9}:4{i:03d} - {i} "A IN '
            f'ledger.payments.svc.cluster.local. udp 56 false 512" NXDOMAIN qr,aa,rd 149 0.000{i % 9}s'
        )
    for i in range(200):
        at = now - timedelta(minutes=22) + timedelta(seconds=6 * i)
        lines.append(
            f"{_stamp(at)} ERROR orders-api ledger call failed: dial tcp: lookup "
            f"ledger.payments.svc.cluster.local: no such host order={9000 + i}"
        )
    path.write_text("\n".join(sorted(lines)) + "\n")


def test_cli_and_slash_command_give_the_same_hypotheses_and_novelty(
    make_stack: Callable[..., LocalStack], tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    logs = tmp_path / "orders.log"
    _logs(logs, now)
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        "default_service: orders-api\nsources:\n"
        f"  - name: app-files\n    type: files\n    paths: ['{logs}']\n"
    )
    stack = make_stack(env={"EVIDENCE_SOURCES_FILE": str(sources)})
    build_kb(tmp_path / "eval")  # the evaluation set's knowledge base: 34 postmortems in five templates
    client = redis.Redis.from_url(stack.redis_url)
    try:
        knowledge = KnowledgeDeps.build(client, LLMSettings())
        knowledge.store.upsert(ingest_path(tmp_path / "eval" / "kb").records)
        assert knowledge.calibrate().calibrated

        channel, name = new_channel(stack)
        said = ["orders failing for everyone", "anyone changed DNS?"]
        for text in said:
            stack.standin.state.add_message(channel, "U0ALICE", text)
        stack.driver().slash_command(
            "orders failing last 30m", user_id="U0ALICE", channel_id=channel, channel_name=name
        )
        answer = wait_answer(stack, channel)
        incident = client.get(f"ic:channel:{channel}:incident")
        assert incident is not None
        board = Board(client).hypotheses(incident.decode())
    finally:
        client.close()
    messages = tmp_path / "channel.jsonl"
    messages.write_text(
        "".join(
            json.dumps(
                {"ts": f"{(now - timedelta(minutes=5 - n)).timestamp():.6f}", "user": "U0ALICE", "text": t}
            )
            + "\n"
            for n, t in enumerate(said)
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "REDIS_"))}
    env["REDIS_URL"] = stack.redis_url
    done = subprocess.run(
        [
            sys.executable, "-m", "bot.cli", "--env-file", os.devnull, "triage", "orders failing last 30m",
            "--logs", str(logs), "--service", "orders-api", "--channel", str(messages), "--json",
        ],
        env=env, capture_output=True, text=True, timeout=PATIENCE,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    cli = json.loads(done.stdout)

    slash = [(h.statement, h.confidence) for h in board]
    assert slash and slash == [(h["statement"], h["confidence"]) for h in cli["hypotheses"]]
    assert slash[0][0].startswith("DNS resolution failure (NXDOMAIN / no such host) (as in PM-")
    assert "after a config reload at" in slash[0][0]
    text = str(answer["blocks"])
    assert cli["novel"] is False and "This looks novel" not in text
    similar = [m["record_id"] for m in cli["similar"]["matches"]]
    assert similar and all(rid in text for rid in similar)  # the same past incidents in both answers
    assert cli["messages_in_window"] == 2 and cli["mode"] == "evidence-only" and cli["gaps"] == []
