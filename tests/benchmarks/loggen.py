"""Generators of realistic log files for the evidence benchmarks: formats with known times, structured
records whose cause is only in a field, and numbers that go bad. Everything is made from a seed here;
nothing is copied from third-party data."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
MESSAGES = (
    "GET /api/v1/orders/{n} 200 {ms}ms",
    "connection from 10.{a}.{b}.{c}:{port} accepted",
    "worker {n} finished batch of {k} items",
    "cache refresh for tenant t{n} took {ms} ms",
    "payment {hex} authorised amount={k}.{a}",
    "retrying upstream call attempt={a} of 5",
)


@dataclass(frozen=True)
class Generated:
    name: str
    lines: list[str]
    times: list[datetime]  # the true time of each line
    yearless: bool = False


def _message(rng: random.Random) -> str:
    return rng.choice(MESSAGES).format(
        n=rng.randrange(10**6),
        ms=rng.randrange(1, 900),
        a=rng.randrange(256),
        b=rng.randrange(256),
        c=rng.randrange(256),
        port=rng.randrange(1024, 65535),
        k=rng.randrange(1000),
        hex=f"{rng.getrandbits(64):016x}",
    )


def _syslog(t: datetime, rng: random.Random) -> str:
    return (
        f"{MONTHS[t.month - 1]} {t.day:>2} {t:%H:%M:%S} web-{rng.randrange(9)} app[{rng.randrange(9999)}]: "
    )


def _klog(t: datetime, rng: random.Random) -> str:
    level = rng.choice("IWE")
    thread, line = rng.randrange(99999), rng.randrange(999)
    return f"{level}{t:%m%d %H:%M:%S}.{t.microsecond:06d}    {thread} controller.go:{line}] "


def _pod(t: datetime, rng: random.Random) -> str:
    pod = f"checkout-{rng.getrandbits(32):08x}-{rng.choice(['x2k9p', 'q7v4m', 'b8n3z'])}"
    return f"[pod/{pod}/app] {t:%Y-%m-%dT%H:%M:%S}.{t.microsecond // 1000:03d}Z INFO "


def _clf(t: datetime, rng: random.Random) -> str:
    return (
        f"10.0.{rng.randrange(256)}.{rng.randrange(256)} - - [{t.day:02d}/{MONTHS[t.month - 1]}/{t.year}:"
        f'{t:%H:%M:%S} +0000] "GET /health HTTP/1.1" 200 {rng.randrange(9999)} '
    )


def _python(t: datetime, rng: random.Random) -> str:
    return f"{t:%Y-%m-%d %H:%M:%S},{t.microsecond // 1000:03d} INFO [worker.tasks] "


def _epoch(t: datetime, rng: random.Random) -> str:
    return f"{int(t.timestamp())} host{rng.randrange(9)} "


Prefix = Callable[[datetime, random.Random], str]
TEXT_FORMATS: dict[str, tuple[Prefix, bool, timedelta]] = {
    # name: (prefix, year-less, resolution of the time written)
    "syslog without year": (_syslog, True, timedelta(seconds=1)),
    "klog": (_klog, True, timedelta(microseconds=1)),
    "pod-prefixed ISO": (_pod, False, timedelta(milliseconds=1)),
    "Apache common log": (_clf, False, timedelta(seconds=1)),
    "Python logging": (_python, False, timedelta(milliseconds=1)),
    "epoch seconds": (_epoch, False, timedelta(seconds=1)),
}


def _floor(t: datetime, step: timedelta) -> datetime:
    micros = int((t - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(microseconds=1))
    step_us = int(step / timedelta(microseconds=1))
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros - micros % step_us)


def times(rng: random.Random, count: int, start: datetime) -> list[datetime]:
    moment, out = start, []
    for _ in range(count):
        moment += timedelta(microseconds=rng.randrange(1, 3_000_000))
        out.append(moment)
    return out


def text_format(name: str, count: int, seed: int, start: datetime) -> Generated:
    rng = random.Random(seed)
    prefix, yearless, step = TEXT_FORMATS[name]
    stamps = [_floor(t, step) for t in times(rng, count, start)]
    return Generated(name, [prefix(t, rng) + _message(rng) for t in stamps], stamps, yearless)


def logfmt(count: int, seed: int, start: datetime) -> Generated:
    rng = random.Random(seed)
    stamps = times(rng, count, start)
    lines = [
        f"ts={t:%Y-%m-%dT%H:%M:%S}.{t.microsecond:06d}Z level={rng.choice(['info', 'warn'])} "
        f'msg="{_message(rng)}" caller=server.go:{rng.randrange(999)}'
        for t in stamps
    ]
    return Generated("logfmt ts=", lines, stamps)


def docker_json(count: int, seed: int, start: datetime) -> Generated:
    rng = random.Random(seed)
    stamps = times(rng, count, start)
    lines = [
        json.dumps({"log": _message(rng) + "\n", "stream": "stdout", "time": f"{t:%Y-%m-%dT%H:%M:%S.%f}000Z"})
        for t in stamps
    ]
    return Generated("Docker json-file", lines, stamps)


def cri(count: int, seed: int, start: datetime) -> Generated:
    rng = random.Random(seed)
    stamps = times(rng, count, start)
    lines = [f"{t:%Y-%m-%dT%H:%M:%S.%f}123+00:00 stdout F {_message(rng)}" for t in stamps]
    return Generated("CRI container log", lines, stamps)


def all_formats(count: int, seed: int, start: datetime) -> list[Generated]:
    made = [text_format(name, count, seed + i, start) for i, name in enumerate(TEXT_FORMATS)]
    return [
        *made,
        logfmt(count, seed + 10, start),
        docker_json(count, seed + 11, start),
        cri(count, seed + 12, start),
    ]


# Structured incidents: the level only in a field, the cause only in an error or stack field.
CAUSES = (
    ("pq: sorry, too many clients already", "too many clients"),
    ("java.lang.OutOfMemoryError: Java heap space", "OutOfMemoryError"),
    ("dial tcp 10.2.0.7:6379: connect: connection refused", "connection refused"),
    ("x509: certificate has expired or is not yet valid", "certificate has expired"),
    ("lookup payments.internal on 10.96.0.10:53: no such host", "no such host"),
    ("context deadline exceeded (Client.Timeout exceeded while awaiting headers)", "deadline exceeded"),
    ("ERROR 1213 (40001): Deadlock found when trying to get lock", "Deadlock found"),
    ("disk quota exceeded writing /var/lib/app/spool", "disk quota exceeded"),
    ("kafka: NOT_ENOUGH_REPLICAS_AFTER_APPEND for topic orders", "NOT_ENOUGH_REPLICAS"),
    ("ssl handshake failed: tls: protocol version not supported", "protocol version not supported"),
)
GENERIC = ("request failed", "job aborted", "handler error", "operation did not complete")


@dataclass(frozen=True)
class Structured:
    name: str
    baseline: list[str]
    incident: list[str]
    cause_words: str


def _record(style: str, t: datetime, message: str, level: str, error: str | None, rng: random.Random) -> str:
    stamp = f"{t:%Y-%m-%dT%H:%M:%S.%f}"[:-3] + "Z"
    if style == "json":
        record: dict[str, object] = {"timestamp": stamp, "level": level, "message": message}
        if error:
            record[rng.choice(["error", "err", "exception"])] = error
        return json.dumps(record)
    if style == "json-nested":
        record = {"@timestamp": stamp, "log.level": level.upper(), "msg": message}
        if error:
            record["error"] = {"message": error, "stack": f"{error}\n\tat app.Handler.run(Handler.java:42)"}
        return json.dumps(record)
    if style == "bunyan":
        numeric = {"info": 30, "warning": 40, "error": 50}[level]
        record = {"time": stamp, "level": numeric, "msg": message, "hostname": "api-1"}
        if error:
            record["err"] = {"message": error, "stack": f"Error: {error}\n    at handler (/srv/app.js:10:5)"}
        return json.dumps(record)
    error_part = f' error="{error}"' if error else ""
    return f'time={stamp} level={level} msg="{message}"{error_part}'


def structured(count: int, seed: int) -> list[Structured]:
    rng = random.Random(seed)
    out = []
    styles = ("json", "json-nested", "bunyan", "logfmt")
    for index in range(count):
        error, words = CAUSES[index % len(CAUSES)]
        style = styles[index % len(styles)]
        start = datetime(2026, 3, 14, 9, 0, tzinfo=UTC) + timedelta(days=index)
        baseline = [
            _record(style, start + timedelta(seconds=7 * i), _message(rng), "info", None, rng)
            for i in range(200)
        ]
        incident_start = start + timedelta(hours=1)
        incident = [
            _record(style, incident_start + timedelta(seconds=5 * i), _message(rng), "info", None, rng)
            for i in range(150)
        ]
        failing = rng.choice(GENERIC)
        incident += [
            _record(style, incident_start + timedelta(seconds=5 * i + 2), failing, "error", error, rng)
            for i in range(40)
        ]
        out.append(Structured(f"{style} #{index}", baseline, incident, words))
    return out


@dataclass(frozen=True)
class Degrading:
    name: str
    baseline: list[str]
    incident: list[str]
    bad_value: str  # a value that only the bad lines carry: it must be in the quoted line
    measure: str  # the measure whose range must be shown


def degrading(count: int, seed: int) -> list[Degrading]:
    """Templates whose numbers go bad in the incident: latency climbs, status turns 5xx, memory fills."""
    rng = random.Random(seed)
    out = []
    for index in range(count):
        start = datetime(2026, 4, 1, 10, 0, tzinfo=UTC) + timedelta(days=index)
        kind = index % 3

        def line(t: datetime, value: int, status: int, kind: int = kind) -> str:
            stamp = f"{t:%Y-%m-%dT%H:%M:%S}Z"
            if kind == 0:
                return f"{stamp} INFO http GET /api/orders status={status} latency={value}ms"
            if kind == 1:
                return f"{stamp} INFO jvm heap used {value}MB of 1024MB gc_pause={rng.randrange(5, 40)}ms"
            return (
                f"{stamp} INFO consumer lag={value} messages_ready={value * 3} partition={rng.randrange(12)}"
            )

        baseline = [line(start + timedelta(seconds=10 * i), rng.randrange(90, 140), 200) for i in range(300)]
        incident = []
        at = start + timedelta(hours=1)
        for i in range(200):
            bad = i > 120
            value = 100 + i * 25 if kind != 1 else min(1010, 400 + i * 4)
            incident.append(line(at + timedelta(seconds=6 * i), value, 504 if bad and i % 2 else 200))
        if kind == 0:
            out.append(Degrading(f"latency #{index}", baseline, incident, "status=504", "latency"))
        elif kind == 1:
            out.append(Degrading(f"heap #{index}", baseline, incident, "1010MB", "used"))
        else:
            out.append(Degrading(f"lag #{index}", baseline, incident, f"lag={100 + 199 * 25}", "lag"))
    return out
