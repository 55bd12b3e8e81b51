"""Benchmark: how long a policy edit takes to take effect in a running bot and worker.

    python tests/benchmarks/bench_policy_reload.py [--rounds 5]

Starts the real stack (bot over HTTP, one RQ worker, embedded Redis, the Slack stand-in, a runbook
endpoint) with a policy that puts `run_runbook` at act, and gets Approve buttons from two /triage
runs. Then, per round:
- bot: rewrite the policy file in place lowering `run_runbook` to suggest, and at once click Approve
  on a fresh proposal; the time from the write to the ephemeral refusal that cites the new level;
- worker: mark a fresh proposal approved, rewrite the file lowering it, enqueue its execution job;
  the time from the write to the worker's `refused_at_execution` audit entry citing the new level.
The file is restored to act between rounds. Bar: every round ≤ 2 s, with 0 executions.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.integration.test_adversarial_governance import Gov, governance_stack  # noqa: E402
from workers.slack import ids  # noqa: E402

BAR_S = 2.0


def bot_round(g: Gov, pid: str) -> float:
    started = time.monotonic()
    g.write_policy(level="suggest")
    said = g.click(ids.PROPOSAL_APPROVE, pid)
    took = time.monotonic() - started
    assert "now puts it at suggest" in said, said
    return took


def worker_round(g: Gov, pid: str) -> float:
    g.force_approved(pid)
    started = time.monotonic()
    g.write_policy(level="suggest")
    g.enqueue(pid)
    while not g.audited(pid, "refused_at_execution", "now puts it at suggest"):
        if time.monotonic() - started > 30:
            raise AssertionError(f"the worker did not refuse {pid} within 30 s")
        time.sleep(0.005)
    return time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, choices=range(1, 6), help="rounds per process (1-5)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, governance_stack(Path(tmp)) as g:
        g.triage("second")  # payments-f1..f5 and payments-p1..p5 at act
        results: dict[str, list[float]] = {"bot": [], "worker": []}
        for n in range(1, args.rounds + 1):
            results["bot"].append(bot_round(g, g.proposals[f"run_runbook payments-f{n}"]))
            g.write_policy()
            results["worker"].append(worker_round(g, g.proposals[f"run_runbook payments-p{n}"]))
            g.write_policy()
        runs = sum(g.runbook.runs.values())
    for process, times in results.items():
        shown = ", ".join(f"{t * 1000:.0f}" for t in times)
        worst_ms = max(times) * 1000
        print(f"{process:<6} edit → effect: max {worst_ms:.0f} ms over {len(times)} rounds ({shown} ms)")
    print(f"executions of lowered actions: {runs}")
    worst = max(max(t) for t in results.values())
    print(f"bar ≤ {BAR_S:.0f} s: {'met' if worst <= BAR_S and runs == 0 else 'NOT met'}")
    return 0 if worst <= BAR_S and runs == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
