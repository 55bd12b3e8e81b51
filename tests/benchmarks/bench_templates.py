"""Benchmark: template mining accuracy and throughput, ours against drain3, on the Loghub 2k sets.

    python tests/benchmarks/bench_templates.py [--data PATH] [--lines 1000000]

Accuracy is the group accuracy of the Loghub/logparser papers: a line counts as correct when the
set of lines in its predicted group is exactly the set of lines in its ground-truth group (the
`EventTemplate` column of `loghub/2k_corrected/<System>/*structured_corrected.csv`). Both parsers
read the `Content` column (the message after the header, as the logparser benchmarks do) and
drain3 runs with its default `TemplateMiner()`. That table decides the bar; a second table feeds
both the raw `*_2k.log` lines, headers included, as a log source hands them over.

Throughput: the 15 raw 2k logs, cycled up to `--lines` lines, each with its running number
appended (so no two lines are equal, but masked lines repeat as real logs do). Ours reads
`LogLine`s with a timestamp; drain3 reads the strings, configured with masking instructions built
from the same patterns as our `mask` (`templates.MASK_PATTERNS`, in the same order). Each parser
runs in a fresh subprocess, which reports lines/s and its peak RSS.

The issue's bars: mean accuracy ≥ drain3's and ≥ drain3 on at least 12 of 15 systems (Content
input), throughput ≥ 3× drain3, peak RSS ≤ 300 MB for ours.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import resource
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from workers.evidence.model import LogLine  # noqa: E402
from workers.evidence.templates import MASK_PATTERNS, TemplateMiner  # noqa: E402

RSS_BAR_MB = 300
SPEED_BAR = 3.0
SYSTEMS_BAR = 12


def group_accuracy(predicted: Sequence[Hashable], truth: Sequence[str]) -> float:
    """The share of lines whose predicted group holds exactly the lines of their true group."""
    truth_size = Counter(truth)
    predicted_size = Counter(predicted)
    truths_of: defaultdict[Hashable, set[str]] = defaultdict(set)
    for group, true in zip(predicted, truth, strict=True):
        truths_of[group].add(true)
    correct = 0
    for group, trues in truths_of.items():
        (true, *others) = trues
        if not others and truth_size[true] == predicted_size[group]:
            correct += predicted_size[group]
    return correct / len(truth)


def load(data: Path, system: str) -> tuple[list[str], list[str], list[str]]:
    """(content, raw lines, true templates) of one system, line for line."""
    structured = next((data / "loghub" / "2k_corrected" / system).glob("*structured_corrected.csv"))
    with structured.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    raw = (data / "loghub" / "2k" / system / f"{system}_2k.log").read_text(encoding="utf-8").splitlines()
    if len(raw) != len(rows):
        raise SystemExit(f"{system}: {len(raw)} raw lines but {len(rows)} structured rows")
    return [row["Content"] for row in rows], raw, [row["EventTemplate"] for row in rows]


def systems(data: Path) -> list[str]:
    return sorted(path.name for path in (data / "loghub" / "2k_corrected").iterdir() if path.is_dir())


def ours() -> Callable[[str], Hashable]:
    miner = TemplateMiner()
    return lambda text: miner.add(LogLine(text))


def drain3_default() -> Callable[[str], Hashable]:
    from drain3 import TemplateMiner as Drain

    miner = Drain()
    return lambda text: miner.add_log_message(text)["cluster_id"]


def accuracy_table(data: Path, column: int) -> tuple[list[tuple[str, float, float]], float, float]:
    rows = []
    for system in systems(data):
        loaded = load(data, system)
        lines, truth = loaded[column], loaded[2]
        scores = []
        for make in (ours, drain3_default):
            parse = make()
            scores.append(group_accuracy([parse(line) for line in lines], truth))
        rows.append((system, scores[0], scores[1]))
    return rows, sum(r[1] for r in rows) / len(rows), sum(r[2] for r in rows) / len(rows)


def print_accuracy(title: str, rows: list[tuple[str, float, float]], mine: float, theirs: float) -> int:
    print(f"\n{title}\n{'system':<12} {'ours':>6} {'drain3':>7}")
    for system, a, b in rows:
        print(f"{system:<12} {a:6.3f} {b:7.3f} {'' if a >= b else '  < drain3'}")
    print(f"{'mean':<12} {mine:6.3f} {theirs:7.3f}")
    return sum(a >= b for _, a, b in rows)


def stream(data: Path, count: int) -> Iterator[str]:
    lines = [line for system in systems(data) for line in load(data, system)[1]]
    for number in range(count):
        yield f"{lines[number % len(lines)]} {number}"


def worker(parser: str, data: Path, count: int) -> None:
    """Parse `count` lines in this process; print lines/s and peak RSS as JSON."""
    start_ts = datetime(2026, 1, 1, tzinfo=UTC)
    if parser == "ours":
        miner = TemplateMiner()
        texts = stream(data, count)
        started = time.perf_counter()
        for number, text in enumerate(texts):
            miner.add(LogLine(text, ts=start_ts + timedelta(milliseconds=number)))
        templates, extra = len(miner), f"{miner.evicted} evicted"
    else:
        from drain3 import TemplateMiner as Drain
        from drain3.masking import MaskingInstruction
        from drain3.template_miner_config import TemplateMinerConfig

        config = TemplateMinerConfig()
        config.masking_instructions = [
            MaskingInstruction(source, placeholder.strip("<>")) for placeholder, source in MASK_PATTERNS
        ]
        drain = Drain(config=config)
        texts = stream(data, count)
        started = time.perf_counter()
        for text in texts:
            drain.add_log_message(text)
        templates, extra = len(drain.drain.clusters), ""
    elapsed = time.perf_counter() - started
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"rate": count / elapsed, "rss_mb": rss_mb, "templates": templates, "extra": extra}))


def measure(parser: str, data: Path, count: int) -> dict[str, float | str]:
    command = [sys.executable, __file__, "--data", str(data), "--lines", str(count), "--worker", parser]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    result: dict[str, float | str] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--worker", choices=("ours", "drain3"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)  # drain3 logs its configuration at INFO
    if not (args.data / "loghub" / "2k_corrected").is_dir():
        print(f"skipped: no Loghub data under {args.data} (pass --data PATH)")
        return 0
    if args.worker:
        worker(args.worker, args.data, args.lines)
        return 0

    rows, mine, theirs = accuracy_table(args.data, column=0)
    wins = print_accuracy("Group accuracy, Content column (the bar)", rows, mine, theirs)
    raw_rows, raw_mine, raw_theirs = accuracy_table(args.data, column=1)
    print_accuracy("Group accuracy, raw lines with headers (for information)", raw_rows, raw_mine, raw_theirs)

    print(f"\nThroughput on {args.lines:,} lines (fresh subprocess each)")
    ours_run = measure("ours", args.data, args.lines)
    drain_run = measure("drain3", args.data, args.lines)
    for name, run in (("ours", ours_run), ("drain3+mask", drain_run)):
        print(
            f"{name:<12} {float(run['rate']):>10,.0f} lines/s  peak RSS {float(run['rss_mb']):6.1f} MB"
            f"  {run['templates']} templates {run['extra']}"
        )
    ratio = float(ours_run["rate"]) / float(drain_run["rate"])
    print(f"ratio        {ratio:.2f}×")

    bars = {
        f"mean accuracy {mine:.3f} ≥ drain3 {theirs:.3f}": mine >= theirs,
        f"≥ drain3 on {wins}/{len(rows)} systems (need {SYSTEMS_BAR})": wins >= SYSTEMS_BAR,
        f"throughput {ratio:.2f}× drain3 (need {SPEED_BAR:g}×)": ratio >= SPEED_BAR,
        f"peak RSS {float(ours_run['rss_mb']):.0f} MB (need ≤ {RSS_BAR_MB})": float(ours_run["rss_mb"])
        <= RSS_BAR_MB,
    }
    print("\nBARS: " + "; ".join(f"{name}: {'MET' if ok else 'NOT MET'}" for name, ok in bars.items()))
    return 0 if all(bars.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
