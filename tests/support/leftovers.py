"""Processes a test run leaves behind, found by a marker in their environment.

Every process a test starts inherits the marker, including daemons that left their parent (the
embedded redis-server daemonizes) and work horses in sessions of their own, so the marker finds
them where a process tree would not.
"""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

MARKER = "INCIDENT_COPILOT_TEST_RUN"


def marked(value: str) -> list[int]:
    """Live processes (not this one, not zombies) whose environment holds MARKER=value, or a mark
    under it (MARKER=value.gw0: the processes of a pytest-xdist worker of that run)."""
    wanted = f"{MARKER}={value}".encode()
    below = wanted + b"."
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and any(v == wanted or v.startswith(below) for v in environ.split(b"\0")):
            found.append(int(entry.name))
    return found


def describe(pids: list[int]) -> str:
    lines = []
    for pid in pids:
        with contextlib.suppress(OSError):
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            lines.append(f"{pid}: {cmdline.strip()}")
    return "\n".join(lines)


def reap(value: str) -> list[int]:
    """SIGKILL every process marked with `value`; the pids that were still running."""
    pids = marked(value)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    return pids
