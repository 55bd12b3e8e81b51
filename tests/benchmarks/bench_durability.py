"""Durability of the embedded Redis: ingest knowledge records and run triages through the real bot
and workers, SIGKILL the redis-server, start it again from its directory, and count what is lost.

A writer keeps appending timestamped entries until the kill; after the restart, the newest entry
that survived says how much was lost (AOF with appendfsync everysec: about a second at most).
Everything written before that window must be there, value for value.

    python tests/benchmarks/bench_durability.py [--records 1000] [--triages 100]
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import redis  # noqa: E402

from bot.localstack import LocalStack  # noqa: E402
from tests.support.redis_crash import Ticker, content, lost, sigkill  # noqa: E402
from workers.knowledge.model import IncidentRecord  # noqa: E402
from workers.knowledge.store import KnowledgeStore  # noqa: E402
from workers.redisconn import EmbeddedRedis  # noqa: E402

FSYNC_INTERVAL_S = 1.0


def kinds(keys: object) -> dict[str, int]:
    """Counts of the keys that matter: knowledge records, incidents, triage jobs."""
    names = [k.decode() for k in keys]  # type: ignore[attr-defined]
    return {
        "knowledge records": sum(n.startswith("ic:kb:record:") for n in names),
        "incidents": sum(n.startswith("ic:incident:") and n.count(":") == 2 for n in names),
        "triage jobs": sum(n.startswith("rq:job:triage-") for n in names),
    }


def triage(stack: LocalStack, count: int, timeout: float) -> int:
    ws = stack.standin.state
    ws.add_user("U0ONCALL", "oncall", "On Call")
    driver = stack.driver()
    channels = [f"C0D{i:05d}" for i in range(count)]
    for c in channels:
        ws.add_channel(c, f"inc-durable-{c[-5:]}")
        driver.slash_command("latency up last 15m", user_id="U0ONCALL", channel_id=c, channel_name=f"inc-{c}")

    def answered() -> int:
        return sum(
            any(
                any(b.get("type") == "header" for b in m.get("blocks") or [])
                for m in stack.standin.messages(c)
            )
            for c in channels
        )

    deadline = time.monotonic() + timeout
    while answered() < count and time.monotonic() < deadline:
        time.sleep(0.5)
    return answered()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--triages", type=int, default=100)
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-durable-") as tmp:
        server = EmbeddedRedis(Path(tmp) / "redis", persist=True)
        url = server.ensure_running()
        try:
            with contextlib.closing(redis.Redis.from_url(url)) as client:
                KnowledgeStore(client).upsert(
                    IncidentRecord(
                        id=f"INC-{n:05d}",
                        title=f"pool exhausted {n}",
                        root_causes=[f"cause {n}"],
                        services=["api"],
                    )
                    for n in range(args.records)
                )
            with LocalStack(Path(tmp) / "stack", workers=2, redis_url=url, log_level="warning") as stack:
                answered = triage(stack, args.triages, args.timeout)
            time.sleep(FSYNC_INTERVAL_S * 1.5)  # everything above is now older than the fsync interval
            with contextlib.closing(redis.Redis.from_url(url)) as client:
                before = content(client)
            ticker = Ticker(url)
            ticker.start()
            time.sleep(1.0)
            killed_at = time.time()
            sigkill(server)
            ticker.join()
            restart = time.monotonic()
            server.ensure_running()
            restarted_s = time.monotonic() - restart
            with contextlib.closing(redis.Redis.from_url(url)) as client:
                after = content(client)
                survived, window = ticker.loss_window(client, killed_at)
        finally:
            server.stop()

    missing = lost(before, after)
    print(
        f"embedded Redis (AOF, appendfsync everysec) SIGKILLed after {args.records} knowledge records "
        f"and {answered}/{args.triages} triages answered through the real bot and workers"
    )
    print(f"  keys before the kill {len(before)}; lost or changed after the restart {len(missing)}")
    for name, count in kinds(before).items():
        print(f"    {name:18} before {count:5}   after {kinds(after)[name]:5}")
    print(
        f"  writes up to the kill: {ticker.written} made, {survived} survived; the newest survivor was "
        f"written {window * 1000:.0f} ms before the kill; restart took {restarted_s:.2f} s"
    )
    ok = not missing and window <= FSYNC_INTERVAL_S and answered == args.triages
    print(f"  bar (nothing older than {FSYNC_INTERVAL_S:.0f} s lost): {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
