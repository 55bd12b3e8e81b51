"""Prometheus metrics for the bot's own health, shared by every process through Redis.

Jobs run in forked work horses that exit after each job, so their counters cannot live in process
memory: each process adds to Redis hashes (`ic:metrics:<name>`, one field per label set) and the
bot's `GET /metrics` reads them back, with the queue depths measured at scrape time. The bot's own
ack latency is a histogram kept the same way.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import redis
import structlog
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from workers.redisconn import as_text

log = structlog.get_logger(__name__)

PREFIX = "ic:metrics:"
# name → (kind, help, bucket upper bounds for histograms)
METRICS: dict[str, tuple[str, str, tuple[float, ...]]] = {
    "commands": ("counter", "Slash commands received, by subcommand and outcome", ()),
    "ack_seconds": (
        "histogram",
        "Time from a slash command's arrival to its ack",
        (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0),
    ),
    "jobs": ("counter", "Jobs finished, by type and outcome", ()),
    "job_seconds": ("histogram", "Job duration, by type", (0.5, 1, 2, 5, 10, 20, 60, 120, 300)),
    "llm_tokens": ("counter", "LLM tokens used, by kind (prompt, completion)", ()),
    "llm_errors": ("counter", "LLM calls that gave no usable answer, by error", ()),
    "decisions": ("counter", "Decisions on suggested actions, by level and reason", ()),
    "alerts_received": ("counter", "Alerts accepted by a receiver, by source", ()),
    "alerts_refused": ("counter", "Alert webhook requests refused, by receiver and reason", ()),
    "alerts": (
        "counter",
        "Alerts handled, by outcome (opened, grouped, deduplicated, changed, unmatched)",
        (),
    ),
    "alert_slack_ratelimited": ("counter", "Slack ratelimited answers to alert messages, waited out", ()),
    "alert_first_answer_seconds": (
        "histogram",
        "Time from an alert's arrival to the first Slack message showing it",
        (0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300),
    ),
    "policy_reloads": ("counter", "Policy file changes, by outcome (loaded, rejected) and process", ()),
}


def _field(labels: Mapping[str, str]) -> str:
    return json.dumps(dict(sorted(labels.items())), separators=(",", ":"))


def inc(client: redis.Redis, name: str, value: float = 1.0, **labels: str) -> None:
    """Add to a counter; a metrics write never fails the work it measures."""
    try:
        client.hincrbyfloat(PREFIX + name, _field(labels), value)
    except redis.RedisError as exc:
        log.warning("metric not recorded", metric=name, error=str(exc))


def observe(client: redis.Redis, name: str, seconds: float, **labels: str) -> None:
    """Add one observation to a histogram (its buckets, sum and count)."""
    bounds = METRICS[name][2]
    try:
        with client.pipeline(transaction=False) as pipe:
            for le in (*bounds, float("inf")):
                if seconds <= le:
                    pipe.hincrbyfloat(PREFIX + name, _field({**labels, "le": _le(le)}), 1)
            pipe.hincrbyfloat(PREFIX + name, _field({**labels, "le": "sum"}), seconds)
            pipe.execute()
    except redis.RedisError as exc:
        log.warning("metric not recorded", metric=name, error=str(exc))


def observe_many(client: redis.Redis, name: str, values: list[float], **labels: str) -> None:
    """`observe` for many values in one round trip."""
    if not values:
        return
    bounds = (*METRICS[name][2], float("inf"))
    counts = {le: sum(v <= le for v in values) for le in bounds}
    try:
        with client.pipeline(transaction=False) as pipe:
            for le, count in counts.items():
                if count:
                    pipe.hincrbyfloat(PREFIX + name, _field({**labels, "le": _le(le)}), count)
            pipe.hincrbyfloat(PREFIX + name, _field({**labels, "le": "sum"}), sum(values))
            pipe.execute()
    except redis.RedisError as exc:
        log.warning("metric not recorded", metric=name, error=str(exc))


def _le(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(bound)


class RedisCollector(Collector):
    """What every process recorded, plus the queue depths now."""

    def __init__(self, client: redis.Redis, queues: Mapping[str, str]) -> None:
        self._r = client
        self._queues = queues  # queue name → its Redis list key

    def collect(self) -> Iterator[Any]:
        for name, (kind, help_text, bounds) in METRICS.items():
            raw = self._r.hgetall(PREFIX + name) or {}
            rows = [(json.loads(as_text(k)), float(as_text(v))) for k, v in raw.items()]
            full = f"incident_copilot_{name}"
            if kind == "counter":
                names = sorted({k for labels, _ in rows for k in labels})
                family = CounterMetricFamily(full, help_text, labels=names)
                for labels, value in rows:
                    family.add_metric([labels.get(k, "") for k in names], value)
                yield family
            else:
                yield _histogram(full, help_text, bounds, rows)
        depth = GaugeMetricFamily("incident_copilot_queue_depth", "Jobs waiting, by queue", labels=["queue"])
        for queue, key in self._queues.items():
            depth.add_metric([queue], float(self._r.llen(key)))
        yield depth


def _histogram(
    name: str, help_text: str, bounds: tuple[float, ...], rows: list[tuple[dict[str, str], float]]
) -> HistogramMetricFamily:
    series: dict[tuple[tuple[str, str], ...], dict[str, float]] = {}
    for labels, value in rows:
        le = labels.pop("le")
        series.setdefault(tuple(sorted(labels.items())), {})[le] = value
    label_names = sorted({k for key in series for k, _ in key})
    family = HistogramMetricFamily(name, help_text, labels=label_names)
    for key, values in series.items():
        buckets = [(_le(b), values.get(_le(b), 0.0)) for b in (*bounds, float("inf"))]
        family.add_metric(
            [dict(key).get(k, "") for k in label_names], buckets, sum_value=values.get("sum", 0.0)
        )
    return family
