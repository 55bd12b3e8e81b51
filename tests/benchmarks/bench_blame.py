"""Benchmark: the blameless check on a labelled set of incident-channel and postmortem sentences
(tests/fixtures/blame/sentences.jsonl: blaming a person by name or role, and neutral sentences that
mention people), this version beside a previous one.

The `dev` split is what the rules were written against; the `heldout` split (other people's names,
other phrasings) was written at the same time and not looked at while tuning. Recall and precision
are for the "blames someone" class.

    python tests/benchmarks/bench_blame.py [--previous main] [--data PATH]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from workers.postmortem import blameless  # noqa: E402

DATA = REPO / "tests" / "fixtures" / "blame" / "sentences.jsonl"
PEOPLE = {  # the participants each split's sentences are about
    "dev": ["Alice Moreau", "Bruno Silva", "Chen Wei", "Dana Okafor", "Priya Nair", "Tom Becker"],
    "heldout": ["Gabriel Costa", "Hana Sato", "Omar Haddad", "Leila Rahimi"],
}
Flagger = Callable[[str, list[str]], bool]


def _previous(ref: str) -> ModuleType | None:
    """workers/postmortem/blameless.py as it is at git `ref`, loaded as a module."""
    shown = subprocess.run(
        ["git", "show", f"{ref}:workers/postmortem/blameless.py"], cwd=REPO, capture_output=True, text=True
    )
    if shown.returncode != 0:
        print(f"previous version {ref!r} not found: {shown.stderr.strip()}", file=sys.stderr)
        return None
    path = Path(tempfile.mkdtemp()) / "blameless_previous.py"
    path.write_text(shown.stdout)
    spec = importlib.util.spec_from_file_location("blameless_previous", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _flagger(module: ModuleType) -> Flagger:
    def flags(sentence: str, people: list[str]) -> bool:
        found, _notes = module.check([("sentence", sentence)], module.first_names(people))
        return bool(found)

    return flags


def score(rows: list[dict[str, object]], split: str, flags: Flagger) -> tuple[float, float, int, int]:
    tp = fp = fn = 0
    for row in rows:
        if split not in ("all", row["split"]):
            continue
        got = flags(str(row["text"]), PEOPLE[str(row["split"])])
        tp += bool(got and row["blame"])
        fp += bool(got and not row["blame"])
        fn += bool(not got and row["blame"])
    recall = tp / (tp + fn) if tp + fn else 0.0
    precision = tp / (tp + fp) if tp + fp else 0.0
    return recall, precision, fp, fn


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--previous", default="main", help="git ref of the previous version (default main)")
    parser.add_argument("--data", type=Path, default=DATA, help="labelled sentences, JSON lines")
    args = parser.parse_args()
    if not args.data.is_file():
        print(f"no labelled set at {args.data}: pass --data PATH", file=sys.stderr)
        return 2
    rows = [json.loads(line) for line in args.data.read_text().splitlines() if line.strip()]
    versions: list[tuple[str, ModuleType]] = [("this version", blameless)]
    if (previous := _previous(args.previous)) is not None:
        versions.append((f"previous ({args.previous})", previous))
    counts = {s: sum(r["split"] == s for r in rows) for s in PEOPLE}
    blaming = {s: sum(r["split"] == s and r["blame"] for r in rows) for s in PEOPLE}
    splits = ", ".join(f"{s} {counts[s]} ({blaming[s]} blaming)" for s in PEOPLE)
    print(f"{len(rows)} labelled sentences: {splits}")
    print(f"{'version':<22} {'split':<8} {'recall':>7} {'precision':>9} {'missed':>6} {'false':>5}")
    for name, module in versions:
        for split in (*PEOPLE, "all"):
            recall, precision, fp, fn = score(rows, split, _flagger(module))
            print(f"{name:<22} {split:<8} {recall:>7.3f} {precision:>9.3f} {fn:>6} {fp:>5}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
