"""The incremental BM25 postings: the same scores as BM25 computed directly, through adds, removals,
compaction and a dump/load round trip."""

from __future__ import annotations

import math
import random

import numpy as np

from workers.knowledge.postings import BM25_B, BM25_K1, Postings

WORDS = [
    "pool",
    "dns",
    "oom",
    "disk",
    "lock",
    "kafka",
    "clock",
    "cert",
    "flag",
    "cron",
    "evict",
    "gc",
    "quota",
    "fd",
]


def direct(docs: list[list[str]], live: list[bool], terms: list[str]) -> np.ndarray:
    """Lucene BM25 over `docs` (removed ones still counted in the statistics, as documented)."""
    n, avg = len(docs), sum(max(1, len(d)) for d in docs) / len(docs)
    out = np.zeros(n)
    for t in dict.fromkeys(terms):
        df = sum(t in d for d in docs)
        if not df:
            continue
        idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
        for i, d in enumerate(docs):
            tf = d.count(t)
            if tf and live[i]:
                out[i] += idf * tf / (tf + BM25_K1 * (1 - BM25_B + BM25_B * max(1, len(d)) / avg))
    return out


def test_scores_match_bm25_through_adds_removals_compaction_and_a_reload() -> None:
    rng = random.Random(3)
    docs = [[rng.choice(WORDS) for _ in range(rng.randint(1, 12))] for _ in range(300)]
    live = [True] * len(docs)
    p = Postings()
    for d in docs[:200]:
        p.add(d)
    p.compact()
    for d in docs[200:]:
        p.add(d)  # these stay in the added buffer
    for i in rng.sample(range(300), 40):
        p.remove(i)
        live[i] = False
    query = ["pool", "dns", "gc", "unknown"]
    assert np.allclose(p.scores(query), direct(docs, live, query), rtol=1e-4)

    kept = p.compact()
    assert list(kept) == [i for i in range(300) if live[i]] and len(p) == 260 and p.pending == 0
    survivors = [d for d, alive in zip(docs, live, strict=True) if alive]
    assert np.allclose(p.scores(query), direct(survivors, [True] * 260, query), rtol=1e-4)

    again = Postings.load(p.dump())
    assert np.allclose(again.scores(query), p.scores(query)) and again.doc_freq("pool") == p.doc_freq("pool")
    assert again.add(["zebra"]) == 260 and again.scores(["zebra"])[260] > 0


def test_cached_tf_parts_stay_within_the_drift_bound_as_records_arrive_one_by_one() -> None:
    rng = random.Random(5)
    docs = [[rng.choice(WORDS) for _ in range(rng.randint(1, 12))] for _ in range(1900)]
    docs += [[rng.choice(WORDS) for _ in range(40)] for _ in range(100)]  # long ones: the average grows
    p = Postings()
    for d in docs[:1900]:
        p.add(d)
    p.compact()
    query = ["pool", "dns", "gc"]
    p.scores(query)  # the tf parts cached at this average length
    for n in range(1900, 2000):
        p.add(docs[n])  # each one moves the average length a little
        got, want = p.scores(query), direct(docs[: n + 1], [True] * (n + 1), query)
        assert np.allclose(got, want, rtol=3e-3), n  # stale by at most WEIGHT_DRIFT before a refresh
    p.compact()
    assert np.allclose(p.scores(query), direct(docs, [True] * 2000, query), rtol=1e-4)  # exact again
