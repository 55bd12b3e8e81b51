"""An inverted index for BM25 that grows one document at a time and costs a few bytes per posting.

Postings live in compressed-row arrays (term → documents, term frequencies) plus a small buffer of
documents added since the last `compact()`. A removed document is a tombstone until then: it scores
nothing, but it still counts in document frequencies and lengths (BM25's statistics move slightly,
never the results' membership). Scoring is Lucene's BM25 (idf `log(1 + (N − df + 0.5)/(df + 0.5))`,
tf part `tf / (tf + k1·(1 − b + b·len/avg))`), the variant bm25s implements.
"""

from __future__ import annotations

import io
import math
from collections import Counter
from collections.abc import Sequence

import numpy as np

BM25_K1, BM25_B = 1.2, 0.75  # Lucene's defaults
WEIGHT_DRIFT = 0.001  # relative move of the average length that refreshes the cached tf parts


class Postings:
    def __init__(self) -> None:
        self.terms: dict[str, int] = {}  # term → its row in the arrays
        self.df: list[int] = []  # per term row
        self.offsets = np.zeros(1, dtype=np.int64)  # compacted rows: term t's postings at [o[t], o[t+1])
        self.docs = np.zeros(0, dtype=np.int32)
        self.tfs = np.zeros(0, dtype=np.float32)
        self.added: dict[int, list[tuple[int, int]]] = {}  # term row → (doc, tf) added since compact
        self.lengths = np.zeros(0, dtype=np.float32)
        self.live = np.zeros(0, dtype=bool)
        self.count = 0  # documents, tombstones included
        self.pending = 0  # postings added since compact
        self.dead = 0  # tombstones
        self._total_length = 0.0
        self._norms: np.ndarray | None = None
        self._weight = np.zeros(0, dtype=np.float32)  # see `_weights`
        self._weight_docs: np.ndarray | None = None
        self._weight_avg = 0.0

    def __len__(self) -> int:
        return self.count

    def add(self, tokens: Sequence[str]) -> int:
        """Index a document; returns its number."""
        doc = self.count
        if doc == len(self.lengths):  # grow by half, as lists do
            size = max(16, doc + doc // 2)
            self.lengths = np.resize(self.lengths, size)
            self.live = np.resize(self.live, size)
        self.lengths[doc] = max(1, len(tokens))
        self.live[doc] = True
        self.count += 1
        self._norms = None
        self._total_length += max(1, len(tokens))
        for term, tf in Counter(tokens).items():
            row = self.terms.get(term)
            if row is None:
                row = self.terms[term] = len(self.df)
                self.df.append(0)
            self.df[row] += 1
            self.added.setdefault(row, []).append((doc, tf))
            self.pending += 1
        return doc

    def remove(self, doc: int) -> None:
        if self.live[doc]:
            self.live[doc] = False
            self.dead += 1

    def doc_freq(self, term: str) -> int | None:
        row = self.terms.get(term)
        return self.df[row] if row is not None else None

    def idf(self, df: int) -> float:
        return math.log(1 + (self.count - df + 0.5) / (df + 0.5))

    def scores(self, terms: Sequence[str]) -> np.ndarray:
        """BM25 of every document for the query terms (each counted once), tombstones 0."""
        out = np.zeros(self.count, dtype=np.float32)
        if not self.count:
            return out
        norm = self._norm()
        weights = self._weights(norm)
        for term in dict.fromkeys(terms):
            row = self.terms.get(term)
            if row is None:
                continue
            idf = np.float32(self.idf(self.df[row]))
            if row + 1 < len(self.offsets):
                start, end = self.offsets[row], self.offsets[row + 1]
                out[self.docs[start:end]] += idf * weights[start:end]
            extra = self.added.get(row)
            if extra:  # documents added since the last compaction
                more = np.asarray(extra, dtype=np.int64)
                tfs = more[:, 1].astype(np.float32)
                out[more[:, 0]] += idf * tfs / (tfs + norm[more[:, 0]])
        if self.dead:
            out[~self.live[: self.count]] = 0.0
        return out

    def _norm(self) -> np.ndarray:
        """BM25's length normalisation per document, kept until a document is added or removed."""
        if self._norms is None or len(self._norms) != self.count:
            avg = self._total_length / self.count
            lengths = self.lengths[: self.count]
            self._norms = (BM25_K1 * ((1 - BM25_B) + BM25_B * lengths / avg)).astype(np.float32)
        return self._norms

    def _weights(self, norm: np.ndarray) -> np.ndarray:
        """BM25's tf part of every compacted posting, `tf / (tf + norm)`, so a query only scales and
        adds slices of it. Recomputed after a compaction, or once the average document length has
        moved by more than WEIGHT_DRIFT since (each new record moves it a little; recomputing per
        record would cost a pass over every posting per added record)."""
        avg = self._total_length / self.count
        if (
            self._weight_docs is not self.docs
            or abs(avg - self._weight_avg) > WEIGHT_DRIFT * self._weight_avg
        ):
            self._weight = self.tfs / (self.tfs + norm[self.docs])
            self._weight_docs, self._weight_avg = self.docs, avg
        return self._weight

    def compact(self) -> np.ndarray:
        """Fold the added postings into the arrays and drop tombstones; documents are renumbered in
        order. Returns the old numbers of the documents kept (the caller renumbers its own tables)."""
        keep = np.flatnonzero(self.live[: self.count])
        renumber = np.full(self.count, -1, dtype=np.int64)
        renumber[keep] = np.arange(len(keep))
        rows = np.repeat(np.arange(len(self.offsets) - 1, dtype=np.int64), np.diff(self.offsets))
        extra = [(row, doc, tf) for row, items in self.added.items() for doc, tf in items]
        more = np.asarray(extra, dtype=np.int64).reshape(-1, 3)
        rows = np.concatenate([rows, more[:, 0]])
        docs = np.concatenate([self.docs.astype(np.int64), more[:, 1]])
        tfs = np.concatenate([self.tfs, more[:, 2].astype(np.float32)])
        alive = renumber[docs] >= 0
        rows, docs, tfs = rows[alive], renumber[docs[alive]], tfs[alive]
        order = np.lexsort((docs, rows))
        rows, self.docs, self.tfs = rows[order], docs[order].astype(np.int32), tfs[order]
        counts = np.bincount(rows, minlength=len(self.df))
        self.offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self.df = [int(c) for c in counts]
        self.lengths = self.lengths[keep].copy()
        self.live = np.ones(len(keep), dtype=bool)
        self.count = len(keep)
        self._total_length = float(self.lengths.sum())
        self.added, self.pending, self.dead, self._norms = {}, 0, 0, None
        return keep

    def dump(self) -> bytes:
        """The compacted arrays and terms, for `load` in another process."""
        if self.added or self.dead:
            self.compact()
        buf = io.BytesIO()
        terms = sorted(self.terms, key=self.terms.__getitem__)
        np.savez(
            buf,
            terms=np.frombuffer("\n".join(terms).encode(), dtype=np.uint8),
            offsets=self.offsets,
            docs=self.docs,
            tfs=self.tfs,
            lengths=self.lengths[: self.count],
        )
        return buf.getvalue()

    @classmethod
    def load(cls, data: bytes) -> Postings:
        arrays = np.load(io.BytesIO(data))
        out = cls()
        text = arrays["terms"].tobytes().decode()
        names = text.split("\n") if text else []
        out.terms = {t: n for n, t in enumerate(names)}
        out.offsets, out.docs, out.tfs = arrays["offsets"], arrays["docs"], arrays["tfs"]
        out.df = [int(c) for c in np.diff(out.offsets)]
        out.lengths = arrays["lengths"].copy()
        out.count = len(out.lengths)
        out.live = np.ones(out.count, dtype=bool)
        out._total_length = float(out.lengths.sum())
        return out
