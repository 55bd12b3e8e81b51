"""Structured log records (JSON, logfmt, Docker and CRI container logs): message, time, level and the
fields that name a cause.

Templates are mined on the message alone, so one kind of event stays one template whatever its
error text; the error, exception and stack fields travel beside it (`Record.detail`) and are shown
with the quoted line, since they often hold the words that name the cause.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from workers.evidence.model import LogLine
from workers.evidence.sources._fields import scalar_labels, to_datetime

MESSAGE_KEYS = ("message", "msg", "log", "text", "MESSAGE", "@message", "event", "body")
TIME_KEYS = ("time", "timestamp", "ts", "@timestamp", "t", "date", "datetime", "eventTime", "@t")
LEVEL_KEYS = (
    "level",
    "severity",
    "lvl",
    "loglevel",
    "log.level",
    "levelname",
    "status",
    "@l",
    "severity_text",
)
DETAIL_KEYS = (
    "error",
    "err",
    "exception",
    "exc_info",
    "error.message",  # documents whose field names are already flattened
    "error.type",
    "error.stack",
    "error.stack_trace",
    "stack_trace",
    "stacktrace",
    "stack",
    "cause",
    "reason",
)
_INNER_KEYS = ("type", "kind", "class", "message", "msg", "reason", "stack", "stack_trace", "stacktrace")
MAX_DETAIL_CHARS = 2000
_LEVEL_WORDS = {
    "fatal": "fatal",
    "panic": "fatal",
    "critical": "fatal",
    "crit": "fatal",
    "emerg": "fatal",
    "emergency": "fatal",
    "alert": "fatal",
    "error": "error",
    "err": "error",
    "severe": "error",
    "warn": "warning",
    "warning": "warning",
    "info": "info",
    "information": "info",
    "informational": "info",
    "notice": "info",
    "ok": "info",
    "debug": "debug",
    "trace": "debug",
    "verbose": "debug",
}
_NUMERIC_LEVELS = ((60, "fatal"), (50, "error"), (40, "warning"), (30, "info"), (0, "debug"))  # bunyan, pino
_LOGFMT_PAIR = re.compile(r'([\w.@-]+)=("(?:[^"\\]|\\.)*"|[^\s"]*)')
_LOGFMT_START = re.compile(r"[\w.@-]+=")
_CRI = re.compile(r"(\S+) (stdout|stderr) ([FP]) ?")


@dataclass
class Record:
    message: str
    ts: datetime | None = None
    level: str | None = None
    detail: str = ""  # `key: value` of the error, exception and stack fields, one per line
    labels: dict[str, str] = field(default_factory=dict)


def level_of(value: object) -> str | None:
    """A level field's value as one of our severities; an HTTP status of 5xx is an error."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        if 100 <= value <= 599 and value == int(value):
            return "error" if value >= 500 else None
        return next((name for floor, name in _NUMERIC_LEVELS if value >= floor), None)
    if isinstance(value, str):
        word = value.strip().lower()
        if word.isdigit():
            return level_of(int(word))
        return _LEVEL_WORDS.get(word)
    return None


def _lookup(record: Mapping[str, object], key: str) -> object:
    if key in record:
        return record[key]
    head, dot, rest = key.partition(".")
    inner = record.get(head) if dot else None
    return _lookup(inner, rest) if isinstance(inner, Mapping) else None


def _text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "\n".join(value)  # a stack as a list of frames
    return json.dumps(value, ensure_ascii=False, default=str)


def _detail(record: Mapping[str, object], used: set[str]) -> str:
    parts: list[str] = []
    for key in DETAIL_KEYS:
        value = _lookup(record, key)
        if key in used or value in (None, "", [], {}):
            continue
        if isinstance(value, Mapping):  # {"message": …, "stack": …} under `err`, `error`, `exception`
            inner = [(f"{key}.{n}", value[n]) for n in _INNER_KEYS if value.get(n) not in (None, "")]
            used.update(name for name, _ in inner)
            parts += [f"{name}: {_text(item).strip()}" for name, item in inner] or [f"{key}: {_text(value)}"]
        else:
            used.add(key)
            parts.append(f"{key}: {_text(value).strip()}")
    return "\n".join(parts)[:MAX_DETAIL_CHARS]


