"""Similar past incidents: BM25 + optional dense embeddings + log-signature overlap + feedback.

Score of a record for a query (every part in 0..1)::

    base  = (W_BM25·bm25 + W_DENSE·dense + W_SIGNATURE·signature) / (sum of the weights used)
    score = clip(base + W_SERVICE·service + feedback, 0, 1)

`dense` is used only when an embedder answered, `signature` only when both the query and the record
have log templates (a postmortem that recorded none is not penalised for it).
BM25 is normalised per query by its upper bound (every query term with saturated frequency), so it
reads as "how much of the query this record covers" and keeps the ranking; query terms unknown to
the knowledge base count as rare terms, which keeps unrelated queries low (novelty).
"""

from __future__ import annotations

import hashlib
import math
import re
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import bm25s
import httpx
import numpy as np

from workers.knowledge.embeddings import Embedder
from workers.knowledge.feedback import FeedbackStore
from workers.knowledge.model import IncidentRecord
from workers.knowledge.textmatch import TOKEN, signature_overlap, template_tokens, tokenize

W_BM25 = 1.0  # lexical match of the incident text
W_DENSE = 1.0  # cosine similarity of embeddings, when available
W_SIGNATURE = 0.8  # overlap of masked log templates, when the query has some
W_SERVICE = 0.05  # bonus when the record names one of the query's services
NOVELTY_THRESHOLD = 0.25  # calibrated on tests/benchmarks/bench_kb.py (separating cut 0.245)
CANDIDATES = 100  # per retriever (text, signature, dense) before exact scoring
BM25_K1, BM25_B = 1.2, 0.75  # Lucene's defaults
DENSE_RETRY_S = 30.0  # after an embedder failure, skip dense for this long
EMBED_BATCH = 64
SNIPPET_CHARS = 300
_LINK = re.compile(r"^https?://[^\s<>|]+$")  # safe to put inside Slack's <url|text> markup
_PASSAGE_SPLIT = re.compile(r"(?<=[.!?])\s+|\n+")


@dataclass(frozen=True)
class Match:
    record_id: str
    title: str
    score: float
    snippet: str
    root_cause: str
    fix: str
    parts: dict[str, float]
    dense_skipped: str = ""  # why the dense part is missing ("" when it was used)
    link: str = ""  # the postmortem's first http(s) link, if it has one


@dataclass(frozen=True)
class Novelty:
    score: float
    novel: bool
    reason: str


def novelty(matches: Sequence[Match], *, threshold: float = NOVELTY_THRESHOLD, how: str = "") -> Novelty:
    """Novel when no match scores above `threshold`; the score is 1 − the best match's score. The
    reason gives the score, the threshold (and `how` it was set) and the nearest past incident."""
    best = max(matches, key=lambda m: m.score, default=None)
    basis = f"threshold {threshold:.2f}" + (f", {how}" if how else "")
    if best is None or best.score <= threshold:
        closest = f"; nearest: {best.record_id} ({best.title}) at {best.score:.2f}" if best else ""
        return Novelty(
            1.0 - (best.score if best else 0.0),
            True,
            f"no past incident scores above the novelty {basis}{closest}",
        )
    return Novelty(1.0 - best.score, False, f"{best.record_id} matches at {best.score:.2f} (novelty {basis})")


@dataclass
class _Doc:
    """What the index derives once per record content."""

    record: IncidentRecord
    digest: str
    tokens: list[str]
    sig_tokens: list[str]
    signature: list[tuple[str, ...]]
    passages: list[tuple[str, frozenset[str]]]

    @classmethod
    def of(cls, record: IncidentRecord) -> _Doc:
        text = record.searchable_text()
        sig = [template_tokens(t) for t in record.log_signature]
        seen = dict.fromkeys(p.strip() for p in _PASSAGE_SPLIT.split(text) if p.strip())
        return cls(
            record=record,
            digest=hashlib.sha256((text + "\x00" + "\n".join(record.log_signature)).encode()).hexdigest(),
            tokens=tokenize(text),
            sig_tokens=[t for tpl in sig for t in tpl if t != "<*>"],
            signature=sig,
            passages=[(p, frozenset(tokenize(p))) for p in seen],
        )


