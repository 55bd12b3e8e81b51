"""Every key and value in a Redis, as text, the way a reader of a dump would see it: strings, hashes,
lists, sets, sorted sets and streams, with RQ's zlib-compressed job data inflated, base64 fields
(RQ's results) decoded, and JSON parsed so that no escape can hide a string."""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import re
import zlib
from collections import Counter
from collections.abc import Iterator
from typing import Any

import redis

_B64 = re.compile(rb"[A-Za-z0-9+/]{16,}={0,2}")


def stored(client: redis.Redis, types: Counter[str] | None = None) -> Iterator[tuple[str, str]]:
    """(key, text) for every value of every key; `types` counts the keys by Redis type."""
    for key in client.scan_iter(count=1000):
        kind = client.type(key).decode()
        if types is not None:
            types[kind] += 1
        name = key.decode(errors="replace")
        for value in [key, *_values(client, key, kind)]:
            yield name, "\n".join(expand(value))


def _values(client: redis.Redis, key: bytes, kind: str) -> list[bytes]:
    if kind == "string":
        return [client.get(key) or b""]
    if kind == "hash":
        return [x for kv in (client.hgetall(key) or {}).items() for x in kv]
    if kind == "list":
        return list(client.lrange(key, 0, -1))
    if kind == "set":
        return list(client.smembers(key))
    if kind == "zset":
        return [m for m, _score in client.zrange(key, 0, -1, withscores=True)]
    if kind == "stream":
        return [x for _id, fields in client.xrange(key) for kv in fields.items() for x in kv]
    return []


def expand(value: bytes) -> list[str]:
    """The value's text, and the text of whatever it holds (zlib, base64, JSON strings)."""
    try:
        return expand(zlib.decompress(value))
    except zlib.error:
        pass
    text = value.decode(errors="replace")
    out = [text]
    if _B64.fullmatch(value.strip()):
        with contextlib.suppress(binascii.Error, ValueError):
            out += expand(base64.b64decode(value.strip(), validate=True))
    if text[:1] in "{[\"":
        with contextlib.suppress(ValueError):
            out += list(_strings(json.loads(text)))
    return out


def _strings(doc: Any) -> Iterator[str]:
    if isinstance(doc, str):
        yield doc
        if doc[:1] in "{[":  # JSON inside JSON (RQ's payloads of dumped models)
            with contextlib.suppress(ValueError):
                yield from list(_strings(json.loads(doc)))
    elif isinstance(doc, list):
        for v in doc:
            yield from _strings(v)
    elif isinstance(doc, dict):
        for k, v in doc.items():
            yield k
            yield from _strings(v)


def survivors(texts: Iterator[tuple[str, str]], runs: dict[str, str], run: int) -> dict[str, str]:
    """{kind: where} for every `run`-character piece of a secret (`runs`: piece → kind) found."""
    found: dict[str, str] = {}
    for key, text in texts:
        for i in range(len(text) - run + 1):
            kind = runs.get(text[i : i + run])
            if kind is not None and kind not in found:
                found[kind] = f"{key}: …{text[max(0, i - 80) : i + 40]}…"
    return found
