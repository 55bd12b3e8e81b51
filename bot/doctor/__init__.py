"""`incident-copilot doctor`: check every configured part and say what is wrong and how to fix it.

Each check returns findings: a part, a status (ok, warn, fail, skip), what was found and, when
something is wrong, what to do. The command exits 1 when any finding is a failure.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Literal

Status = Literal["ok", "warn", "fail", "skip"]


@dataclass(frozen=True)
class Finding:
    part: str
    status: Status
    found: str
    fix: str = ""


Check = Callable[[], list[Finding]]


def failed(part: str, found: str, fix: str) -> list[Finding]:
    return [Finding(part, "fail", found, fix)]


def guarded_check(part: str, check: Check) -> list[Finding]:
    """A check that raises becomes a failure of its part, never the end of the run."""
    try:
        return check()
    except Exception as exc:  # the doctor reports, it never crashes
        return [Finding(part, "fail", f"the check itself failed: {type(exc).__name__}: {exc}")]


def render(findings: list[Finding]) -> str:
    marks = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL", "skip": "skip"}
    width = max((len(f.part) for f in findings), default=0)
    lines = []
    for f in findings:
        lines.append(f"{marks[f.status]}  {f.part:<{width}}  {f.found}")
        if f.fix:
            lines.append(f"{'':4}  {'':<{width}}  fix: {f.fix}")
    failed = sum(f.status == "fail" for f in findings)
    warned = sum(f.status == "warn" for f in findings)
    lines.append(f"{len(findings)} checks: {failed} failed, {warned} warnings")
    return "\n".join(lines)


def as_json(findings: list[Finding]) -> str:
    return json.dumps(
        {"ok": not any(f.status == "fail" for f in findings), "findings": [asdict(f) for f in findings]}
    )
