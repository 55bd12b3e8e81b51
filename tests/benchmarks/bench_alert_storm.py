"""Benchmark: an alert storm through the real receiver, with real Redis, real workers and a Slack
stand-in that answers `ratelimited` now and then.

Sends Alertmanager webhooks (bearer auth) carrying 5,000 alerts over 60 s for 20 services: mostly
new alerts, some repeats, some resolutions and flapping. Then waits until the workers are done and
prints: incidents opened, alerts sent / attached / lost, Slack writes and `ratelimited` answers
served / waited out / left failing, and the time from an alert's arrival to the first Slack
message showing it (p50, p95, max). The issue's bar: <= 20 incidents, none lost, no ratelimited
answer unhandled.

    python tests/benchmarks/bench_alert_storm.py [--alerts 5000] [--seconds 60] [--services 20] [--quick]
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import secrets
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis
from rq import Queue
from rq.serializers import JSONSerializer

from bot.localstack import LocalStack
from workers.alerts import inbox
from workers.queue import ALL_QUEUES

NAMES = ["HighLatency", "ErrorRate", "PodCrashLooping", "DiskFull"]
SLACK_WRITES = ("chat.postMessage", "chat.update", "conversations.create", "conversations.setTopic")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


def plan(alerts: int, services: int, rng: random.Random) -> list[dict[str, Any]]:
    """The storm, in sending order: 80% new firing alerts, 10% repeats, 10% resolutions (some of
    them followed by the same alert firing again: flapping)."""
    out: list[dict[str, Any]] = []
    fired: list[dict[str, Any]] = []
    while len(out) < alerts:
        roll = rng.random()
        if fired and roll < 0.1:
            out.append(dict(rng.choice(fired)))
        elif fired and roll < 0.2:
            out.append({**rng.choice(fired), "status": "resolved"})
        else:
            svc = rng.randrange(services)
            alert = {
                "status": "firing",
                "labels": {"alertname": rng.choice(NAMES), "service": f"svc-{svc:02d}",
                           "severity": rng.choice(["critical", "warning"]),
                           "instance": f"10.0.{svc}.{len(fired) % 250}:9100"},
                "annotations": {"summary": f"storm alert {len(fired)}"},
                "fingerprint": f"fp{len(fired):06d}",
            }  # fmt: skip
            fired.append(alert)
            out.append(alert)
    return out


def send(stack: LocalStack, token: str, alerts: list[dict[str, Any]]) -> int:
    now = datetime.now(UTC).isoformat()
    body = {"version": "4", "status": "firing", "alerts": [{**a, "startsAt": now} for a in alerts]}
    request = urllib.request.Request(
        f"{stack.base_url}/alerts/alertmanager", data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=30) as resp:
        return int(resp.status)


def pending(client: redis.Redis) -> int:
    queued = 0
    for name in ALL_QUEUES:
        q = Queue(name, connection=client, serializer=JSONSerializer)
        queued += q.count + q.started_job_registry.count
    return queued + inbox.backlog(client) + int(client.scard("ic:alerts:dirty"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=5000)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--services", type=int, default=20)
    parser.add_argument("--per-request", type=int, default=5, help="alerts per webhook (Alertmanager groups)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="500 alerts over 10 s")
    parser.add_argument("--seed", type=int, default=18)
    args = parser.parse_args()
    if args.quick:
        args.alerts, args.seconds = 500, 10.0
    rng = random.Random(args.seed)
    storm = plan(args.alerts, args.services, rng)
    token = secrets.token_hex(16)
    with tempfile.TemporaryDirectory() as tmp:
        env = {"ALERTS_ALERTMANAGER_TOKEN": token}
        with LocalStack(Path(tmp), workers=args.workers, env=env, log_level="warning") as stack:
            stop = threading.Event()

            def throttle() -> (
                None
            ):  # Slack says ratelimited now and then, every third time past the SDK's retries
                for n in itertools.count():
                    if stop.wait(5):
                        return
                    method = SLACK_WRITES[n % 2]
                    stack.standin.rate_limit(method, count=5 if n % 3 == 2 else 1, retry_after=1)

            threading.Thread(target=throttle, daemon=True).start()
            batches = [storm[i : i + args.per_request] for i in range(0, len(storm), args.per_request)]
            interval = args.seconds / len(batches)
            started = time.monotonic()
            statuses: list[int] = []
            with ThreadPoolExecutor(16) as pool:
                futures = []
                for n, batch in enumerate(batches):
                    delay = started + n * interval - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                    futures.append(pool.submit(send, stack, token, batch))
                statuses = [f.result() for f in futures]
            sent_s = time.monotonic() - started
            client = redis.Redis.from_url(stack.redis_url)
            deadline = time.monotonic() + 900
            while pending(client) and time.monotonic() < deadline:
                time.sleep(0.5)
            stop.set()
            drained_s = time.monotonic() - started
            incidents = sorted(m.decode() for m in client.smembers("ic:alerts:incidents"))
            attached: dict[str, dict[str, Any]] = {}
            for incident in incidents:
                for key, raw in client.hgetall(f"ic:alerts:inc:{incident}:alerts").items():
                    attached[key.decode()] = json.loads(raw)
            fingerprints = {f"alertmanager:{a['fingerprint']}" for a in storm}
            lost = fingerprints - set(attached)
            unanswered = [k for k, e in attached.items() if e.get("answered_at") is None]
            waits = [
                float(e["answered_at"]) - float(e["received_at"])
                for e in attached.values()
                if e.get("answered_at") is not None and int(e.get("transitions", 0)) == 0
            ]
            calls = stack.standin.calls
            writes = [c for c in calls if c.method in SLACK_WRITES]
            limited = [c for c in writes if c.status == 429]
            failed_jobs = sum(
                Queue(q, connection=client, serializer=JSONSerializer).failed_job_registry.count
                for q in ALL_QUEUES
            )
            waited = sum(float(v) for k, v in client.hgetall("ic:metrics:alert_slack_ratelimited").items())
            not_edited = stack.log("worker-0").count("alert board not edited") + stack.log("worker-1").count(
                "alert board not edited"
            )
            client.close()
    print(f"alerts sent: {len(storm)} ({len(fingerprints)} distinct) in {len(batches)} webhooks over "
          f"{sent_s:.1f} s; HTTP 202: {statuses.count(202)}/{len(statuses)}; "
          f"all handled after {drained_s:.1f} s")  # fmt: skip
    print(f"incidents opened: {len(incidents)} (bar <= 20) for {args.services} services")
    print(f"alerts attached: {len(attached)}; lost: {len(lost)}; not yet shown on a board: {len(unanswered)}")
    per_method = ", ".join(f"{m} {sum(c.method == m for c in writes)}" for m in SLACK_WRITES)
    print(f"Slack writes: {len(writes)} ({per_method})")
    print(f"ratelimited answers served: {len(limited)}; waited out past the SDK's retries: {waited:.0f}; "
          f"board edits deferred (ratelimited): {not_edited}; failed jobs: {failed_jobs}")  # fmt: skip
    print(f"alert to first answer (first firing, n={len(waits)}): p50 {percentile(waits, 0.5):.2f} s, "
          f"p95 {percentile(waits, 0.95):.2f} s, max {max(waits, default=float('nan')):.2f} s")  # fmt: skip
    ok = len(incidents) <= 20 and not lost and not unanswered and not failed_jobs
    ok = ok and statuses.count(202) == len(statuses)
    print("bar:", "met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
