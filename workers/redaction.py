"""Masking of secrets in free text: the log processor uses it, and so does every outbound request.

Each rule is a category with a pattern anchored on a recognisable shape (a vendor prefix, a key name
in an assignment, a PEM armour line), never on entropy alone, so that ordinary hex ids, UUIDs,
hashes and base64 request ids pass through. Known secret values (the process's own tokens) are
masked by value as well, whatever they look like. Emails and IP addresses are masked only on request.

`Redactor` writes `[REDACTED:<category>]`; `ConsistentRedactor` numbers each distinct value per
category (`[REDACTED:jwt#2]`) so that masked evidence still correlates within one incident.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import secrets
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Self
from urllib.parse import urlsplit

PII_CATEGORIES = frozenset({"email", "ipv4", "ipv6"})

_NOT_MASKED = r"(?!\[REDACTED)"  # never re-mask a placeholder
_QUOTE = r"[\"']?"
_ASSIGN = rf"{_QUOTE}\s*[:=]\s*"  # `key=`, `key: `, `"key": `
# Quotes stay outside the mask; the first group that matched is the secret (see `Redactor._find`).
_VALUE = rf"{_NOT_MASKED}(?:\"(?P<s>[^\"\n]+)\"|'(?P<s2>[^'\n]+)'|(?P<s3>[^\s,;&\"'<>{{}}]+))"


@dataclass(frozen=True)
class Rule:
    """One category: the secret is the first named group that matched, else the whole match."""

    category: str
    pattern: re.Pattern[str]
    check: Callable[[str], bool] | None = None


def _mixed_base64(value: str) -> bool:
    return (
        any(c.islower() for c in value)
        and any(c.isupper() for c in value)
        and any(c.isdigit() for c in value)
    )


def _tokenish(value: str) -> bool:
    """A credential rather than a word: 8+ characters with a digit, or mixed case."""
    value = value.strip("\"'")
    has_digit = any(c.isdigit() for c in value)
    mixed = any(c.islower() for c in value) and any(c.isupper() for c in value)
    return len(value) >= 8 and (has_digit or mixed)


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


RULES: tuple[Rule, ...] = (
    Rule(
        "private_key",
        re.compile(
            r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----.*?"
            r"(?:-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|\Z)",
            re.S,
        ),
    ),
    # A PEM body line logged on its own (a multi-line key split into log lines).
    Rule("private_key", re.compile(r"(?m)^\s*(?P<s>[A-Za-z0-9+/]{60,76}={0,2})\s*$"), _mixed_base64),
    Rule("slack_webhook", re.compile(r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[\w/-]+")),
    Rule("slack_token", re.compile(r"\bxox(?:e\.xox)?[abposre]-[A-Za-z0-9-]{8,}|\bxapp-\d-[A-Za-z0-9-]{8,}")),
    Rule("github_token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{40,})")),
    Rule("anthropic_key", re.compile(r"\bsk-ant-[A-Za-z0-9_-]{20,}")),
    Rule("openai_key", re.compile(r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}")),
    Rule("stripe_key", re.compile(r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}")),
    Rule("aws_access_key", re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b")),
    Rule(
        "aws_secret_key",
        re.compile(
            rf"(?i)(?:aws_?secret_?(?:access_?)?key|secret_?access_?key){_ASSIGN}{_QUOTE}"
            r"(?P<s>[A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])"
        ),
    ),
    Rule("gcp_api_key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])")),
    Rule(
        "azure_key",
        re.compile(
            r"(?i)\b(?:AccountKey|SharedAccessKey|SharedAccessSignature)\s*=\s*(?P<s>[A-Za-z0-9+/=%]{20,})"
            r"|[?&]sig=(?P<sig>[A-Za-z0-9%+/=]{20,})"
        ),
    ),
    Rule("jwt", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*")),
    Rule("url_password", re.compile(r"(?<=://)[^/\s:@]*:(?P<s>[^/\s]+)@")),
    Rule(
        "password",
        re.compile(
            rf"(?i)(?<![\w-])[\w-]*?(?:password|passwd|pwd){_ASSIGN}{_NOT_MASKED}"
            # ADO-style `Password=two words;` keeps its spaces; otherwise the value ends at a space.
            r"(?:\"(?P<s>[^\"\n]+)\"|'(?P<s2>[^'\n]+)'"
            r"|(?P<s3>[^\s;,&\"']+(?:[ \t]+[^\s;,&\"'=]+)*(?=\s*;)|[^\s;,&\"'<>]+))"
        ),
    ),
    Rule(
        "auth_header",
        re.compile(r"(?i)\b(?:bearer|basic)\s+(?P<s>[A-Za-z0-9._~+/=-]{12,})(?![\w.~+/=-])"),
        _tokenish,
    ),
    Rule(
        "auth_header",
        re.compile(
            rf"(?i)\b(?:proxy-)?authorization{_ASSIGN}{_QUOTE}(?:[A-Za-z][\w-]*\s+)?{_NOT_MASKED}"
            r"(?P<s>[^\s\"',;]{8,})"
        ),
        _tokenish,
    ),
    Rule(
        "secret_assignment",
        re.compile(
            r"(?i)(?<![\w-])(?:[\w-]*[_-])?(?:secret|api[_-]?key|apikey|access[_-]?key|auth[_-]?token"
            r"|access[_-]?token|refresh[_-]?token|session[_-]?token|client[_-]?secret|private[_-]?key(?:[_-]?id)?"
            rf"|token){_ASSIGN}{_VALUE}"
        ),
        _tokenish,
    ),
)

_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
PII_RULES: tuple[Rule, ...] = (
    Rule("email", re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")),
    Rule(
        "ipv4",
        re.compile(
            r"(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?!\w|\.\d)"
        ),
    ),
    Rule("ipv6", re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])"), _is_ip),
)


@dataclass
class _Span:
    start: int
    end: int
    rank: int  # lower wins the category when spans overlap
    category: str


@dataclass
class Redactor:
    """Replaces secrets with `[REDACTED:<category>]`; counts what it masked, by category."""

    known_values: list[str] = field(default_factory=list, repr=False)
    counts: dict[str, int] = field(default_factory=dict)
    pii: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        unknown = set(self.pii) - PII_CATEGORIES
        if unknown:
            raise ValueError(
                f"unknown PII categories {sorted(unknown)}; choose from {sorted(PII_CATEGORIES)}"
            )
        self._rules = RULES + tuple(r for r in PII_RULES if r.category in self.pii)

    @classmethod
    def with_secrets(cls, values: Iterable[str | None], *, pii: Iterable[str] = ()) -> Self:
        """A redactor that also masks these exact values (ignoring empty and very short ones)."""
        known = sorted({v for v in values if v and len(v) >= 6}, key=len, reverse=True)
        return cls(known_values=known, pii=frozenset(pii))

    def redact(self, text: str) -> str:
        return self.redact_counted(text)[0]

    def redact_counted(self, text: str) -> tuple[str, dict[str, int]]:
        """The masked text and what this call masked, by category (also added to `counts`)."""
        spans = self._merge(self._find(text))
        masked: Counter[str] = Counter(s.category for s in spans)
        out: list[str] = []
        pos = 0
        for span in spans:
            out += [text[pos : span.start], self._placeholder(span.category, text[span.start : span.end])]
            pos = span.end
        out.append(text[pos:])
        for category, n in masked.items():
            self.counts[category] = self.counts.get(category, 0) + n
        return "".join(out), dict(masked)

    def _placeholder(self, category: str, value: str) -> str:
        return f"[REDACTED:{category}]"

    def _find(self, text: str) -> list[_Span]:
        spans = [
            _Span(m.start(), m.end(), -1, "configured_secret")
            for value in self.known_values
            if value in text
            for m in re.finditer(re.escape(value), text)
        ]
        for rank, rule in enumerate(self._rules):
            for m in rule.pattern.finditer(text):
                group = next((g for g in rule.pattern.groupindex if m.group(g) is not None), None)
                start, end = m.span(group) if group else m.span()
                if rule.check is None or rule.check(text[start:end]):
                    spans.append(_Span(start, end, rank, rule.category))
        return spans

    @staticmethod
    def _merge(spans: list[_Span]) -> list[_Span]:
        """Overlapping finds become one masked span (their union), named by the highest-ranked rule."""
        merged: list[_Span] = []
        for span in sorted(spans, key=lambda s: (s.start, s.rank)):
            last = merged[-1] if merged else None
            if last is not None and span.start < last.end:
                last.end = max(last.end, span.end)
                if span.rank < last.rank:
                    last.rank, last.category = span.rank, span.category
            else:
                merged.append(_Span(span.start, span.end, span.rank, span.category))
        return merged


@dataclass
class ConsistentRedactor(Redactor):
    """Numbers each distinct secret per category, in order of first sight: `[REDACTED:jwt#1]`.

    Use one instance per incident. It remembers values only as keyed digests (the key is random and
    lives in this process's memory), never the values themselves.
    """

    _key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    _numbers: dict[bytes, int] = field(default_factory=dict, repr=False)
    _next: Counter[str] = field(default_factory=Counter, repr=False)

    def _placeholder(self, category: str, value: str) -> str:
        digest = hashlib.blake2b(
            f"{category}\0{value}".encode(errors="surrogatepass"), key=self._key
        ).digest()
        if digest not in self._numbers:
            self._next[category] += 1
            self._numbers[digest] = self._next[category]
        return f"[REDACTED:{category}#{self._numbers[digest]}]"


@dataclass(frozen=True)
class EgressRecord:
    """What left the worker in one outbound request: where, why, when, what was masked, how much."""

    url: str  # redacted, without user info, query or fragment
    host: str
    purpose: str
    at: datetime
    masked: dict[str, int]
    bytes_sent: int


def prepare_egress(
    redactor: Redactor, url: str, body: str, purpose: str, *, now: datetime | None = None
) -> tuple[str, EgressRecord]:
    """Redact an outbound body and describe the request; send the returned body, keep the record."""
    clean, masked = redactor.redact_counted(body)
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    where = redactor.redact(f"{parts.scheme}://{netloc}{parts.path}" if parts.scheme else parts.path)
    record = EgressRecord(
        url=where,
        host=host,
        purpose=purpose,
        at=now or datetime.now(UTC),
        masked=masked,
        bytes_sent=len(clean.encode("utf-8", errors="surrogatepass")),
    )
    return clean, record


def redact_strings(value: Any, redactor: Redactor) -> Any:
    """A copy of a JSON-like structure with every string redacted (e.g. a Block Kit message)."""
    if isinstance(value, str):
        return redactor.redact(value)
    if isinstance(value, dict):
        return {k: redact_strings(v, redactor) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_strings(v, redactor) for v in value]
    return value
