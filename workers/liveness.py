"""Which queues a live worker serves. RQ lists a worker while its key lives: the worker renews it
with every heartbeat and deletes it on a clean exit, so a killed worker drops out once its last
heartbeat expires (RQ's worker TTL)."""

from __future__ import annotations

import redis
from rq import Worker

from workers.queue import ALL_QUEUES


def workers_by_queue(client: redis.Redis) -> dict[str, int]:
    """How many live workers serve each of our queues (0: jobs there wait for good)."""
    counts = dict.fromkeys(ALL_QUEUES, 0)
    for worker in Worker.all(connection=client):
        for name in worker.queue_names():
            if name in counts:
                counts[name] += 1
    return counts


def unserved(counts: dict[str, int]) -> list[str]:
    return [name for name, n in counts.items() if n == 0]


def report(client: redis.Redis) -> dict[str, object]:
    """For `/readyz`: live workers per queue and the queues none serves."""
    try:
        counts = workers_by_queue(client)
    except redis.RedisError:
        return {"workers": "unknown: Redis unreachable"}
    return {"workers": counts, "unserved_queues": unserved(counts)}
