"""The knowledge base through Slack and the command line: search, similar incidents, feedback, ingest."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import redis

from bot.localstack import LocalStack
from tests.integration.conftest import PATIENCE, new_channel, wait_answer
from workers.knowledge.ingest import ingest_path
from workers.knowledge.store import KnowledgeStore
from workers.slack import ids

DEMO_KB = Path(__file__).resolve().parents[2] / "bot" / "demo" / "incident" / "kb"


def _load(stack: LocalStack) -> None:
    client = redis.Redis.from_url(stack.redis_url)
    try:
        KnowledgeStore(client).upsert(ingest_path(DEMO_KB).records)
    finally:
        client.close()


def _responses(stack: LocalStack, channel: str) -> list[dict]:
    return [p for p in stack.standin.state.response_posts() if p["channel"] == channel]


def test_search_answers_ephemerally_with_root_cause_and_fix(make_stack: Callable[..., LocalStack]) -> None:
    stack = make_stack()
    _load(stack)
    channel, name = new_channel(stack)
    resp = stack.driver().slash_command(
        "search certificate expired tls handshake", user_id="U0ALICE", channel_id=channel, channel_name=name
    )
    assert resp.status == 200
    assert stack.standin.wait_for(lambda: bool(_responses(stack, channel)), PATIENCE)
    post = _responses(stack, channel)[0]
    assert post["response_type"] == "ephemeral"
    text = str(post["blocks"])
    assert "INC-2025-0603" in text and "Root cause:" in text and "Fix:" in text
    assert text.index("INC-2025-0603") < text.index("INC-2025-09") if "INC-2025-09" in text else True


def test_answer_shows_similar_incidents_and_feedback_is_stored(make_stack: Callable[..., LocalStack]) -> None:
    stack = make_stack()
    _load(stack)
    channel, name = new_channel(stack)
    stack.driver().slash_command(
        "checkout 504s, payments-svc connection pool exhausted after deploy",
        user_id="U0ALICE", channel_id=channel, channel_name=name,
    )  # fmt: skip
    answer = wait_answer(stack, channel)
    text = str(answer["blocks"])
    assert "*Similar past incidents*" in text and "INC-2025-0912" in text
    assert "*<https://wiki.example.com/postmortems/INC-2025-0912|Checkout failures from ledger-db" in text
    buttons = [
        e
        for b in answer["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if "INC-2025-0912" in e["value"]
    ]
    assert {b["action_id"] for b in buttons} == {ids.KB_SAME_CAUSE, ids.KB_NOT_RELATED}

    same = next(b for b in buttons if b["action_id"] == ids.KB_SAME_CAUSE)
    resp = stack.driver().block_action(
        ids.KB_SAME_CAUSE, same["value"], user_id="U0BRUNO", channel_id=channel, message_ts=answer["ts"]
    )
    assert resp.status == 200
    assert stack.standin.wait_for(
        lambda: any("Noted" in p.get("text", "") for p in _responses(stack, channel)), PATIENCE
    )
    client = redis.Redis.from_url(stack.redis_url)
    try:
        stored = [k.decode() for k in client.scan_iter("ic:kb:feedback:*")]
    finally:
        client.close()
    assert stored, "the label was not stored"


def test_an_incident_unlike_anything_known_is_called_novel(make_stack: Callable[..., LocalStack]) -> None:
    stack = make_stack()
    _load(stack)
    channel, name = new_channel(stack)
    stack.driver().slash_command(
        "printer queue on floor 3 jammed with holiday cards",
        user_id="U0ALICE",
        channel_id=channel,
        channel_name=name,
    )
    answer = wait_answer(stack, channel)
    text = str(answer["blocks"])
    assert "*This looks novel.* No similar past incident" in text and "needs human judgment" in text
    kb_buttons = [
        e
        for b in answer["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"].startswith("kb_")
    ]
    assert kb_buttons == []  # nothing similar to give feedback on


def test_kb_cli_ingest_is_idempotent_and_reports_bad_files(tmp_path: Path) -> None:
    folder = tmp_path / "postmortems"
    folder.mkdir()
    for f in DEMO_KB.iterdir():
        (folder / f.name).write_text(f.read_text())
    (folder / "broken.md").write_text("---\ntitle: [unclosed\n---\n# Broken\n")
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env["REDIS_EMBEDDED_DIR"] = str(tmp_path / "redis")
    cli = [sys.executable, "-m", "bot.cli", "--env-file", os.devnull, "kb"]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*cli, *args], env=env, capture_output=True, text=True, timeout=PATIENCE)

    first = run("ingest", str(folder))
    assert "4 created, 0 updated, 0 unchanged, 1 files skipped" in first.stdout, first.stdout + first.stderr
    assert "broken.md:2" in first.stdout
    second = run("ingest", str(folder))
    assert "0 created, 0 updated, 4 unchanged" in second.stdout
    listed = run("list")
    assert listed.returncode == 0 and listed.stdout.count("\n") == 4 and "INC-2025-1104" in listed.stdout
    shown = run("show", "INC-2025-0912")
    assert '"title": "Checkout failures from ledger-db connection pool exhaustion' in shown.stdout
    document = run("show", "INC-2025-0912", "--format", "md").stdout
    assert document.startswith("# Checkout failures from ledger-db connection pool exhaustion")
    assert "- id: `INC-2025-0912` (markdown)" in document and "## Root causes" in document
    found = run("search", "dns lookups failing no such host")
    assert found.stdout.splitlines()[0].split()[1] == "INC-2025-1104"
    assert run("show", "nope").returncode == 1
