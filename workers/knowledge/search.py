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
import json
import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

from workers.knowledge import snapshot
from workers.knowledge.doctable import DocTable
from workers.knowledge.feedback import FeedbackStore
from workers.knowledge.model import IncidentRecord
from workers.knowledge.postings import Postings
from workers.knowledge.textmatch import TOKEN, signature_overlap, template_tokens, tokenize

W_BM25 = 1.0  # lexical match of the incident text
W_DENSE = 1.0  # cosine similarity of embeddings, when available
W_SIGNATURE = 0.8  # overlap of masked log templates, when the query has some
W_SERVICE = 0.05  # bonus when the record names one of the query's services
NOVELTY_THRESHOLD = 0.25  # calibrated on tests/benchmarks/bench_kb.py (separating cut 0.245)
CANDIDATES = 100  # per retriever (text, signature, dense) before exact scoring
DIGEST_CHARS = 32  # of a record's content hash, to tell a changed record from a re-ingested one
SIGNATURE_CACHE = 8192  # distinct record signatures kept tokenized
COMPACT_POSTINGS = 500_000  # postings added since the last compaction that trigger one
DENSE_RETRY_S = 30.0  # after an embedder failure, skip dense for this long
EMBED_BATCH = 64
SNIPPET_CHARS = 300
if TYPE_CHECKING:  # the embeddings client (httpx) loads only where dense search is configured
    from workers.knowledge.embeddings import Embedder

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


def _derive(record: IncidentRecord) -> tuple[str, str, str, list[str], list[str]]:
    """A record's digest, services, signature, text tokens and signature tokens."""
    text = record.searchable_text()
    sig = [template_tokens(t) for t in record.log_signature]
    digest = hashlib.sha256((text + "\x00" + "\n".join(record.log_signature)).encode()).hexdigest()
    services = "\n".join(s.lower() for s in record.services)
    sig_tokens = [t for tpl in sig for t in tpl if t != "<*>"]
    return digest[:DIGEST_CHARS], services, "\n".join(record.log_signature), tokenize(text), sig_tokens


