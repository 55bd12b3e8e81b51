"""Chaos benchmark: `/triage` under faults, through the real bot (signed requests to its HTTP
endpoint), 4 real RQ workers, a real redis-server on a loopback port and the Slack stand-in.

Three scenarios, each on a fresh stack, each command in a channel of its own:
- redis:   once 30% of the commands are acknowledged, the redis-server is stopped for 10 s and
           started again on the same port; the workers are never restarted (they must ride it out);
- sigkill: all 4 workers are SIGKILLed (with their work horses) three times at random moments.
           Nothing else could run the jobs, so each time 4 new workers are started, as a
           supervisor would; the jobs the dead ones held must be found and finished by them;
- slack:   once 30% of the commands are acknowledged, every Web API call is answered
           `ratelimited` (Retry-After: 1) for 10 s, then HTTP 500 for 10 s.

Per scenario it prints how each command ended: answered exactly once, failed visibly with a true
message (edited into the placeholder, or an ephemeral "nothing was queued" for a run that indeed has
no job), stuck placeholders, duplicates, and untrue messages. The bar: every command answered once or
failed truly, 0 stuck, 0 duplicates, 0 untrue.

    python tests/benchmarks/bench_chaos.py [--commands 500] [--senders 50] [--scenario redis ...] [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import random
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import redis  # noqa: E402
from rq.job import Job  # noqa: E402

from bot.localstack import LocalStack  # noqa: E402
from tests.support.loopback_redis import LoopbackRedis  # noqa: E402

WORKERS = 4
FAULT_S = 10.0
SCENARIOS = ("redis", "sigkill", "slack")


def is_answer(message: dict[str, Any]) -> bool:
    return any(b.get("type") == "header" for b in message.get("blocks") or [])


def is_failure(message: dict[str, Any]) -> bool:
    return str(message.get("text", "")).startswith(("Triage failed", "Triage not confirmed"))


class Run:
    """One scenario: the stack, the commands sent, and what became of each."""

    def __init__(self, workdir: Path, commands: int, senders: int) -> None:
        self.redis = LoopbackRedis(workdir / "redis")
        self.workdir = workdir
        self.commands = commands
        self.senders = senders
        self.channels = [f"C0X{i:05d}" for i in range(commands)]
        self.statuses: Counter[int] = Counter()
        self.sent = 0
        self.reasons: Counter[str] = Counter()  # what failed placeholders said (last pass)
        self.stack: LocalStack | None = None

    def start(self) -> LocalStack:
        self.redis.start()
        self.stack = LocalStack(
            self.workdir / "stack",
            workers=WORKERS,
            redis_url=self.redis.url,
            log_level="warning",
            ready_timeout=120,
        )
        self.stack.start()
        ws = self.stack.standin.state
        ws.add_user("U0ONCALL", "oncall", "On Call")
        for c in self.channels:
            ws.add_channel(c, f"inc-chaos-{c[-5:]}")
            ws.add_message(c, "U0ONCALL", "checkout p99 is up", ts=f"{time.time() - 60:.6f}")
        # The bot reads its installation from Slack once, on the first command.
        self.stack.driver().slash_command("help", user_id="U0ONCALL", channel_id=self.channels[0])
        return self.stack

    def stop(self) -> None:
        if self.stack is not None:
            self.stack.stop()
        self.redis.stop()

    def send_all(self) -> None:
        assert self.stack is not None
        driver, lock = self.stack.driver(), threading.Lock()

        def send(c: str) -> None:
            resp = driver.slash_command(
                "latency up last 15m", user_id="U0ONCALL", channel_id=c, channel_name=f"inc-chaos-{c[-5:]}"
            )
            with lock:
                self.statuses[resp.status] += 1
                self.sent += 1

        with ThreadPoolExecutor(max_workers=self.senders) as pool:
            list(pool.map(send, self.channels))

    def outcomes(self) -> Counter[str]:
        assert self.stack is not None
        self.reasons.clear()
        told: dict[str, list[dict[str, Any]]] = {}
        for post in self.stack.standin.state.response_posts():
            told.setdefault(str(post.get("channel")), []).append(post)
        return Counter(self.outcome(c, told.get(c, [])) for c in self.channels)

    def outcome(self, channel: str, told: list[dict[str, Any]]) -> str:
        """answered, failed (said in the placeholder), refused (told "nothing was queued", and indeed
        no job exists), duplicate, untrue, or pending."""
        assert self.stack is not None
        mine = [m for m in self.stack.standin.messages(channel) if m.get("bot_id")]
        top = [m for m in mine if m.get("thread_ts", m["ts"]) == m["ts"]]
        if len(top) > 1 or len(mine) - len(top) > 1:
            return "duplicate"
        if top and is_answer(top[0]):
            return "answered"
        if top and is_failure(top[0]):
            self.reasons[str(top[0]["text"]).split(". ", 1)[0]] += 1
            return "failed"
        if top:
            return "pending"  # a placeholder: stuck if it stays so
        if any("nothing was queued" in p.get("text", "") for p in told):
            return "refused" if not self._queued(told) else "untrue"
        return "pending"

    def _queued(self, told: list[dict[str, Any]]) -> bool:
        """Whether any run a "nothing was queued" message names has a job after all."""
        runs = [p["text"].split("run id `", 1)[1].split("`", 1)[0] for p in told if "run id `" in p["text"]]
        with contextlib.closing(redis.Redis.from_url(self.redis.url)) as client:
            return any(Job.exists(f"triage-{run}", connection=client) for run in runs)

    def settle(self, timeout: float) -> Counter[str]:
        deadline = time.monotonic() + timeout
        while True:
            ended = self.outcomes()
            if ended["pending"] == 0 or time.monotonic() > deadline:
                break
            time.sleep(1.0)
        time.sleep(2.0)  # a late duplicate would land by now
        ended = self.outcomes()
        ended["stuck"] = ended.pop("pending", 0)
        return ended

    def answered(self) -> int:
        ended = self.outcomes()
        return ended["answered"] + ended["failed"] + ended["refused"]


def wait_progress(run: Run, share: float, timeout: float = 600) -> None:
    """Until `share` of the commands have ended (so a fault lands mid-run)."""
    deadline = time.monotonic() + timeout
    while run.answered() < share * run.commands and time.monotonic() < deadline:
        time.sleep(0.5)


def wait_sent(run: Run, share: float, timeout: float = 600) -> None:
    """Until `share` of the commands have been acknowledged (so a fault meets commands arriving)."""
    deadline = time.monotonic() + timeout
    while run.sent < share * run.commands and time.monotonic() < deadline:
        time.sleep(0.05)


def redis_outage(run: Run, fault_s: float) -> str:
    wait_sent(run, 0.3)
    run.redis.stop()
    time.sleep(fault_s)
    run.redis.start()
    return f"redis-server stopped for {fault_s:.0f} s"


def kill_workers(run: Run, fault_s: float) -> str:
    assert run.stack is not None
    stack, rng = run.stack, random.Random()
    at = sorted(rng.uniform(0.1, 0.7) for _ in range(3))
    for share in at:
        wait_progress(run, share)
        for worker in [w for w in stack.workers if w.poll() is None]:
            stack.stop_process(worker, signal.SIGKILL)
        for _ in range(WORKERS):  # nothing else could run the jobs: replaced, as a supervisor would
            stack.start_worker()
    return "all workers SIGKILLed at " + ", ".join(f"{s:.0%}" for s in at) + " of the commands ended"


def slack_faults(run: Run, fault_s: float) -> str:
    assert run.stack is not None
    wait_sent(run, 0.3)
    run.stack.standin.degrade(fault_s, status=429, retry_after=1)
    time.sleep(fault_s)
    run.stack.standin.degrade(fault_s, status=500)
    time.sleep(fault_s)
    return f"Slack ratelimited for {fault_s:.0f} s, then 500 for {fault_s:.0f} s"


FAULTS: dict[str, Callable[[Run, float], str]] = {
    "redis": redis_outage,
    "sigkill": kill_workers,
    "slack": slack_faults,
}


def scenario(name: str, commands: int, senders: int, fault_s: float, timeout: float) -> bool:
    with tempfile.TemporaryDirectory(prefix=f"bench-chaos-{name}-") as tmp:
        run = Run(Path(tmp), commands, senders)
        try:
            stack = run.start()
            original = list(stack.workers)
            began = time.monotonic()
            chaos: list[str] = []
            thread = threading.Thread(target=lambda: chaos.append(FAULTS[name](run, fault_s)), daemon=True)
            thread.start()
            run.send_all()
            thread.join(timeout)
            ended = run.settle(timeout)
            took = time.monotonic() - began
            alive = sum(w.poll() is None for w in stack.workers)
            survivors = sum(w.poll() is None for w in original)
        finally:
            run.stop()
    bad = ended["stuck"] + ended["duplicate"] + ended["untrue"]
    ok = (
        bad == 0
        and ended["answered"] + ended["failed"] + ended["refused"] == commands
        and (name != "redis" or survivors == WORKERS)
    )
    print(f"[{name}] {chaos[0] if chaos else 'fault did not finish'}; {took:.0f} s")
    print(
        f"  {commands} commands: answered once {ended['answered']}; true errors: told nothing was queued "
        f"{ended['refused']}, failed in the placeholder {ended['failed']}; stuck {ended['stuck']}, "
        f"duplicates {ended['duplicate']}, untrue {ended['untrue']}"
    )
    if run.reasons:
        print("  failed in the placeholder: " + "; ".join(f"{n} × {r}" for r, n in run.reasons.most_common()))
    print(
        f"  HTTP {dict(sorted(run.statuses.items()))}; workers alive at the end {alive}"
        + (f" (of the original {WORKERS}, none restarted: {survivors})" if name == "redis" else "")
    )
    print(f"  bar: {'met' if ok else 'NOT met'}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=500)
    parser.add_argument("--senders", type=int, default=50)
    parser.add_argument("--scenario", choices=SCENARIOS, action="append", help="default: all three")
    parser.add_argument("--timeout", type=float, default=900, help="seconds for the commands to end")
    parser.add_argument("--quick", action="store_true", help="60 commands, 10 senders")
    args = parser.parse_args()
    if args.quick:
        args.commands, args.senders = 60, 10
    print(
        f"chaos benchmark: {args.commands} /triage, {args.senders} concurrent senders, {WORKERS} workers, "
        "real bot, redis-server and Slack stand-in on loopback"
    )
    results = [
        scenario(s, args.commands, args.senders, FAULT_S, args.timeout) for s in args.scenario or SCENARIOS
    ]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
