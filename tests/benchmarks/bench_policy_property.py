"""Benchmark: the approval rules' property test at full size.

    python tests/benchmarks/bench_policy_property.py [--examples 10000]

Random policies × random actions (names in disguise: case, zero-width and full-width characters,
soft hyphens, look-alike letters, missing attributes) × random click sequences, each played through
the product (`workers.proposals.approval.approve` on an embedded Redis) and through the reference
model in `tests/unit/test_policy_property.py`. Prints how many examples ran, how they split by the
model's level and the outcome, and the time taken; exits 1 (with hypothesis's minimal failing
example) if the product ever approves what the model denies, or refuses what it allows.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import redis  # noqa: E402

from tests.unit.test_policy_property import run_property  # noqa: E402
from workers.redisconn import EmbeddedRedis  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=10_000, help="examples to run (default 10000)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedRedis(Path(tmp) / "redis", persist=False)
        client = redis.Redis.from_url(server.ensure_running())
        started = time.perf_counter()
        try:
            seen = run_property(client, args.examples)
        finally:
            client.close()
            server.stop()
    took = time.perf_counter() - started
    ran = sum(v for k, v in seen.items() if "," in k)
    print(f"{ran} examples in {took:.0f} s ({1000 * took / max(ran, 1):.1f} ms each): 0 disagreements")
    for outcome, count in sorted(seen.items()):
        print(f"  {outcome:<28} {count:>6}")
    return 0 if ran >= args.examples else 1


if __name__ == "__main__":
    sys.exit(main())
