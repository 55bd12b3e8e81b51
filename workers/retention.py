"""Retention: how long each kind of Redis key lives after its last write, so nothing grows without bound.

`sweep` runs in every worker's maintenance pass. It walks the keys, names each one's kind by its key
(`KINDS`; the first pattern that matches) and gives a key with no expiry, or a longer one, its
kind's retention (`RETENTION_*`, in days). Writes that replace a value (`SET`) clear the expiry and
the next pass sets it again, so a string lives its retention after its last write; hashes, lists
and streams live it from the pass that first saw them. The shared streams are trimmed by age
instead (their entry ids are times): the global audit trail to `RETENTION_AUDIT`, the global egress
record to `RETENTION_EGRESS`, and the per-action-type execution log (a sorted set by time) to
`RETENTION_INCIDENT`. The set of incident channels drops channels whose pointer has expired. RQ's
records of finished and failed jobs (the payload, the result; RQ keeps them a day and a week) are
kept no longer than `RETENTION_INCIDENT` either; queued and running jobs are left alone.

Kept on purpose: the knowledge base (`ic:kb:*`, the organisation's past incidents), metrics
counters (one field per label set) and proposals (they expire by themselves); RQ's queues,
registries and workers are RQ's to manage. `unkept` lists any other `ic:` key with no expiry,
which a test checks is empty after a full run, so a new kind of key cannot be forgotten.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable

import redis
import structlog

from workers.jobs.recover import MISSING, TRACKED
from workers.redisconn import as_text
from workers.settings import RetentionSettings

log = structlog.get_logger(__name__)
DAY_S = 86_400

# (kind, pattern): the kind names the `RETENTION_<KIND>` setting; the first match wins.
KINDS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern))
    for kind, pattern in (
        ("audit", r"ic:incident:[^:]+:audit"),
        ("messages", r"ic:incident:[^:]+:messages"),
        ("egress", r"ic:incident:[^:]+:egress"),
        ("board", r"ic:incident:[^:]+:(?:board|timeline|verdicts)"),
        ("findings", r"ic:incident:[^:]+:(?:findings|signature|milestones|triages)"),
        ("incident", r"ic:incident:[^:]+(?::.*)?"),
        ("channel", r"ic:channel:.+"),
        ("postmortem", r"ic:postmortem:.+"),
        ("incident", r"ic:event:.+"),  # Events API dedup marks (set with an hour's expiry already)
    )
)
KEPT = re.compile(r"ic:(?:kb:.*|metrics:.*|proposal:.*|proposals:inflight)")
AUDIT_GLOBAL, EGRESS_GLOBAL, EXECUTIONS = "ic:audit", "ic:egress", "ic:executions:"
CHANNELS = "ic:incident_channels"
RQ_RECORDS = ("rq:job:", "rq:results:")


def kind_of(key: str) -> str | None:
    return next((kind for kind, pattern in KINDS if pattern.fullmatch(key)), None)


def retention_s(settings: RetentionSettings, kind: str) -> int:
    return max(1, round(float(getattr(settings, kind)) * DAY_S))


def sweep(client: redis.Redis, settings: RetentionSettings, batch: int = 1000) -> dict[str, int]:
    """One pass: expiries set by kind, shared streams trimmed; what it did, by kind."""
    done: dict[str, int] = {}
    jobs_cap = retention_s(settings, "incident")
    for keys in _batches(client.scan_iter(count=batch), batch):
        kinds = [kind_of(k) for k in keys]
        with client.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.ttl(key)
            ttls = pipe.execute()
        with client.pipeline(transaction=False) as pipe:
            for key, kind, ttl in zip(keys, kinds, ttls, strict=True):
                if kind is not None and (ttl == -1 or ttl > retention_s(settings, kind)):
                    pipe.expire(key, retention_s(settings, kind))
                    done[kind] = done.get(kind, 0) + 1
                elif key.startswith(RQ_RECORDS) and ttl > jobs_cap:  # a finished or failed job
                    pipe.expire(key, jobs_cap)
                    done["jobs"] = done.get("jobs", 0) + 1
            pipe.execute()
    now_ms = int(time.time() * 1000)
    for stream, kind in ((AUDIT_GLOBAL, "audit"), (EGRESS_GLOBAL, "egress")):
        oldest = now_ms - retention_s(settings, kind) * 1000
        trimmed = int(client.xtrim(stream, minid=oldest, approximate=True) or 0)
        if trimmed:
            done[f"{kind} entries"] = trimmed
    cutoff = time.time() - retention_s(settings, "incident")
    for key in client.scan_iter(match=EXECUTIONS + "*", count=batch):
        client.zremrangebyscore(key, "-inf", cutoff)
    _drop_gone_channels(client)
    if done:
        log.info("retention sweep", **done)
    return done


def _drop_gone_channels(client: redis.Redis) -> None:
    channels = [as_text(c) for c in client.smembers(CHANNELS) or ()]
    if not channels:
        return
    with client.pipeline(transaction=False) as pipe:
        for channel in channels:
            pipe.exists(f"ic:channel:{channel}:incident")
        alive = pipe.execute()
    gone = [c for c, there in zip(channels, alive, strict=True) if not there]
    if gone:
        client.srem(CHANNELS, *gone)


def unkept(client: redis.Redis) -> list[str]:
    """`ic:` keys that no expiry, trim or rule of `KEPT` bounds (should be none)."""
    keys = [as_text(k) for k in client.scan_iter(match="ic:*", count=1000)]
    shared = {AUDIT_GLOBAL, EGRESS_GLOBAL, CHANNELS, TRACKED, MISSING}  # the last two: pruned as jobs end
    candidates = [
        k for k in keys if k not in shared and not k.startswith(EXECUTIONS) and not KEPT.fullmatch(k)
    ]
    with client.pipeline(transaction=False) as pipe:
        for key in candidates:
            pipe.ttl(key)
        ttls = pipe.execute()
    return sorted(k for k, ttl in zip(candidates, ttls, strict=True) if ttl == -1)


def _batches(keys: Iterable[bytes], size: int) -> Iterable[list[str]]:
    batch: list[str] = []
    for key in keys:
        batch.append(as_text(key))
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