def from_mapping(record: Mapping[str, object], fallback: str) -> Record:
    """A record from a decoded JSON object (or a log store's document)."""
    message_key = next((k for k in MESSAGE_KEYS if isinstance(_lookup(record, k), str)), None)
    time_key = next((k for k in TIME_KEYS if _lookup(record, k) is not None), None)
    level_key = next((k for k in LEVEL_KEYS if level_of(_lookup(record, k)) is not None), None)
    message = str(_lookup(record, message_key)).rstrip("\r\n") if message_key else fallback
    used = {k for k in (message_key, time_key) if k}
    if level_key and isinstance(_lookup(record, level_key), str):  # a number (an HTTP status) stays a label
        used.add(level_key)
    if message_key == "log":  # Docker's json-file driver: the application's own line, maybe structured
        inner = parse(message)
        if inner is not None:
            inner.ts = inner.ts or (to_datetime(_lookup(record, time_key)) if time_key else None)
            inner.labels = {**scalar_labels(record, skip=used), **inner.labels}
            return inner
    return Record(
        message=message,
        ts=to_datetime(_lookup(record, time_key)) if time_key else None,
        level=level_of(_lookup(record, level_key)) if level_key else None,
        detail=_detail(record, used),
        labels=scalar_labels(record, skip=used | set(DETAIL_KEYS)),
    )


def _logfmt(text: str) -> dict[str, str] | None:
    pairs = _LOGFMT_PAIR.findall(text)
    if len(pairs) < 2:
        return None
    return {key: value[1:-1].replace('\\"', '"') if value.startswith('"') else value for key, value in pairs}


def parse(text: str) -> Record | None:
    """The record a JSON or logfmt line holds; None for a plain text line."""
    if text.startswith("{"):
        try:
            decoded = json.loads(text)
        except (ValueError, RecursionError):
            return None
        return from_mapping(decoded, text) if isinstance(decoded, dict) else None
    if _LOGFMT_START.match(text) and ("msg=" in text or "message=" in text or "level=" in text):
        fields = _logfmt(text)
        if fields is not None:
            return from_mapping(fields, text)
    return None


def cri(text: str) -> tuple[str, str, bool] | None:
    """A CRI (containerd, CRI-O) log line as (time text, message, is a partial line), else None."""
    found = _CRI.match(text)
    if found is None or not found.group(1)[:4].isdigit():
        return None
    return found.group(1), text[found.end() :], found.group(3) == "P"


def line_from(text: str, ts: datetime | None, source: str, labels: Mapping[str, str]) -> LogLine:
    """A log store's line (Loki, CloudWatch, Kubernetes): a structured one unpacked into message, level
    and error fields, the store's own time and labels kept (a level label counts when the record has none)."""
    record = parse(text)
    if record is None:
        return LogLine(text, ts, source, dict(labels), _label_level(labels))
    return LogLine(
        record.message,
        ts or record.ts,
        source,
        {**labels, **record.labels},
        record.level or _label_level(labels),
        record.detail,
    )


def line_from_document(
    document: Mapping[str, object], message_field: str, time_field: str, source: str
) -> LogLine:
    """An Elasticsearch or OpenSearch document as a line: its message field, else the whole document."""
    message = _lookup(document, message_field)
    used = {message_field, time_field}
    if message is None:
        moment = to_datetime(_lookup(document, time_field))
        return LogLine(json.dumps(document, default=str), moment, source, scalar_labels(document, skip=used))
    level_key = next((k for k in LEVEL_KEYS if level_of(_lookup(document, k)) is not None), None)
    if level_key and isinstance(_lookup(document, level_key), str):
        used.add(level_key)
    inner = parse(str(message))
    level = level_of(_lookup(document, level_key)) if level_key else None
    return LogLine(
        inner.message if inner else str(message),
        to_datetime(_lookup(document, time_field)) or (inner.ts if inner else None),
        source,
        scalar_labels(document, skip=used | set(DETAIL_KEYS)),
        level or (inner.level if inner else None),
        "\n".join(part for part in (_detail(document, set(used)), inner.detail if inner else "") if part),
    )


def _label_level(labels: Mapping[str, str]) -> str | None:
    found = (level_of(labels.get(key)) for key in ("level", "detected_level", "severity"))
    return next((level for level in found if level), None)