@dataclass
class KnowledgeIndex:
    """BM25 postings over the records' text and log templates, updated record by record.

    Built from records (`build`) it keeps them in memory; refreshed from a store it keeps only the
    postings and a few strings per record, and reads the records it returns from the store. A
    snapshot of the postings in the store's Redis lets a new process (the CLI) start from it and
    apply only the changes made since."""

    embedder: Embedder | None = None
    rebuilds: int = 0  # full builds (from records, from the store, or from a snapshot)
    dense_error: str = ""
    _table: DocTable = field(default_factory=DocTable, repr=False)  # by document number; tombstones too
    _slot: dict[str, int] = field(default_factory=dict, repr=False)  # record id → live document number
    _text: Postings = field(default_factory=Postings, repr=False)
    _sig: Postings = field(default_factory=Postings, repr=False)
    _records: dict[str, IncidentRecord] | None = field(default=None, repr=False)
    _store: Any = field(default=None, repr=False)
    _embeddings: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    _matrix: np.ndarray | None = field(default=None, repr=False)
    _dense_failed_at: float = -math.inf
    _stream_id: str = "0"
    _version: int | None = None
    _since_snapshot: int = 0

    def __len__(self) -> int:
        return len(self._slot)

    def ids(self) -> list[str]:
        return sorted(self._slot)

    def build(self, records: Sequence[IncidentRecord]) -> None:
        """Replace the contents with `records`, kept in memory."""
        self._reset()
        self._records = {}
        for r in records:
            self._put(r)
        self.rebuilds += 1

    def _reset(self) -> None:
        self._table, self._slot, self._text, self._sig = DocTable(), {}, Postings(), Postings()
        self._matrix = None

    def _put(self, record: IncidentRecord) -> bool:
        """Index a new or changed record; False when it is unchanged."""
        digest, services, signature, tokens, sig_tokens = _derive(record)
        old = self._slot.get(record.id)
        if self._records is not None:
            self._records[record.id] = record
        if old is not None and self._table.digests[old] == digest:
            return False
        if old is not None:
            self._drop(old)
        n = self._text.add(tokens)
        self._sig.add(sig_tokens)
        self._table.append(record.id, digest, services, signature)
        self._slot[record.id] = n
        self._matrix = None
        if self._text.pending > COMPACT_POSTINGS:  # bounded memory while a large base is read
            self.compact()
        return True

    def _drop(self, n: int) -> None:
        self._text.remove(n)
        self._sig.remove(n)
        self._slot.pop(self._table.ids[n], None)
        self._matrix = None

    def remove(self, record_id: str) -> bool:
        n = self._slot.get(record_id)
        if n is None:
            return False
        self._drop(n)
        if self._records is not None:
            self._records.pop(record_id, None)
        return True

    def compact(self) -> None:
        """Fold recent changes into the arrays and forget removed records."""
        keep = self._text.compact()
        self._sig.compact()
        self._table.keep(keep)
        self._slot = {rid: n for n, rid in enumerate(self._table.ids)}
        self._matrix = None

    def refresh(self, store: Any) -> bool:
        """Apply the store's changes since the last refresh; True when anything changed."""
        version = int(store.version())
        if version == self._version:
            return False
        changed = False
        if self._stream_id == "0":
            self._store, self._records = store, None
            saved = snapshot.read(store)
            if saved is not None:
                self._restore(saved)
            else:
                # The stream's end before reading the records: a change in between is applied again.
                last = store.last_change() if hasattr(store, "last_change") else store.changes_since("0")[1]
                self._reset()
                for record in store.iter_records() if hasattr(store, "iter_records") else store.all():
                    self._put(record)
                self._stream_id = last or "0"
                self.save(store)
            self.rebuilds += 1
            changed = True
        changes, last = store.changes_since(self._stream_id)
        for op, rid in dict((rid, (op, rid)) for op, rid in changes).values():  # the last change per record
            rec = store.get(rid) if op == "upsert" else None
            changed = (self._put(rec) if rec is not None else self.remove(rid)) or changed
        self._since_snapshot += len(changes)
        self._stream_id, self._version = last or self._stream_id, version
        if self._since_snapshot >= snapshot.EVERY_CHANGES:
            self.save(store)
        return changed

    def save(self, store: Any) -> None:
        """Write the compacted index as the store's snapshot (see `snapshot`)."""
        self.compact()
        meta = {"format": snapshot.FORMAT, "stream_id": self._stream_id, "docs": len(self._table)}
        fields: dict[str, bytes | str] = {"meta": json.dumps(meta), "text": self._text.dump()}
        snapshot.write(store, {**fields, "sig": self._sig.dump(), **self._table.dump()})
        self._since_snapshot = 0

    def _restore(self, saved: dict[str, bytes]) -> None:
        self._reset()
        self._table = DocTable.load(saved, DIGEST_CHARS)
        self._slot = {rid: n for n, rid in enumerate(self._table.ids)}
        self._text, self._sig = Postings.load(saved["text"]), Postings.load(saved["sig"])
        self._stream_id = json.loads(saved["meta"])["stream_id"]
        self._since_snapshot = 0

    def _record(self, record_id: str) -> IncidentRecord | None:
        return self._records_of([record_id])[0]

    def _records_of(self, record_ids: list[str]) -> list[IncidentRecord | None]:
        if self._records is not None:
            return [self._records.get(r) for r in record_ids]
        if self._store is None:
            return [None] * len(record_ids)
        if hasattr(self._store, "get_many"):
            return list(self._store.get_many(record_ids))
        return [self._store.get(r) for r in record_ids]

    def _bm25_reference(self, postings: Postings, terms: Sequence[str]) -> float:
        """The BM25 upper bound of the query (term frequency part → 1); unknown terms as df=1."""
        return sum(postings.idf(postings.doc_freq(t) or 1) for t in terms)

    def _dense(self, text: str) -> np.ndarray | None:
        """Cosine similarity of every document to `text`, or None (reason in `dense_error`)."""
        if self.embedder is None:
            self.dense_error = "no embedder configured"
            return None
        if time.monotonic() - self._dense_failed_at < DENSE_RETRY_S:
            return None
        import httpx  # here, not at the top: a process without an embedder never loads it

        try:
            missing = [
                (rid, digest)
                for n, (rid, digest) in enumerate(zip(self._table.ids, self._table.digests, strict=True))
                if digest not in self._embeddings and self._text.live[n]
            ]
            for i in range(0, len(missing), EMBED_BATCH):
                batch = [
                    (d, r) for rid, d in missing[i : i + EMBED_BATCH] if (r := self._record(rid)) is not None
                ]
                vectors = self.embedder.embed([r.searchable_text() for _, r in batch])
                for (d, _), vec in zip(batch, vectors, strict=True):
                    self._embeddings[d] = _unit(vec)
                    self._matrix = None
            query = _unit(self.embedder.embed([text])[0])
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            self._dense_failed_at = time.monotonic()
            self.dense_error = f"embeddings unavailable: {type(exc).__name__}: {exc}"[:200]
            return None
        if self._matrix is None:
            width = len(query)
            zero = np.zeros(width, dtype=np.float32)
            self._matrix = np.vstack([self._embeddings.get(d, zero) for d in self._table.digests] or [zero])
        self.dense_error = ""
        sims: np.ndarray = np.clip(self._matrix[: len(self._table)] @ query, 0.0, 1.0)
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
        if not self._slot or k <= 0:
            return []
        terms = list(dict.fromkeys(tokenize(text)))
        known = [t for t in terms if self._text.doc_freq(t)]
        bm25 = np.zeros(len(self._table), dtype=np.float32)
        if known:
            bm25 = np.clip(self._text.scores(known) / self._bm25_reference(self._text, terms), 0.0, 1.0)
        query_sig = [t for t in (template_tokens(s) for s in signature) if t]
        dense = self._dense(text) if terms else None
        pool = set(_top(bm25, CANDIDATES))
        sig_terms = [t for tpl in query_sig for t in tpl if t != "<*>"]
        if sig_known := [t for t in dict.fromkeys(sig_terms) if self._sig.doc_freq(t)]:
            pool.update(_top(self._sig.scores(sig_known), CANDIDATES))
        if dense is not None:
            pool.update(_top(dense, CANDIDATES))
        wanted = {s.lower() for s in services}
        weights = W_BM25 + (W_DENSE if dense is not None else 0.0)
        scored: list[tuple[float, int, dict[str, float]]] = []
        overlaps: dict[str, float] = {}
        for i in pool:
            if not self._text.live[i] or self._table.ids[i] == exclude:
                continue
            doc_signature = self._table.signature(i)
            doc_sig = _signature_tokens(doc_signature)
            if query_sig and doc_signature not in overlaps:  # records share signatures: once per query
                overlaps[doc_signature] = signature_overlap(query_sig, doc_sig)
            parts = {
                "bm25": float(bm25[i]),
                "dense": float(dense[i]) if dense is not None else 0.0,
                "signature": overlaps.get(doc_signature, 0.0),
                "service": 1.0 if wanted & set(self._table.services(i).split("\n")) else 0.0,
                "feedback": 0.0,
            }
            base = W_BM25 * parts["bm25"] + W_DENSE * parts["dense"] + W_SIGNATURE * parts["signature"]
            used = weights + (W_SIGNATURE if query_sig and doc_sig else 0.0)
            scored.append((base / used + W_SERVICE * parts["service"], i, parts))
        scored.sort(key=lambda s: (-s[0], s[1]))
        scored = scored[: max(4 * k, 20)]
        if feedback is not None and incident_type:
            adj = feedback.adjustments(incident_type, [self._table.ids[i] for _, i, _ in scored])
            for n, (score, i, parts) in enumerate(scored):
                parts["feedback"] = adj[self._table.ids[i]]
                scored[n] = (score + parts["feedback"], i, parts)
            scored.sort(key=lambda s: (-s[0], s[1]))
        skipped = "" if dense is not None else self.dense_error or "no query terms"
        out: list[Match] = []
        ranked = [(score, i, parts) for score, i, parts in scored if score > 0]
        while ranked and len(out) < k:  # records read k at a time (one round trip); a deleted one is skipped
            batch, ranked = ranked[: k - len(out)], ranked[k - len(out) :]
            records = self._records_of([self._table.ids[i] for _, i, _ in batch])
            for (score, _, parts), record in zip(batch, records, strict=True):
                if record is not None:
                    out.append(_match(record, min(1.0, score), parts, terms, skipped))
        return out


