"""Benchmark: what the redactor masks on real logs that hold no secrets, and what it catches in random
credentials of no known format.

    python tests/benchmarks/bench_redaction.py [--data PATH] [--samples 20000] [--show 15]

False positives: every line of the 15 Loghub 2k samples (`loghub/2k/<System>/*_2k.log`) goes through
`Redactor`; Loghub holds no live credentials, so a masked line is counted as a false positive (by
rule, with the masked tokens shown). Recall: fresh random tokens (Python's `secrets`) of each
alphabet and length, alone in a line with no key name around them, so only `high_entropy` can
catch them. The threshold was set from the random tokens alone, never from Loghub. Last, how many
Loghub lines the suspicious-evidence check (`workers/triage/suspicious.py`) would flag: none of them
is an injection, so every flag is a false positive.
"""

from __future__ import annotations

import argparse
import re
import secrets
import string
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from workers.redaction import Redactor  # noqa: E402
from workers.triage.suspicious import why_suspicious  # noqa: E402

ALPHABETS = {
    "base62": string.ascii_letters + string.digits,
    "letters (no digits)": string.ascii_letters,
    "base64": string.ascii_letters + string.digits + "+/",
    "base64url": string.ascii_letters + string.digits + "-_",
    "base36 lower": string.ascii_lowercase + string.digits,
    "lowercase letters": string.ascii_lowercase,
}
_MASK = re.compile(r"\[REDACTED:([a-z0-9_]+)\]")


def false_positives(data: Path, show: int) -> None:
    files = sorted(data.glob("loghub/2k/*/*_2k.log"))
    if not files:
        print(f"no Loghub samples under {data}/loghub/2k: skipped (pass --data)")
        return
    redactor = Redactor()
    print(f"{'system':<12} {'lines':>6} {'masked':>7} {'rate':>7}")
    total = masked_total = 0
    by_rule: Counter[str] = Counter()
    examples: Counter[str] = Counter()
    cpu = 0.0
    for path in files:
        lines = path.read_text(errors="replace").splitlines()
        masked = 0
        started = time.process_time()
        outcomes = [redactor.redact_counted(line) for line in lines]
        cpu += time.process_time() - started
        for line, (_out, counts) in zip(lines, outcomes, strict=True):
            if counts:
                masked += 1
                by_rule.update(counts)
                for category in counts:
                    examples[f"{category}: {line[:140]}"] += 1
        total += len(lines)
        masked_total += masked
        print(f"{path.parent.name:<12} {len(lines):>6} {masked:>7} {masked / len(lines):>7.2%}")
    print(f"{'all':<12} {total:>6} {masked_total:>7} {masked_total / total:>7.2%}")
    print(f"cost: {cpu / total * 1e6:.1f} µs CPU per line (first pass, {total} lines)")
    print("masked by rule:", dict(by_rule.most_common()))
    for line, n in examples.most_common(show):
        print(f"  ×{n} {line}")


def suspicious(data: Path, show: int) -> None:
    files = sorted(data.glob("loghub/2k/*/*_2k.log"))
    if not files:
        return
    flagged: list[str] = []
    total = 0
    for path in files:
        for line in path.read_text(errors="replace").splitlines():
            total += 1
            if reason := why_suspicious(line):
                flagged.append(f"{reason}: {line[:140]}")
    print(f"\nsuspicious-evidence flags on Loghub: {len(flagged)} of {total} lines")
    for line in flagged[:show]:
        print(f"  {line}")


def recall(samples: int) -> None:
    redactor = Redactor()
    print(f"\n{'alphabet':<20} {'length':>6} {'caught':>8}")
    for name, alphabet in ALPHABETS.items():
        for length in (20, 24, 32, 40):
            caught = 0
            for _ in range(samples):
                token = "".join(secrets.choice(alphabet) for _ in range(length))
                caught += token not in redactor.redact(f"upstream replied with {token} and closed")
            print(f"{name:<20} {length:>6} {caught / samples:>8.3%}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--samples", type=int, default=20_000, help="random tokens per alphabet and length")
    parser.add_argument("--show", type=int, default=15, help="masked Loghub lines to print")
    args = parser.parse_args()
    false_positives(args.data, args.show)
    suspicious(args.data, args.show)
    recall(args.samples)


if __name__ == "__main__":
    main()
