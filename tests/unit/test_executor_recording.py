"""The recording executor changes nothing: it writes what it would do, reads it back to verify, and
records an undo; a file it cannot write is a clear executor error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workers.errors import ExecutorError
from workers.executors.base import ActionRequest
from workers.executors.recording import RecordingExecutor
from workers.executors.registry import build_executors
from workers.settings import ExecutorSettings

RESTART = ActionRequest(
    "restart", "search-api", {"namespace": "shop"}, requested_by="U0ALICE", proposal_id="P1"
)


def test_execute_records_verify_finds_it_and_undo_is_recorded(tmp_path: Path) -> None:
    executor = RecordingExecutor(tmp_path / "records.jsonl")
    assert executor.dry_run(RESTART).lines == [
        "would restart search-api namespace=shop (recorded to records.jsonl, nothing changes)"
    ]
    assert not (tmp_path / "records.jsonl").exists()  # the dry run wrote nothing

    outcome = executor.execute(RESTART)
    assert outcome.ok and outcome.detail.startswith("recorded, not run: restart search-api namespace=shop")
    [line] = (tmp_path / "records.jsonl").read_text().splitlines()
    record = json.loads(line)
    assert record["id"] == outcome.undo_token and record["op"] == "execute"
    assert (record["action"], record["target"], record["params"]) == (
        "restart",
        "search-api",
        {"namespace": "shop"},
    )
    assert (record["requested_by"], record["proposal_id"]) == ("U0ALICE", "P1")
    assert executor.verify(RESTART, outcome).ok

    undone = executor.undo(RESTART, outcome)
    assert undone is not None and undone.ok
    assert [r["op"] for r in executor.records()] == ["execute", "undo"]


def test_a_record_that_is_gone_fails_verification(tmp_path: Path) -> None:
    executor = RecordingExecutor(tmp_path / "records.jsonl")
    outcome = executor.execute(RESTART)
    (tmp_path / "records.jsonl").unlink()
    check = executor.verify(RESTART, outcome)
    assert not check.ok and check.detail == "the record is missing"


def test_an_unwritable_file_is_an_executor_error(tmp_path: Path) -> None:
    executor = RecordingExecutor(tmp_path / "no-such-dir" / "records.jsonl")
    with pytest.raises(ExecutorError, match=r"cannot record to .*records\.jsonl: No such file"):
        executor.execute(RESTART)


def test_the_registry_records_every_action_type_unless_a_real_backend_takes_it(tmp_path: Path) -> None:
    only = build_executors(ExecutorSettings(record_file=tmp_path / "r.jsonl"))
    assert sorted(only) == ["restart", "rollback", "run_runbook", "scale", "silence_alert"]
    assert all(isinstance(e, RecordingExecutor) for e in only.values())
    mixed = build_executors(
        ExecutorSettings(record_file=tmp_path / "r.jsonl", alertmanager_url="http://alertmanager:9093")
    )
    assert not isinstance(mixed["silence_alert"], RecordingExecutor)
    assert isinstance(mixed["restart"], RecordingExecutor)