@dataclass
class KnowledgeIndex:
    """Records plus a BM25 matrix over their text (and one over their log templates)."""

    embedder: Embedder | None = None
    docs: list[_Doc] = field(default_factory=list)
    rebuilds: int = 0
    dense_error: str = ""
    _by_id: dict[str, _Doc] = field(default_factory=dict, repr=False)
    _embeddings: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    _text: Any = field(default=None, repr=False)
    _sig: Any = field(default=None, repr=False)
    _df: Counter[str] = field(default_factory=Counter, repr=False)
    _avg_len: float = 1.0
    _matrix: np.ndarray | None = field(default=None, repr=False)
    _dense_failed_at: float = -math.inf
    _stream_id: str = "0"
    _version: int | None = None

    def build(self, records: Sequence[IncidentRecord]) -> None:
        """Replace the contents with `records` (derived data of unchanged records is reused)."""
        old, self._by_id = self._by_id, {}
        for r in records:
            prev = old.get(r.id)
            doc = _Doc.of(r)
            self._by_id[r.id] = prev if prev is not None and prev.digest == doc.digest else doc
        self._reindex()

    def refresh(self, store: Any) -> bool:
        """Apply the store's changes since the last refresh; True when anything changed."""
        version = int(store.version())
        if version == self._version:
            return False
        changes, last = store.changes_since(self._stream_id)
        changed = bool(changes)
        if self._stream_id == "0":
            self.build(store.all())
            changed = True
        else:
            for op, rid in changes:
                rec = store.get(rid) if op == "upsert" else None
                if rec is None:
                    self._by_id.pop(rid, None)
                else:
                    prev = self._by_id.get(rid)
                    doc = _Doc.of(rec)
                    self._by_id[rid] = prev if prev is not None and prev.digest == doc.digest else doc
            if changed:
                self._reindex()
        self._stream_id, self._version = last or self._stream_id, version
        return changed

    def _reindex(self) -> None:
        self.docs = list(self._by_id.values())
        self.rebuilds += 1
        self._matrix = None
        self._text = self._sig = None
        self._df = Counter(t for d in self.docs for t in set(d.tokens))
        self._avg_len = sum(len(d.tokens) for d in self.docs) / max(1, len(self.docs))
        if self.docs:
            self._text = bm25s.BM25(k1=BM25_K1, b=BM25_B)
            self._text.index([d.tokens or [""] for d in self.docs], show_progress=False)
            if any(d.sig_tokens for d in self.docs):
                self._sig = bm25s.BM25(k1=BM25_K1, b=BM25_B)
                self._sig.index([d.sig_tokens or [""] for d in self.docs], show_progress=False)
        live = {d.digest for d in self.docs}
        self._embeddings = {k: v for k, v in self._embeddings.items() if k in live}

    def _bm25_reference(self, terms: Sequence[str]) -> float:
        """The BM25 upper bound of the query (term frequency part → 1); unknown terms as df=1."""
        n = len(self.docs)
        return sum(math.log(1 + (n - df + 0.5) / (df + 0.5)) for df in (self._df.get(t, 1) for t in terms))

    def _dense(self, text: str) -> np.ndarray | None:
        """Cosine similarity of every record to `text`, or None (reason in `dense_error`)."""
        if self.embedder is None:
            self.dense_error = "no embedder configured"
            return None
        if time.monotonic() - self._dense_failed_at < DENSE_RETRY_S:
            return None
        try:
            missing = [d for d in self.docs if d.digest not in self._embeddings]
            for i in range(0, len(missing), EMBED_BATCH):
                batch = missing[i : i + EMBED_BATCH]
                for d, vec in zip(
                    batch, self.embedder.embed([d.record.searchable_text() for d in batch]), strict=True
                ):
                    self._embeddings[d.digest] = _unit(vec)
                    self._matrix = None
            query = _unit(self.embedder.embed([text])[0])
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            self._dense_failed_at = time.monotonic()
            self.dense_error = f"embeddings unavailable: {type(exc).__name__}: {exc}"[:200]
            return None
        if self._matrix is None:
            self._matrix = np.vstack([self._embeddings[d.digest] for d in self.docs])
        self.dense_error = ""
        sims: np.ndarray = np.clip(self._matrix @ query, 0.0, 1.0)
        return sims

    def search(
        self,
        text: str,
        *,
        signature: Sequence[str] = (),
        services: Sequence[str] = (),
        k: int = 5,
        feedback: FeedbackStore | None = None,
        incident_type: str = "",
        exclude: str = "",
    ) -> list[Match]:
        """The `k` records most like the query, best first, each with its score broken down; `exclude`
        leaves one record out (leave-one-out calibration)."""
        if not self.docs or k <= 0:
            return []
        terms = list(dict.fromkeys(tokenize(text)))
        known = [t for t in terms if t in self._df]
        bm25 = np.zeros(len(self.docs), dtype=np.float32)
        if known:
            bm25 = np.clip(self._text.get_scores(known) / self._bm25_reference(terms), 0.0, 1.0)
        query_sig = [t for t in (template_tokens(s) for s in signature) if t]
        dense = self._dense(text) if terms else None
        pool = set(_top(bm25, CANDIDATES))
        sig_terms = [t for tpl in query_sig for t in tpl if t != "<*>"]
        if self._sig is not None and (
            sig_known := [t for t in dict.fromkeys(sig_terms) if t in self._sig.vocab_dict]
        ):
            pool.update(_top(self._sig.get_scores(sig_known), CANDIDATES))
        if dense is not None:
            pool.update(_top(dense, CANDIDATES))
        wanted = {s.lower() for s in services}
        weights = W_BM25 + (W_DENSE if dense is not None else 0.0)
        scored: list[tuple[float, int, dict[str, float]]] = []
        for i in pool:
            doc = self.docs[i]
            if doc.record.id == exclude:
                continue
            parts = {
                "bm25": float(bm25[i]),
                "dense": float(dense[i]) if dense is not None else 0.0,
                "signature": signature_overlap(query_sig, doc.signature) if query_sig else 0.0,
                "service": 1.0 if wanted & {s.lower() for s in doc.record.services} else 0.0,
                "feedback": 0.0,
            }
            base = W_BM25 * parts["bm25"] + W_DENSE * parts["dense"] + W_SIGNATURE * parts["signature"]
            used = weights + (W_SIGNATURE if query_sig and doc.signature else 0.0)
            scored.append((base / used + W_SERVICE * parts["service"], i, parts))
        scored.sort(key=lambda s: (-s[0], s[1]))
        scored = scored[: max(4 * k, 20)]
        if feedback is not None and incident_type:
            adj = feedback.adjustments(incident_type, [self.docs[i].record.id for _, i, _ in scored])
            for n, (score, i, parts) in enumerate(scored):
                parts["feedback"] = adj[self.docs[i].record.id]
                scored[n] = (score + parts["feedback"], i, parts)
            scored.sort(key=lambda s: (-s[0], s[1]))
        skipped = "" if dense is not None else self.dense_error or "no query terms"
        return [self._match(self.docs[i], min(1.0, s), p, terms, skipped) for s, i, p in scored[:k] if s > 0]

    def _match(
        self, doc: _Doc, score: float, parts: dict[str, float], terms: Sequence[str], skipped: str
    ) -> Match:
        r = doc.record
        verified = [t for t in r.triplets if t.verified] or r.triplets
        root_cause = (r.root_causes[0] if r.root_causes else "") or (
            verified[0].root_cause if verified else ""
        )
        fix = (
            r.resolution
            or (verified[0].fix if verified else "")
            or (r.action_items[0] if r.action_items else "")
        )
        link = next((u for u in r.links if _LINK.match(u)), "")
        return Match(
            r.id, r.title, round(score, 4), _snippet(doc, terms), root_cause, fix, parts, skipped, link
        )


def _snippet(doc: _Doc, terms: Sequence[str]) -> str:
    """The passage sharing most query terms, cut to SNIPPET_CHARS around the first shared term."""
    if not doc.passages:
        return ""
    wanted = set(terms)
    text, toks = max(doc.passages, key=lambda p: len(p[1] & wanted))
    if len(text) <= SNIPPET_CHARS:
        return text
    hits = [m.start() for m in TOKEN.finditer(text.lower()) if m.group() in wanted and m.group() in toks]
    start = min(max(0, (hits[0] if hits else 0) - 60), len(text) - SNIPPET_CHARS)
    body = text[start : start + SNIPPET_CHARS - 2]
    return ("…" if start else "") + body + ("…" if start + len(body) < len(text) else "")


def _unit(vec: Sequence[float]) -> np.ndarray:
    arr = np.asarray(vec, dtype=np.float32)
    norm = float(np.linalg.norm(arr))
    return arr / norm if norm else arr


def _top(scores: np.ndarray, n: int) -> list[int]:
    """Indices of the `n` highest positive scores."""
    idx = np.argpartition(-scores, n)[:n] if len(scores) > n else np.arange(len(scores))
    return [int(i) for i in idx if scores[i] > 0]
