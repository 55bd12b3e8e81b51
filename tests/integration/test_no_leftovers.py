"""A test that fails half-way leaves no process behind: the real fixtures start the embedded Redis,
the bot and a worker whose work horse is mid-job, the test fails, and afterwards nothing it started
is running."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

from bot.localstack import PATIENCE, LocalStack
from tests.support.leftovers import MARKER, describe, marked, reap

REPO = Path(__file__).resolve().parents[2]

FAILING = '''
import json
from pathlib import Path

from tests.integration.conftest import new_channel, wait_until


def test_fails_while_a_job_runs(make_stack):
    stack = make_stack()
    channel, name = new_channel(stack)
    stack.standin.delay("conversations.history", 5)  # the job is busy in its work horse
    stack.driver().slash_command("", user_id="U0ALICE", channel_id=channel, channel_name=name)
    assert wait_until(lambda: bool(stack.standin.calls_to("conversations.info")), 180)
    pids = [stack.bot.pid, *(w.pid for w in stack.workers)]
    redis_pid = int((stack.redis.directory / "redis.pid").read_text())
    Path(__file__).with_suffix(".json").write_text(json.dumps({"pids": pids, "redis": redis_pid}))
    raise AssertionError("deliberately failing")
'''


def _pytest(test_file: Path, run: str, *options: str) -> subprocess.Popen[str]:
    """pytest on `test_file` alone (not our ini file), in a session of its own, its processes marked `run`."""
    env = {**os.environ, MARKER: run, "PYTHONPATH": str(REPO)}
    args = ["-m", "pytest", "-q", "-p", "no:cacheprovider", *options, "--rootdir", str(test_file.parent)]
    return subprocess.Popen(
        [sys.executable, *args, str(test_file)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def test_a_failing_test_leaves_no_process_behind(tmp_path: Path) -> None:
    test_file = tmp_path / "test_failing.py"
    test_file.write_text(FAILING)
    run = uuid.uuid4().hex
    proc = _pytest(test_file, run, "-p", "tests.integration.conftest")
    try:
        out, _ = proc.communicate(timeout=PATIENCE * 2)
        assert proc.returncode == 1 and "deliberately failing" in out and "1 failed" in out, out
        started = json.loads(test_file.with_suffix(".json").read_text())
        assert len(started["pids"]) == 2 and started["redis"] > 0  # the bot, a worker, a redis-server
        left = marked(run)
        assert left == [], f"left running after the failed test:\n{describe(left)}"
    finally:
        LocalStack.stop_process(proc)
        reap(run)


LEAKING = '''
import subprocess
import sys


def test_leaks_a_process(worker_id):
    assert worker_id.startswith("gw")  # runs in a pytest-xdist worker
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True)
'''


def test_an_xdist_worker_kills_and_names_what_its_tests_left(tmp_path: Path) -> None:
    """The run's net under pytest-xdist: the worker's leftover is killed and named by the main process."""
    test_file = tmp_path / "test_leaking.py"
    test_file.write_text(LEAKING)
    run = uuid.uuid4().hex
    proc = _pytest(test_file, run, "-p", "tests.conftest", "-n", "2")
    try:
        out, _ = proc.communicate(timeout=PATIENCE * 2)
        assert proc.returncode == 0 and "1 passed" in out, out
        assert "left behind, now killed: (by gw" in out and "time.sleep(600)" in out, out
        left = marked(run)
        assert left == [], f"left running after the run:\n{describe(left)}"
    finally:
        LocalStack.stop_process(proc)
        reap(run)
