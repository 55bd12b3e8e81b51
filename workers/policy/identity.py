"""One canonical identity for what an action names: its type, service (target), namespace and
environment. Grounding, scopes, deny rules, SLO lookup, rate limits and executors all compare and key
on `canonical(...)`, so `Billing-Dead`, `billing-dead` and `billing\u200b-dead` are one service.

Canonical: Unicode NFKC (full-width and compatibility forms folded), invisible characters (format,
control and separator categories) removed, case folded, surrounding whitespace trimmed. A name that is
still not a plain name afterwards (`plain`: ASCII letters, digits and `._:/-`) cannot be checked
against glob rules reliably (look-alike letters from other scripts), so the policy fails closed on it.
"""

from __future__ import annotations

import re
import unicodedata

_INVISIBLE = frozenset({"Cf", "Cc", "Cs", "Co", "Cn", "Zl", "Zp"})
_PLAIN = re.compile(r"^[a-z0-9._:/-]*$")


def canonical(value: object) -> str:
    """The canonical form of a name; "" for nothing (None, empty, only invisible characters)."""
    if value is None or isinstance(value, bool):
        return ""
    text = unicodedata.normalize("NFKC", str(value))
    text = "".join(ch for ch in text if unicodedata.category(ch) not in _INVISIBLE)
    return text.casefold().strip()


def plain(name: str) -> bool:
    """Whether a canonical name holds only the characters service names are made of."""
    return bool(_PLAIN.match(name))
