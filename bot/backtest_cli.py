"""`incident-copilot backtest --eval DIR [--compare ROOT]`: a labelled evaluation set through this engine
and, in the same run, another release's, with the figures side by side (see workers/triage/evalset.py)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import workers
from workers.errors import UserInputError
from workers.triage import evalset

HERE = Path(workers.__file__).resolve().parent.parent  # this release's source tree (or site-packages)


def run_eval(eval_dir: Path, compare: Path | None, env_file: Path | None, *, as_json: bool) -> int:
    started = time.monotonic()
    try:
        cases = evalset.load_cases(eval_dir)
        if compare is not None and not (compare / "workers" / "triage" / "engine.py").is_file():
            raise UserInputError(
                f"--compare {compare}: not a source tree of incident-copilot (no workers/triage/engine.py); "
                "export a release with `git archive REF | tar -x -C DIR`"
            )
        env = evalset.child_env()
        file = env_file if env_file is not None and env_file.is_file() else None
        runs = [evalset.run_engine("compared release", compare, eval_dir, env, file)] if compare else []
        runs.append(evalset.run_engine("this release", HERE, eval_dir, env, file))
    except UserInputError as exc:
        print(f"incident-copilot: {exc}")
        return 2
    if as_json:
        out = {
            run.label: {
                "figures": {split: evalset.figures(cases, run, split) for split in evalset.SPLITS},
                "calibration": run.calibration,
                "wall_s": run.wall_s,
                "cpu_s": run.cpu_s,
                "answers": run.answers,
            }
            for run in runs
        }
        print(json.dumps(out, indent=2, default=str))
        return 0
    ours = runs[-1]
    held = sum(c["split"] != "dev" for c in cases)
    print(f"{len(cases)} cases from {eval_dir} ({held} held out: figures only, never case by case)")
    if compare is not None:
        print(f"compared release: the source tree in {compare}")
    for case in (c for c in cases if c["split"] == "dev"):
        answer = ours.answers[case["id"]]
        s = evalset.score(case, answer)
        mark = "first" if s["first"] else "top3" if s["top3"] else "miss"
        novel = "novel" if answer["novel"] else "known"
        due = (
            ""
            if answer["novel"] == case["novel"]
            else f" (should be {'novel' if case['novel'] else 'known'})"
        )
        claim = answer["hypotheses"][0]["statement"] if answer["hypotheses"] else "(no hypothesis)"
        print(f"{case['id']:<24} {mark:<5} {novel}{due:<20} {claim[:90]}")
    print("\n".join(evalset.table(cases, runs)))
    print(f"backtest took {time.monotonic() - started:.1f} s wall")
    return 0
