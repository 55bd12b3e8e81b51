"""Query and record text as tokens, and log templates compared with wildcards."""

from __future__ import annotations

import re
from collections.abc import Sequence

TEMPLATE_MIN_SIM = 0.6  # two templates below this agreement do not count as shared
MIN_SHARED_WORDS = 3  # templates of different lengths need this many words in common to compare
CAMEL_MIN_LEN = 8  # identifiers this long are also split at case changes (OutOfMemoryError, OOMKilled)
_STOP_WORDS = (
    "a an and are as at be been but by for from had has have in into is it its of on or our that "
    "the their then there these this those to was were when which while with we after before during "
    "about over under not no so than too very can could will would should may might also all any"
)
STOP_WORDS = frozenset(_STOP_WORDS.split())
TOKEN = re.compile(r"[a-z0-9]+")
_WORD = re.compile(r"[A-Za-z0-9]+")
_CAMEL_PART = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
_WILDCARD = re.compile(r"<[^<>\s]*>")
_TEMPLATE_TOKEN = re.compile(r"<\*>|[^\s=:,;()\[\]{}\"']+")


def tokenize(text: str) -> list[str]:
    """Lowercase, split on non-alphanumerics, drop stop words and one-letter tokens.

    A long identifier is kept whole and also split at its case changes, so a log's
    `OutOfMemoryError` meets a postmortem's "out of memory". Short ones (`CoreDNS`, `iOS`) stay
    whole. No stemming: on the retrieval benchmark it cost more than it gained."""
    words: list[str] = []
    for word in _WORD.findall(text):
        words.append(word.lower())
        if len(word) >= CAMEL_MIN_LEN and len(parts := _CAMEL_PART.findall(word)) > 1:
            words.extend(p.lower() for p in parts)
    return [t for t in words if len(t) > 1 and t not in STOP_WORDS]


_WILD = frozenset({"<*>"})


def template_tokens(template: str) -> tuple[str, ...]:
    """A masked log template as tokens; every `<...>` placeholder becomes the wildcard `<*>`."""
    return tuple(_TEMPLATE_TOKEN.findall(_WILDCARD.sub(" <*> ", template.lower())))


def template_similarity(a: tuple[str, ...], b: tuple[str, ...]) -> float:
    """The better of positional agreement (same length; wildcards match anything) and the words
    shared over the shorter template's words, given at least MIN_SHARED_WORDS in common: two
    services' `…: no space left on device` are the same failure whatever precedes it."""
    return _similarity(a, _words(a), b, _words(b))


def _words(template: tuple[str, ...]) -> frozenset[str]:
    return frozenset(template) - _WILD


def _similarity(a: tuple[str, ...], sa: frozenset[str], b: tuple[str, ...], sb: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    positional = 0.0
    if len(a) == len(b):
        positional = sum(x == y or "<*>" in (x, y) for x, y in zip(a, b, strict=True)) / len(a)
    shared = len(sa & sb)
    words = shared / min(len(sa), len(sb)) if shared >= MIN_SHARED_WORDS else 0.0
    return max(positional, words)


def signature_overlap(query: Sequence[tuple[str, ...]], record: Sequence[tuple[str, ...]]) -> float:
    """Soft overlap coefficient: shared templates over the smaller of the two signatures."""
    if not query or not record:
        return 0.0
    shared = 0.0
    theirs = [(r, _words(r)) for r in record]  # each template's words once, not once per pair
    for q in query:
        words = _words(q)
        best = max(_similarity(q, words, r, rw) for r, rw in theirs)
        shared += best if best >= TEMPLATE_MIN_SIM else 0.0
    return min(1.0, shared / min(len(query), len(record)))
