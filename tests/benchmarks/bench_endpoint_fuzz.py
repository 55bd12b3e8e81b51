"""Benchmark: fuzz `POST /slack/events` of the real bot process (embedded Redis, Slack stand-in, one
worker) with Hypothesis-drawn requests: signed, unsigned, forged, tampered, stale and with malformed
timestamps; Slack-shaped payloads with hostile fields, invalid JSON and UTF-8, JSON arrays, 100k-deep
nesting, odd content types (tests/support/endpoint_fuzz.py).

Prints the cases per signing mode and status, responses >= 500, unhandled exceptions in the bot's
log, the bot's RSS before and after (and its CPU seconds), and the time to refuse a forged 10 MB
body (streamed, timed from the first byte sent to the status line; every try is printed, the bar
takes their median as a busy machine adds scheduling delay). The issue's bar: 0 responses >= 500,
0 unhandled exceptions, RSS growth <= 50 MB, 10 MB refused in <= 50 ms.

    python tests/benchmarks/bench_endpoint_fuzz.py [--cases 1000] [--big 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from collections import Counter
from pathlib import Path

import psutil
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.localstack import LocalStack

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
from tests.support.endpoint_fuzz import JSON, Case, cases, problems_in_log, send, send_streaming  # noqa: E402

MB = 1024 * 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000, help="fuzzed requests (default 1000)")
    parser.add_argument("--big", type=int, default=5, help="forged 10 MB bodies to time (default 5)")
    parser.add_argument("--show-slow", action="store_true", help="print every case slower than 1 s")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, LocalStack(Path(tmp)) as stack:
        stack.standin.state.add_user("U0ALICE", "alice", "Alice Moreau")
        stack.standin.state.add_channel("C0FUZZ01", "inc-fuzz", is_member=True)
        assert stack.bot is not None
        bot = psutil.Process(stack.bot.pid)
        rss_before, cpu_before = bot.memory_info().rss, sum(bot.cpu_times()[:2])
        seen: Counter[tuple[str, int]] = Counter()
        times: list[float] = []
        failed: list[Case] = []
        slowest: list[tuple[float, int, Case]] = []

        @settings(
            max_examples=args.cases,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(data=st.data())
        def fuzz(data: st.DataObject) -> None:
            case = data.draw(cases(stack.standin.response_url("fuzz")))
            status, seconds, _ = send(stack.events_url, case, stack.signing_secret)
            seen[(case.signing, status)] += 1
            times.append(seconds)
            if status >= 500:
                failed.append(case)
            if seconds > 1 and args.show_slow:
                print(f"slow {seconds:.1f} s -> {status}: {case}", flush=True)
            slowest.append((seconds, status, case))
            slowest.sort(key=lambda x: -x[0])
            del slowest[3:]

        fuzz()
        big = [
            send_streaming(stack.events_url, Case(b"x" * 10_000_000, JSON, "forged"), stack.signing_secret)
            for _ in range(args.big)
        ]
        rss_after, cpu_after = bot.memory_info().rss, sum(bot.cpu_times()[:2])
        log = (Path(tmp) / "bot.log").read_text(errors="replace")
        alive = stack.bot.poll() is None

    problems = problems_in_log(log)
    fives = sum(n for (_, status), n in seen.items() if status >= 500)
    print(f"cases sent: {sum(seen.values())}")
    for mode in sorted({m for m, _ in seen}):
        by_status = ", ".join(f"{s}: {n}" for (m, s), n in sorted(seen.items()) if m == mode)
        print(f"  {mode:14} {by_status}")
    print(f"responses >= 500: {fives}")
    for case in failed[:5]:
        print(f"  {case.signing} {case.content_type!r} {case.body[:300]!r}")
    print(f"unhandled exceptions in the bot's log: {len(problems)}")
    for line in problems[:5]:
        print(f"  {line}")
    print(f"bot alive after the run: {alive}")
    print(f"request time: median {statistics.median(times) * 1000:.1f} ms, max {max(times) * 1000:.1f} ms")
    for seconds, status, case in slowest:
        shown = f"{case.signing} {case.content_type!r} {case.body[:200]!r}"
        print(f"  {seconds * 1000:.0f} ms -> {status}: {shown}")
    print(
        f"bot RSS: {rss_before / MB:.1f} MB before, {rss_after / MB:.1f} MB after, "
        f"growth {(rss_after - rss_before) / MB:.1f} MB; bot CPU {cpu_after - cpu_before:.1f} s"
    )
    statuses = sorted({s for s, _ in big})
    refusals = sorted(t * 1000 for _, t in big)
    shown = ", ".join(f"{t:.1f}" for t in refusals)
    median = statistics.median(refusals)
    print(f"forged 10 MB body: status {statuses}, refused in {shown} ms; median {median:.1f} ms")
    ok = fives == 0 and not problems and alive and rss_after - rss_before <= 50 * MB and median <= 50
    print("bar met" if ok else "bar NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
