"""Backtest on a labelled evaluation set: run engines over its cases, score the answers, print the figures.

A set is a folder with `kb/` (past postmortems, each tagged `cause:<class>`) and `cases/<id>/` holding
`case.json` (the /triage text, the class, the words that name it, a regular expression for the key
evidence line, whether it is novel, its split), `logs/*.log`, `baseline/*.log` and `channel.jsonl`;
tests/evals/triage builds one. Each engine (this one, and any other release's source tree) runs in its
own process through `evalrun.py`, the one runner the benchmark uses too. Figures, per split:
- class top-3 / first: a word of the right class in the claim of one of the first three hypotheses /
  of the first (the claim line only: not its detail nor `backtick`-quoted log templates in it);
- novel flagged: novel cases (class absent from the knowledge base) the answer calls novel; known
  falsely flagged: cases whose class the knowledge base has, called novel;
- key line quoted: one of the first three hypotheses quotes a line matching the case's key evidence.
"""

from __future__ import annotations

import json
import math
import os
import re
import resource
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workers.errors import UserInputError

RUNNER = Path(__file__).with_name("evalrun.py")
SPLITS = ("dev", "held-out", "all")
FIGURES = ("top3", "first", "novel_hit", "false_novel", "quoted")
BARS = "bars (evidence-only): top-3 ≥ 0.80, first ≥ 0.60, novel ≥ 0.90, false ≤ 0.10, quoted ≥ 0.90"
RUN_TIMEOUT_S = 3600


@dataclass
class EngineRun:
    """One engine's answers on a set: per case id, plus what it said about its novelty calibration."""

    label: str
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    calibration: str = ""
    wall_s: float = 0.0
    cpu_s: float = 0.0


def load_cases(eval_dir: Path) -> list[dict[str, Any]]:
    """The set's cases, by id; a clear error when the folder is not a labelled set."""
    cases_dir = eval_dir / "cases"
    if not (eval_dir / "kb").is_dir() or not cases_dir.is_dir():
        raise UserInputError(
            f"--eval {eval_dir}: expected a labelled set with kb/ and cases/ "
            "(build one with `python -m tests.evals.triage.build DIR`)"
        )
    cases = []
    for d in sorted(p for p in cases_dir.iterdir() if p.is_dir()):
        try:
            cases.append(json.loads((d / "case.json").read_text()))
        except (OSError, json.JSONDecodeError) as exc:
            raise UserInputError(f"--eval {d}/case.json: cannot read it: {exc}") from exc
    if not cases:
        raise UserInputError(f"--eval {eval_dir}: cases/ holds no case")
    return cases


def run_engine(
    label: str, root: Path, eval_dir: Path, env: Mapping[str, str], env_file: Path | None = None
) -> EngineRun:
    """Run the engine whose source tree is `root` over the set, in a fresh process."""
    command = [sys.executable, str(RUNNER), str(root), str(eval_dir)]
    command += ["--env-file", str(env_file)] if env_file is not None else []
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    out = subprocess.run(
        command, cwd=root, env=dict(env), capture_output=True, text=True, check=False, timeout=RUN_TIMEOUT_S
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        raise UserInputError(f"the {label} engine ({root}) failed on the set:\n{out.stderr[-3000:]}")
    run = EngineRun(label, wall_s=time.monotonic() - started)
    run.cpu_s = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    for line in out.stdout.splitlines():
        if line.startswith("{"):
            row = json.loads(line)
            if "calibration" in row:
                run.calibration = str(row["calibration"])
            elif "id" in row:
                run.answers[row["id"]] = row
    return run


def named(statement: str, names: Sequence[str]) -> bool:
    """A class word at a word start in the claim, outside `backtick` quotes of log templates."""
    text = re.sub(r"`[^`]*`", " ", statement).lower()
    return any(re.search(r"\b" + re.escape(n.lower()), text) for n in names)


def score(case: Mapping[str, Any], answer: Mapping[str, Any]) -> dict[str, bool | None]:
    hyps = answer["hypotheses"]
    claims = [h["statement"] for h in hyps]
    key = re.compile(case["key"])
    return {
        "top3": any(named(c, case["names"]) for c in claims[:3]),
        "first": bool(claims) and named(claims[0], case["names"]),
        "quoted": any(key.search(q) for h in hyps[:3] for q in h["quotes"]),
        "novel_hit": answer["novel"] if case["novel"] else None,
        "false_novel": answer["novel"] if not case["novel"] else None,
    }


def figures(cases: Sequence[Mapping[str, Any]], run: EngineRun, split: str) -> dict[str, float]:
    """The five figures on one split (nan when the split has no case they apply to), and its size."""
    scores = [score(c, run.answers[c["id"]]) for c in cases if split == "all" or c["split"] == split]

    def rate(key: str) -> float:
        vals = [s[key] for s in scores if s[key] is not None]
        return sum(map(bool, vals)) / len(vals) if vals else math.nan

    return {k: rate(k) for k in FIGURES} | {"n": len(scores)}


def table(cases: Sequence[Mapping[str, Any]], runs: Sequence[EngineRun]) -> list[str]:
    """The figures of every engine on every split, one line each, engines side by side."""
    lines = [
        f"{'engine':<22}{'split':<10}{'n':>4}{'top-3':>8}{'first':>8}{'novel':>8}{'false':>8}{'quoted':>8}"
    ]
    for run in runs:
        for split in SPLITS:
            f = figures(cases, run, split)
            values = "".join(f"{f[k]:>8.2f}" for k in FIGURES)
            lines.append(f"{run.label:<22}{split:<10}{f['n']:>4}{values}")
        modes = sorted({str(a.get("mode", "?")) for a in run.answers.values()})
        lines.append(
            f"{run.label:<22}{len(run.answers)} cases in {run.wall_s:.1f} s wall, {run.cpu_s:.1f} s CPU "
            f"({', '.join(modes)}); novelty {run.calibration or 'not calibrated by this engine'}"
        )
    lines.append(BARS)
    return lines


def child_env() -> dict[str, str]:
    """The environment for an engine's process: ours, without REDIS_URL (each run has its own Redis)."""
    return {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
