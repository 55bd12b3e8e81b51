"""The command line never lies: missing input is an error with a message, failures are one line
(never a traceback), empty results are said, near misses are suggested, data comes out as JSON, and
a reader that goes away early (`| head`) is not an error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.localstack import PATIENCE, free_port
from workers import audit
from workers.redisconn import EmbeddedRedis, connect
from workers.settings import RedisSettings

SCRUB = ("REDIS_URL", "OPENAI_API_KEY", "OPENAI_BASE_URL", "POLICY_FILE", "SLACK_APP_TOKEN")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SCRUB}
    env["REDIS_EMBEDDED_DIR"] = str(tmp_path / "redis")
    return env


def cli(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "--env-file", os.devnull, *args],
        env=env, cwd=cwd, capture_output=True, text=True, timeout=PATIENCE,
    )  # fmt: skip


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("incident-copilot: "), done.stderr
    return lines[0]


def test_missing_log_files_are_an_error_not_a_triage(env: dict[str, str], tmp_path: Path) -> None:
    done = cli(env, tmp_path, "triage", "checkout 504s", "--logs", str(tmp_path / "nope.log"))
    assert done.returncode == 2 and done.stdout == ""
    assert f"--logs: no file matches {tmp_path / 'nope.log'}" in one_line_error(done)


def test_version(env: dict[str, str], tmp_path: Path) -> None:
    done = cli(env, tmp_path, "--version")
    assert done.returncode == 0 and done.stdout.startswith("incident-copilot ")
    assert done.stdout.split()[1][0].isdigit()


def test_policy_explain_outside_the_repository_suggests_and_prints_json(
    env: dict[str, str], tmp_path: Path
) -> None:
    explain = ["policy", "explain", "--service", "checkout-api", "--environment", "prod", "--user", "U0BOB"]
    typo = cli(env, tmp_path, *explain, "restrat")
    assert typo.returncode == 2 and "did you mean restart?" in one_line_error(typo)
    done = cli(env, tmp_path, *explain, "restart", "--json")
    assert done.returncode == 0, done.stderr
    decision = json.loads(done.stdout)
    assert decision["action"] == "restart" and decision["level"] in ("observe", "suggest", "act")
    assert decision["policy"].endswith("default.yaml") and len(decision["sha256"]) == 64


def test_unreachable_redis_is_one_line(env: dict[str, str], tmp_path: Path) -> None:
    env["REDIS_URL"] = f"redis://127.0.0.1:{free_port()}/0"
    done = cli(env, tmp_path, "kb", "list")
    assert done.returncode == 1
    assert "cannot reach Redis" in one_line_error(done)


def test_empty_results_are_said_and_data_is_json(env: dict[str, str], tmp_path: Path) -> None:
    listed = cli(env, tmp_path, "kb", "list", "--json")
    assert listed.returncode == 0 and listed.stdout == ""
    assert "the knowledge base is empty" in one_line_error(listed)
    found = cli(env, tmp_path, "kb", "search", "ledger pool exhausted", "--json")
    assert found.returncode == 0 and found.stdout == ""
    assert "no past incident matches 'ledger pool exhausted'" in one_line_error(found)
    missing = cli(env, tmp_path, "kb", "export-triplets", "--out", str(tmp_path / "no-such-dir" / "t.jsonl"))
    assert missing.returncode == 2
    assert f"{tmp_path / 'no-such-dir' / 't.jsonl'}: no such file or folder" in one_line_error(missing)


def test_audit_export_is_json_lines_without_json_in_strings(env: dict[str, str], tmp_path: Path) -> None:
    handle = connect(RedisSettings(url=None, embedded_dir=tmp_path / "redis"))
    try:
        audit.record(handle.client, "INC-1", "suggested", action={"type": "restart", "target": "api"}, n=2)
        done = cli(env, tmp_path, "audit", "export")
    finally:
        handle.close()
        EmbeddedRedis(tmp_path / "redis").stop()
    assert done.returncode == 0, done.stderr
    [entry] = [json.loads(line) for line in done.stdout.splitlines()]
    assert entry["kind"] == "suggested" and entry["action"] == {"type": "restart", "target": "api"}


def test_a_reader_that_goes_away_is_not_an_error(env: dict[str, str], tmp_path: Path) -> None:
    args = ["policy", "explain", "restart", "--service", "checkout-api", "--user", "U0BOB"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "--env-file", os.devnull, *args],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # as `head` does once it has what it wants
    try:
        assert proc.wait(PATIENCE) == 0
        assert b"Traceback" not in proc.stderr.read()
    finally:
        proc.kill()
        proc.stderr.close()
