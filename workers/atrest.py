"""Redaction at rest: every value written to Redis is redacted on its way into the connection.

The one place all writes pass, ours and RQ's, in single commands and pipelines alike, is the
connection's command packer; `guard` puts a scrubber there, so a write added later cannot forget it. Only the
values of writing commands are touched (`WRITES`); keys, reads and control commands go as they are.
A value is redacted for what it is:
- JSON (a model dumped by us): every string and object key inside, then dumped again (compact);
- zlib-compressed (RQ's job data and tracebacks): inflated, redacted, compressed again;
- base64 of either (RQ's result stream): decoded, redacted, encoded again;
- anything else that is text: as text; bytes that are neither text nor zlib stay as they are.
A value with nothing to mask is sent byte for byte as it came.

The redactor is `workers.redaction`'s, with the same rules as what leaves for the LLM. Its
placeholders carry a keyed tag (`[REDACTED:jwt#3fa9c2]`, see `KeyedRedactor`), so the same secret
reads the same everywhere it is stored, within an incident and across the bot and the workers; the
key is `REDIS_AT_REST_KEY`, else derived from the bot token, and never stored in Redis.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import zlib
from collections.abc import Iterable, Sequence
from typing import Any

import redis

from workers.logconfig import secret_values
from workers.redaction import KeyedRedactor, Redactor
from workers.settings import Settings

# Commands that store a value given by the caller (redis-py spells them upper case).
_WRITES = "SET SETEX PSETEX SETNX GETSET MSET MSETNX APPEND SETRANGE HSET HSETNX HMSET LPUSH RPUSH LPUSHX"
WRITES = frozenset((_WRITES + " RPUSHX LSET LINSERT SADD SMOVE ZADD XADD PUBLISH SPUBLISH").split())
_B64 = re.compile(r"[A-Za-z0-9+/]{16,}={0,2}")
_ZLIB_HEADS = (b"\x78\x9c", b"\x78\x01", b"\x78\xda", b"\x78\x5e")
Scalar = bytes | str | int | float | memoryview


class AtRest:
    """Redacts the values of write commands (see the module docstring for each kind of value)."""

    def __init__(self, redactor: Redactor) -> None:
        self.redactor = redactor

    def command(self, args: Sequence[Any]) -> tuple[Any, ...]:
        """The command's arguments with its values redacted: the name and key stay as they are."""
        if len(args) < 3 or not isinstance(args[0], str) or args[0].upper() not in WRITES:
            return tuple(args)
        return (args[0], args[1], *(self.value(a) for a in args[2:]))

    def value(self, value: Any) -> Any:
        if isinstance(value, bytes):
            return self._bytes(value)
        if isinstance(value, str):
            return self.text(value)
        return value

    def _bytes(self, value: bytes) -> bytes:
        try:
            text = value.decode()
        except UnicodeDecodeError:
            inner = _inflate(value)
            if inner is None:
                return value
            clean = self._bytes(inner)
            return value if clean is inner else zlib.compress(clean)
        redacted = self.text(text)
        return value if redacted is text else redacted.encode()

    def text(self, text: str) -> str:
        """`text` itself when nothing in it is masked, else a redacted copy."""
        if len(text) < 8:  # no rule matches so short a value; ids, numbers and flags stay cheap
            return text
        if text[0] in "{[":
            try:
                doc = json.loads(text)
            except ValueError:
                pass
            else:
                clean, changed = self._walk(doc)
                return json.dumps(clean, ensure_ascii=False, separators=(",", ":")) if changed else text
        if _B64.fullmatch(text) and len(text) % 4 == 0:
            inner = self._unbase64(text)
            if inner is not None:
                return inner
        out = self.redactor.redact(text)
        return text if out == text else out

    def _unbase64(self, text: str) -> str | None:
        """Base64 of zlib data or of JSON, redacted inside and encoded again; None for anything else."""
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            return None
        if _inflate(raw) is None and raw.lstrip()[:1] not in (b"{", b"[", b'"'):
            return None
        clean = self._bytes(raw)
        return text if clean is raw else base64.b64encode(clean).decode()

    def _walk(self, doc: Any) -> tuple[Any, bool]:
        if isinstance(doc, str):
            clean = self.redactor.redact(doc)
            return clean, clean != doc
        if isinstance(doc, list):
            items = [self._walk(v) for v in doc]
            return [v for v, _ in items], any(c for _, c in items)
        if isinstance(doc, dict):
            changed = False
            out: dict[str, Any] = {}
            for k, v in doc.items():
                key = self.redactor.redact(k)
                val, moved = self._walk(v)
                changed = changed or moved or key != k
                out[key] = val
            return out, changed
        return doc, False


def _inflate(value: bytes) -> bytes | None:
    if not value.startswith(_ZLIB_HEADS):
        return None
    try:
        return zlib.decompress(value)
    except zlib.error:
        return None


class _Packer:
    """Wraps a connection's command packer: every command goes through `at_rest` before encoding."""

    def __init__(self, inner: Any, at_rest: AtRest) -> None:
        self._inner, self._at_rest = inner, at_rest

    def pack(self, *args: Any) -> Any:
        return self._inner.pack(*self._at_rest.command(args))


class _Scrubbing:
    """Mixed in before a redis-py connection class: its command packer (which single commands and
    pipelines alike go through) is wrapped in a `_Packer`."""

    at_rest: AtRest

    def _construct_command_packer(self, packer: Any) -> Any:
        return _Packer(super()._construct_command_packer(packer), self.at_rest)  # type: ignore[misc]


def guard(client: redis.Redis, at_rest: AtRest) -> redis.Redis:
    """Make every connection `client` opens from now on redact what it writes (see `AtRest`)."""
    pool = client.connection_pool
    base = pool.connection_class
    if issubclass(base, _Scrubbing):
        base = base.__mro__[2]
    pool.connection_class = type(f"AtRest{base.__name__}", (_Scrubbing, base), {"at_rest": at_rest})
    return client


def at_rest_redactor(key: str | None, secrets: Iterable[str | None] = ()) -> Redactor:
    """The storage redactor: keyed placeholders with `key`, plain ones without; `secrets` masked by value."""
    known = sorted({v for v in secrets if v and len(v) >= 6}, key=len, reverse=True)
    if not key:
        return Redactor(known_values=known)
    digest = hashlib.blake2b(key.encode(), person=b"ic-at-rest").digest()
    return KeyedRedactor(known_values=known, key=digest)


def storage_redactor(settings: Settings) -> Redactor:
    """The process's storage redactor: keyed with `REDIS_AT_REST_KEY`, else with the bot token (which
    the bot and every worker share), masking the process's own secrets by value too."""
    key = settings.redis.at_rest_key or settings.slack.bot_token
    return at_rest_redactor(key.get_secret_value() if key else None, secret_values(settings))
