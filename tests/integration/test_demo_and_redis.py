"""The demo as a user runs it, and the embedded Redis that bot and worker processes share."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import redis

from bot.localstack import PATIENCE, LocalStack
from workers.redisconn import connect
from workers.settings import RedisSettings

ENV_SCRUB = ("REDIS_URL", "SLACK_APP_TOKEN", "OPENAI_API_KEY", "OPENAI_BASE_URL")


def test_demo_replays_the_incident_and_exits_cleanly(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ENV_SCRUB}
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "demo"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=PATIENCE,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "#inc-checkout-latency, as the on-call engineer sees it" in out
    assert "Triage: #inc-checkout-latency" in out and "(edited)" in out
    assert "payments-svc logs are full of" in out
    assert "@here Support has 40 tickets" in out  # quoted, not a live mention
    assert "Evidence-only mode: no LLM is configured." in out
    assert "*Log evidence* for `payments-svc`" in out
    assert "ERROR payments-svc timeout acquiring connection from pool" in out
    assert "starting version=v2.14.0" in out  # the deploy, just inside the window
    assert re.search(r"postgres://ledger:\[REDACTED:url_password#\d+\]@", out) and "Sup3rS3cretPw" not in out
    assert "Knowledge base: 4 past incidents ingested." in out
    assert "*Similar past incidents*" in out and "INC-2025-0912" in out  # the last pool exhaustion
    assert "[ Same cause ]" in out
    # The mechanism, the past incident with the same cause, and the deploy just before, in one claim.
    assert (
        "*Likely cause* (medium confidence): Connection pool exhausted (as in INC-2025-0912), after a "
        "deploy of a new version at"
    ) in out
    assert "[ Support ]  [ Reject ]  [ Need data ]" in out and "Suggested: `rollback payments-svc`" in out
    assert "Chain: deploy of a new version at" in out  # the deploy logged just before the errors, first
    assert re.search(r'incident_copilot_commands_total\{outcome="enqueued",sub="triage"\} 1\.0', out)
    assert re.search(
        r'incident_copilot_jobs_total\{mode="evidence-only",outcome="answered",type="triage"\} 1\.0', out
    )
    assert re.search(r'incident_copilot_decisions_total\{level="suggest",written="suggest"\} 1\.0', out)
    draft = out.split("the postmortem draft the bot uploads:", 1)[1]
    assert draft.lstrip().startswith(
        "# Postmortem: checkout p99 latency and 504s: Connection pool exhausted (as in INC-2025-0912)"
    )
    assert "evidence-only (no LLM is configured)" in draft and "✍️ _To write:_" in draft
    assert "- **H1** ✅ confirmed" in draft and "for: Support from Chen Wei" in draft
    assert "## Triplets" in draft and "(verified)" in draft
    assert "Everything stopped." in out
    assert "Traceback" not in done.stderr


def _child(embedded_dir: Path) -> subprocess.Popen[str]:
    """A process that starts the embedded Redis, prints its URL and lets go when told (a line in)."""
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from workers.redisconn import connect\n"
        "from workers.settings import RedisSettings\n"
        f"h = connect(RedisSettings(url=None, embedded_dir=Path({str(embedded_dir)!r})))\n"
        "h.client.incr('shared-counter'); print(h.embedded.url, flush=True)\n"
        "sys.stdin.readline(); h.close()\n"
    )
    return subprocess.Popen(
        [sys.executable, "-c", code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def test_processes_share_one_embedded_redis_and_the_last_one_out_stops_it(tmp_path: Path) -> None:
    embedded_dir = tmp_path / "state"
    first = _child(embedded_dir)
    assert first.stdout is not None and first.stdin is not None
    second = None
    try:
        url = first.stdout.readline().strip()
        second = connect(RedisSettings(url=None, embedded_dir=embedded_dir))
        assert second.embedded is not None and second.embedded.url == url
        assert not second.embedded.started_here  # found the running server, did not start another
        assert int(second.client.get("shared-counter") or 0) == 1
        first.stdin.write("go\n")
        first.stdin.flush()
        assert first.wait(PATIENCE) == 0
        assert second.client.ping()  # the starter left; the server stays while we use it
    finally:
        if second is not None:
            second.close()
        LocalStack.stop_process(first)
        first.stdin.close()
        first.stdout.close()
    assert not (embedded_dir / "redis.sock").exists() or not _answers(url)


def _answers(url: str) -> bool:
    try:
        with redis.Redis.from_url(url, socket_connect_timeout=0.5) as probe:
            return bool(probe.ping())
    except redis.RedisError:
        return False
