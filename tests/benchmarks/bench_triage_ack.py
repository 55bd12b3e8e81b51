"""Benchmark: signed `/triage` requests against the real bot endpoint with real Redis and workers.

Prints p50, p99 and max time to HTTP 200, and the counts of accepted commands, enqueued jobs and
answers edited into Slack. The issue's bar: p99 < 300 ms (a tenth of Slack's 3 s) and
accepted = jobs = answers.

    python tests/benchmarks/bench_triage_ack.py [--requests 2000] [--senders 50] [--workers 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import redis
from rq import Queue
from rq.serializers import JSONSerializer

from bot.localstack import LocalStack
from workers.queue import TRIAGE


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def count_jobs(url: str) -> int:
    client = redis.Redis.from_url(url)
    try:
        q = Queue(TRIAGE, connection=client, serializer=JSONSerializer)
        regs = (q.started_job_registry, q.finished_job_registry, q.failed_job_registry)
        return q.count + sum(r.count for r in regs)
    finally:
        client.close()


def count_answers(stack: LocalStack, channels: list[str]) -> int:
    """Answers edited in: one per run (re-runs in a channel update that channel's board message)."""
    wanted = set(channels)
    return sum(
        1
        for c in stack.standin.calls_to("chat.update")
        if c.status == 200 and c.args.get("channel") in wanted and "header" in str(c.args.get("blocks"))
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--senders", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--channels", type=int, default=100)
    parser.add_argument("--answer-timeout", type=float, default=600)
    args = parser.parse_args()

    with (
        tempfile.TemporaryDirectory(prefix="bench-triage-") as tmp,
        LocalStack(Path(tmp), workers=args.workers, log_level="warning") as stack,
    ):
        ws = stack.standin.state
        ws.add_user("U0ONCALL", "oncall", "On Call")
        channels = [f"C0B{i:05d}" for i in range(args.channels)]
        for c in channels:
            ws.add_channel(c, f"inc-bench-{c[-5:]}")
            ws.add_message(c, "U0ONCALL", "p99 latency is up", ts=f"{time.time() - 60:.6f}")
        driver = stack.driver()
        latencies: list[float] = []
        statuses: dict[int, int] = {}
        lock = threading.Lock()

        def send(i: int) -> None:
            c = channels[i % len(channels)]
            resp = driver.slash_command(
                "latency up last 15m", user_id="U0ONCALL", channel_id=c, channel_name=f"inc-bench-{c[-5:]}"
            )
            with lock:
                latencies.append(resp.elapsed)
                statuses[resp.status] = statuses.get(resp.status, 0) + 1

        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=args.senders) as pool:
            list(pool.map(send, range(args.requests)))
        sending_s = time.monotonic() - started
        accepted = statuses.get(200, 0)
        deadline = time.monotonic() + args.answer_timeout
        while count_answers(stack, channels) < accepted and time.monotonic() < deadline:
            time.sleep(0.5)
        drained_s = time.monotonic() - started
        time.sleep(1.0)  # let stragglers (duplicates, if any) land before counting
        jobs, answers = count_jobs(stack.redis_url), count_answers(stack, channels)

    ms = [x * 1000 for x in latencies]
    p99 = percentile(ms, 0.99)
    print(
        f"/triage ack benchmark: {args.requests} signed requests, {args.senders} concurrent senders, "
        f"{args.workers} workers, real Redis"
    )
    print(
        f"  time to HTTP 200   p50 {statistics.median(ms):7.1f} ms   "
        f"p99 {p99:7.1f} ms   max {max(ms):7.1f} ms"
    )
    print(
        f"  sent in {sending_s:.1f} s ({args.requests / sending_s:.0f} req/s); "
        f"all answered after {drained_s:.1f} s"
    )
    print(f"  HTTP statuses {dict(sorted(statuses.items()))}")
    print(f"  accepted {accepted}   jobs {jobs}   answers {answers}")
    ok = p99 < 300 and accepted == jobs == answers == args.requests
    print(f"  bar (p99 < 300 ms, accepted = jobs = answers): {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
