"""An executor that changes nothing: it writes what it would do, one JSON line per action, to a file.
The playground runs with it so Approve goes all the way through the policy, the audit trail and the
report in the thread without touching a real system; an operator can use it to rehearse a policy."""

from __future__ import annotations

import json
import secrets
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from workers.errors import ExecutorError
from workers.executors.base import ActionRequest, Outcome, Plan, Verification


class RecordingExecutor:
    kinds = frozenset({"restart", "scale", "rollback", "silence_alert", "run_runbook"})

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def _line(self, action: ActionRequest) -> str:
        params = " ".join(f"{k}={v}" for k, v in sorted(action.params.items()))
        return f"{action.action} {action.target}" + (f" {params}" if params else "")

    def dry_run(self, action: ActionRequest) -> Plan:
        return Plan([f"would {self._line(action)} (recorded to {self.path.name}, nothing changes)"])

    def execute(self, action: ActionRequest) -> Outcome:
        record_id = "R" + secrets.token_hex(4)
        self._append({"id": record_id, "op": "execute", **_fields(action)})
        return Outcome(True, f"recorded, not run: {self._line(action)} (record {record_id})", record_id)

    def verify(self, action: ActionRequest, outcome: Outcome) -> Verification:
        found = any(r.get("id") == outcome.undo_token for r in self.records())
        return Verification(found, "the record is in the file" if found else "the record is missing")

    def undo(self, action: ActionRequest, outcome: Outcome) -> Outcome | None:
        self._append({"id": outcome.undo_token, "op": "undo", **_fields(action)})
        return Outcome(True, f"recorded the undo of {outcome.undo_token}")

    def records(self) -> list[dict[str, Any]]:
        """Every line written so far, oldest first."""
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def _append(self, record: dict[str, Any]) -> None:
        line = json.dumps({"at": datetime.now(UTC).isoformat(timespec="seconds"), **record}, sort_keys=True)
        try:
            with self._lock, self.path.open("a") as out:
                out.write(line + "\n")
        except OSError as exc:
            raise ExecutorError(f"cannot record to {self.path}: {exc.strerror}") from exc


def _fields(action: ActionRequest) -> dict[str, Any]:
    return {
        "action": action.action,
        "target": action.target,
        "params": action.params,
        "requested_by": action.requested_by,
        "proposal_id": action.proposal_id,
    }
