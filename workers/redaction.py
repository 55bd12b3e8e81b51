"""Masking of secrets in free text: the log processor uses it, and so will every outbound request.

Patterns are by category so that a caller can report what it masked. Known secret values (the
process's own tokens) are masked by value as well, whatever they look like.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import partial

PATTERNS: dict[str, re.Pattern[str]] = {
    "private_key": re.compile(
        r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)", re.S
    ),
    "slack_token": re.compile(r"\bxox[abposre]-[A-Za-z0-9-]{8,}|\bxapp-\d-[A-Za-z0-9-]{8,}"),
    "slack_webhook": re.compile(r"https://hooks\.slack\.com/services/[A-Za-z0-9/]+"),
    "github_token": re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{40,})"),
    "openai_key": re.compile(r"\bsk-(?:proj-|live-|test-)?[A-Za-z0-9_-]{20,}"),
    "aws_access_key": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "jwt": re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
    "bearer": re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{12,}"),
    "url_password": re.compile(r"(?<=://)([^/\s:@]+):([^/\s@]+)@"),
    "secret_assignment": re.compile(
        r"(?i)\b(password|passwd|pwd|secret|api[_-]?key|token|signing[_-]?secret)(\s*[=:]\s*)"
        r"(\"[^\"]+\"|'[^']+'|[^\s,;&\"']+)"
    ),
}


@dataclass
class Redactor:
    """Replaces secrets with `[REDACTED:<category>]`; counts what it masked."""

    known_values: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    @classmethod
    def with_secrets(cls, values: Iterable[str | None]) -> Redactor:
        return cls(known_values=sorted({v for v in values if v and len(v) >= 6}, key=len, reverse=True))

    def redact(self, text: str) -> str:
        for value in self.known_values:
            if value in text:
                self._count("configured_secret", text.count(value))
                text = text.replace(value, "[REDACTED:configured_secret]")
        for category, pattern in PATTERNS.items():
            text = pattern.sub(partial(self._mask, category), text)
        return text

    def _mask(self, category: str, match: re.Match[str]) -> str:
        self._count(category, 1)
        if category == "url_password":
            return f"{match.group(1)}:[REDACTED:{category}]@"
        if category == "secret_assignment":
            return f"{match.group(1)}{match.group(2)}[REDACTED:{category}]"
        if category == "bearer":
            return f"{match.group(1)} [REDACTED:{category}]"
        return f"[REDACTED:{category}]"

    def _count(self, category: str, n: int) -> None:
        self.counts[category] = self.counts.get(category, 0) + n