@lru_cache(maxsize=SIGNATURE_CACHE)
def _signature_tokens(signature: str) -> tuple[tuple[str, ...], ...]:
    """A record's templates as tokens; records share templates, so a bounded cache serves most."""
    return tuple(template_tokens(t) for t in signature.split("\n")) if signature else ()


def _match(
    r: IncidentRecord, score: float, parts: dict[str, float], terms: Sequence[str], skipped: str
) -> Match:
    verified = [t for t in r.triplets if t.verified] or r.triplets
    root_cause = (r.root_causes[0] if r.root_causes else "") or (verified[0].root_cause if verified else "")
    fix = (
        r.resolution or (verified[0].fix if verified else "") or (r.action_items[0] if r.action_items else "")
    )
    link = next((u for u in r.links if _LINK.match(u)), "")
    return Match(r.id, r.title, round(score, 4), _snippet(r, terms), root_cause, fix, parts, skipped, link)


def _snippet(record: IncidentRecord, terms: Sequence[str]) -> str:
    """The passage sharing most query terms, cut to SNIPPET_CHARS around the first shared term."""
    seen = dict.fromkeys(p.strip() for p in _PASSAGE_SPLIT.split(record.searchable_text()) if p.strip())
    passages = [(p, frozenset(tokenize(p))) for p in seen]
    if not passages:
        return ""
    wanted = set(terms)
    text, toks = max(passages, key=lambda p: len(p[1] & wanted))
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
    """Indices of the `n` highest positive scores (partitioned among the positive ones only)."""
    idx = np.flatnonzero(scores > 0)
    if len(idx) > n:
        idx = idx[np.argpartition(-scores[idx], n)[:n]]
    return idx.tolist()
