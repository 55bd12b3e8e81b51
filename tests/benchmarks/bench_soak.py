"""Soak: thousands of triages through the real bot, workers and (embedded) Redis with retention set
short; Redis memory is sampled as it goes and printed as a curve, which must go flat once keys start
expiring.

    python tests/benchmarks/bench_soak.py [--triages 5000] [--quick] [--retention-s 120] [--workers 2]
        [--rate 3]

Every triage opens a new incident (a new `inc-` channel) with three channel messages through the
Events API and one `/triage`, so every per-incident kind of key is written: the incident, its
messages, board, timeline, findings, egress and audit. All `RETENTION_*` are set to
`--retention-s`; the workers sweep every 30 s (their maintenance pass). Every `--every` triages
(after the queue drains) it prints Redis `used_memory`, the number of keys under `ic:` and `rq:`,
and the memory those hold (`MEMORY USAGE` of every key); RQ's records of finished jobs are held to
`RETENTION_INCIDENT` as well. What may still be stored is what the last retention + 30 s brought, so
the curve follows the pace of the run: `live` counts the triages sent in that window, `KB/live` is
the `ic:` + `rq:` memory per live triage. `--rate` holds the pace steady.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import redis

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from bot.localstack import LocalStack  # noqa: E402

MESSAGES = ("checkout p99 is climbing", "ledger pool at 50/50", "rolling back payments-svc")


def _idle(client: redis.Redis) -> bool:
    queued = sum(int(client.llen(f"rq:queue:{q}")) for q in ("triage", "postmortem", "actions"))
    started = sum(int(client.zcard(f"rq:wip:{q}")) for q in ("triage", "postmortem", "actions"))
    return queued == 0 and started == 0


def _memory(client: redis.Redis) -> tuple[int, dict[str, tuple[int, int]]]:
    """used_memory, and {prefix: (keys, bytes)} for `ic:` and `rq:`."""
    used = int(client.info("memory")["used_memory"])
    keys = list(client.scan_iter(count=2000))
    with client.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.memory_usage(key)
        sizes = pipe.execute()
    out: dict[str, tuple[int, int]] = {}
    for prefix in ("ic:", "rq:"):
        mine = [s or 0 for k, s in zip(keys, sizes, strict=True) if k.startswith(prefix.encode())]
        out[prefix] = (len(mine), sum(mine))
    return used, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--triages", type=int, default=5000)
    parser.add_argument("--quick", action="store_true", help="600 triages, retention 60 s")
    parser.add_argument("--retention-s", type=float, default=120.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--every", type=int, default=0, help="print a row every N triages (default: 20 rows)")
    parser.add_argument("--rate", type=float, default=0.0, help="triages a second at most (default: no cap)")
    args = parser.parse_args()
    if args.quick:
        args.triages, args.retention_s = 600, 60.0
    every = args.every or max(1, args.triages // 20)
    days = f"{args.retention_s / 86400:.8f}"
    kinds = ("INCIDENT", "MESSAGES", "BOARD", "FINDINGS", "EGRESS", "CHANNEL", "POSTMORTEM", "AUDIT")
    env = {f"RETENTION_{k}": days for k in kinds}
    print(f"{args.triages} triages, retention {args.retention_s:g} s for every kind, {args.workers} workers")
    heads = ("triages", "elapsed s", "used_memory MB", "ic: keys", "ic: MB", "rq: keys", "rq: MB")
    heads += ("live", "KB/live")
    print(" ".join(f"{h:>{w}}" for h, w in zip(heads, (8, 9, 14, 9, 7, 9, 7, 6, 8), strict=True)))
    window = args.retention_s + 30  # retention plus the sweep interval: what may still be stored
    with tempfile.TemporaryDirectory() as tmp, LocalStack(
        Path(tmp), workers=args.workers, env=env, log_level="warning"
    ) as stack:
        stack.standin.state.add_user("U0ALICE", "alice", "Alice Moreau")
        driver = stack.driver()
        client = redis.Redis.from_url(stack.redis_url)
        t0 = time.monotonic()
        sent: list[float] = []
        for n in range(1, args.triages + 1):
            if args.rate:
                time.sleep(max(0.0, t0 + n / args.rate - time.monotonic()))
            channel, name = f"C{n:08d}", f"inc-soak-{n}"
            stack.standin.state.add_channel(channel, name)
            for text in MESSAGES:
                ts = stack.standin.state.add_message(channel, "U0ALICE", f"{text} ({n})")
                driver.message_event(channel, "U0ALICE", f"{text} ({n})", ts)
            resp = driver.slash_command(
                "checkout 504s", user_id="U0ALICE", channel_id=channel, channel_name=name
            )
            if resp.status != 200:
                raise SystemExit(f"triage {n} answered {resp.status}")
            sent.append(time.monotonic())
            if n % every == 0 or n == args.triages:
                while not _idle(client):
                    time.sleep(0.2)
                used, parts = _memory(client)
                (ic_keys, ic_bytes), (rq_keys, rq_bytes) = parts["ic:"], parts["rq:"]
                live = sum(1 for at in sent if at > time.monotonic() - window)
                print(
                    f"{n:>8} {time.monotonic() - t0:>9.0f} {used / 2**20:>14.1f} {ic_keys:>9} "
                    f"{ic_bytes / 2**20:>7.1f} {rq_keys:>9} {rq_bytes / 2**20:>7.1f} {live:>6} "
                    f"{(ic_bytes + rq_bytes) / 1024 / max(live, 1):>8.1f}",
                    flush=True,
                )
        client.close()


if __name__ == "__main__":
    main()
