"""Query and record text as tokens, and log templates compared with wildcards."""

from __future__ import annotations

import re
from collections.abc import Sequence

TEMPLATE_MIN_SIM = 0.6  # two templates below this agreement do not count as shared
_STOP_WORDS = (
    "a an and are as at be been but by for from had has have in into is it its of on or our that "
    "the their then there these this those to was were when which while with we after before during "
    "about over under not no so than too very can could will would should may might also all any"
)
STOP_WORDS = frozenset(_STOP_WORDS.split())
TOKEN = re.compile(r"[a-z0-9]+")
_WILDCARD = re.compile(r"<[^<>\s]*>")
_TEMPLATE_TOKEN = re.compile(r"<\*>|[^\s=:,;()\[\]{}\"']+")


def tokenize(text: str) -> list[str]:
    """Lowercase, split on non-alphanumerics, drop stop words and one-letter tokens.

    No stemming: on the retrieval benchmark it cost more than it gained."""
    return [t for t in TOKEN.findall(text.lower()) if len(t) > 1 and t not in STOP_WORDS]


def template_tokens(template: str) -> tuple[str, ...]:
    """A masked log template as tokens; every `<...>` placeholder becomes the wildcard `<*>`."""
    return tuple(_TEMPLATE_TOKEN.findall(_WILDCARD.sub(" <*> ", template.lower())))


def template_similarity(a: tuple[str, ...], b: tuple[str, ...]) -> float:
    """Positional agreement (wildcards match anything) when lengths agree, else token-set Jaccard."""
    if not a or not b:
        return 0.0
    if len(a) == len(b):
        return sum(x == y or "<*>" in (x, y) for x, y in zip(a, b, strict=True)) / len(a)
    sa, sb = set(a) - {"<*>"}, set(b) - {"<*>"}
    return len(sa & sb) / len(sa | sb) if sa | sb else 0.0


def signature_overlap(query: Sequence[tuple[str, ...]], record: Sequence[tuple[str, ...]]) -> float:
    """Soft overlap coefficient: shared templates over the smaller of the two signatures."""
    if not query or not record:
        return 0.0
    shared = 0.0
    for q in query:
        best = max(template_similarity(q, r) for r in record)
        shared += best if best >= TEMPLATE_MIN_SIM else 0.0
    return min(1.0, shared / min(len(query), len(record)))
