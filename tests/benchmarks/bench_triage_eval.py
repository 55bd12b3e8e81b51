"""Benchmark: evidence-only triage on the labelled evaluation set, beside the previous release's engine.

    python tests/benchmarks/bench_triage_eval.py [--peer REF] [--cases]

Builds the set (tests/evals/triage, see its README) into a temporary directory, exports `REF`
(default `main`) with `git archive` as the previous release, and runs both engines over every case
with tests/benchmarks/triage_eval_runner.py (evidence-only, knowledge base ingested into an embedded
Redis; this branch calibrates novelty by leave-one-out on that knowledge base first). Figures, per
split (dev, held-out, all):
- class top-3 / first: a word of the right root-cause class appears in the claim of one of the first
  three hypotheses / of the first (the claim line only: not its detail, quotes or `templates` in it);
- novel flagged: novel incidents (class absent from the knowledge base) the answer calls novel;
  known falsely flagged: incidents whose class the knowledge base has, called novel;
- key line quoted: one of the first three hypotheses quotes a line matching the case's key evidence.
`--cases` prints each dev case's first claim for both engines (never the held-out ones: they are not
for tuning).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.evals.triage.build import build  # noqa: E402

RUNNER = REPO / "tests" / "benchmarks" / "triage_eval_runner.py"
SPLITS = ("dev", "held-out", "all")


def named(statement: str, names: list[str]) -> bool:
    """A class word in the claim, outside `backtick` quotes of log templates."""
    text = re.sub(r"`[^`]*`", " ", statement).lower()
    return any(re.search(r"\b" + re.escape(n.lower()), text) for n in names)


def score(case: dict[str, Any], answer: dict[str, Any]) -> dict[str, bool | None]:
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


def run_engine(root: Path, eval_dir: Path) -> tuple[dict[str, dict[str, Any]], float]:
    started = time.monotonic()
    out = subprocess.run(
        [sys.executable, str(RUNNER), str(root), str(eval_dir)],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
    )
    if out.returncode != 0:
        raise SystemExit(f"runner failed for {root}:\n{out.stderr[-3000:]}")
    answers = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    for a in answers:
        if "calibration" in a:
            print(f"{root.name}: novelty {a['calibration']}")
    return {a["id"]: a for a in answers if "id" in a}, time.monotonic() - started


def figures(cases: list[dict[str, Any]], answers: dict[str, dict[str, Any]], split: str) -> dict[str, float]:
    chosen = [c for c in cases if split == "all" or c["split"] == split]
    scores = [score(c, answers[c["id"]]) for c in chosen]

    def rate(key: str) -> float:
        vals = [s[key] for s in scores if s[key] is not None]
        return sum(map(bool, vals)) / len(vals) if vals else float("nan")

    return {k: rate(k) for k in ("top3", "first", "quoted", "novel_hit", "false_novel")} | {"n": len(chosen)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer", default="main", help="git ref of the previous release (default: main)")
    parser.add_argument("--cases", action="store_true", help="print each dev case's first claim")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        eval_dir, peer = Path(tmp) / "eval", Path(tmp) / "peer"
        counts = build(eval_dir)
        peer.mkdir()
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", args.peer], capture_output=True, check=True
        )
        subprocess.run(["tar", "-x", "-C", str(peer)], input=archive.stdout, check=True)
        cases = [json.loads((d / "case.json").read_text()) for d in sorted((eval_dir / "cases").iterdir())]
        ours, ours_s = run_engine(REPO, eval_dir)
        theirs, theirs_s = run_engine(peer, eval_dir)
    print(
        f"evaluation set: {counts['incidents']} incidents in {counts['classes']} classes, "
        f"{counts['novel']} novel, {counts['held_out']} held out, {counts['red_herrings']} with red "
        f"herrings; knowledge base of {counts['kb']} postmortems"
    )
    header = (
        f"{'engine':<16}{'split':<10}{'n':>4}{'top-3':>8}{'first':>8}{'novel':>8}{'false':>8}{'quoted':>8}"
    )
    print(header)
    for label, answers, secs in ((f"peer {args.peer}", theirs, theirs_s), ("this branch", ours, ours_s)):
        for split in SPLITS:
            f = figures(cases, answers, split)
            print(
                f"{label:<16}{split:<10}{f['n']:>4}{f['top3']:>8.2f}{f['first']:>8.2f}"
                f"{f['novel_hit']:>8.2f}{f['false_novel']:>8.2f}{f['quoted']:>8.2f}"
            )
        print(f"{label:<16}({secs:.0f} s for {len(cases)} cases)")
    print("bars (evidence-only): top-3 ≥ 0.80, first ≥ 0.60, novel ≥ 0.90, false ≤ 0.10, quoted ≥ 0.90")
    if args.cases:
        for c in [c for c in cases if c["split"] == "dev"]:
            for label, answers in (("peer", theirs), ("ours", ours)):
                a = answers[c["id"]]
                first = a["hypotheses"][0]["statement"] if a["hypotheses"] else "(none)"
                s = score(c, a)
                print(f"{c['id']:<26}{label:<5} novel={a['novel']!s:<5} top3={s['top3']!s:<5} {first[:150]}")


if __name__ == "__main__":
    main()
