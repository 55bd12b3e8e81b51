"""Benchmark: evidence-only triage on the labelled evaluation set, beside the previous release's engine.

    python tests/benchmarks/bench_triage_eval.py [--peer REF]

Builds the set (tests/evals/triage, see its README) into a temporary directory, exports `REF` (default:
the previous release, see peer.py) with `git archive`, and runs `incident-copilot backtest --eval SET
--compare PEER`: both engines over every case with the same runner (workers/triage/evalrun.py;
evidence-only, each with the set's knowledge base in an embedded Redis of its own, novelty calibrated
by leave-one-out on that knowledge base when the engine can). It prints the dev cases one by one (never
the held-out ones), then per split (dev, held-out, all) and engine: class named in the claim of the
first three hypotheses / the first, novel flagged, known falsely flagged, key line quoted, and the
time each engine took (wall and CPU).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.benchmarks.peer import PREVIOUS_RELEASE, export  # noqa: E402
from tests.evals.triage.build import build  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer", default=PREVIOUS_RELEASE, help="git ref of the previous release")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        eval_dir = Path(tmp) / "eval"
        counts = build(eval_dir)
        peer = export(args.peer, Path(tmp) / "peer")
        print(
            f"evaluation set: {counts['incidents']} incidents in {counts['classes']} classes, "
            f"{counts['novel']} novel, {counts['held_out']} held out, {counts['red_herrings']} with red "
            f"herrings; knowledge base of {counts['kb']} postmortems; peer {args.peer}",
            flush=True,
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "REDIS_", "EMBEDDINGS_"))}
        command = [sys.executable, "-m", "bot.cli", "--env-file", os.devnull, "backtest"]
        subprocess.run(
            [*command, "--eval", str(eval_dir), "--compare", str(peer)], cwd=REPO, env=env, check=True
        )


if __name__ == "__main__":
    main()
