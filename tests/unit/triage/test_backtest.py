"""The backtest replays past incidents with themselves left out and scores cause, novelty, confidence."""

from __future__ import annotations

import redis

from tests.unit.knowledge.test_calibrate import rec
from workers.knowledge.service import KnowledgeDeps
from workers.runtime import build_engine
from workers.settings import Settings
from workers.triage.backtest import backtest

OOM_SIG = "kernel: Out of memory: Killed process <NUM> (java) total-vm:<NUM>kB"
KB = [
    rec("P1", "Checkout 504s", "checkout timeouts", "connection pool exhausted by a slow query", "pool",
        "HikariPool-1 - Connection is not available, request timed out after <NUM>ms."),
    rec("P2", "Orders 504s", "orders timeouts", "a connection leak exhausted the pool", "pool"),
    rec("M1", "Search restarts", "search 503s", "the container hit its memory limit", "oom", OOM_SIG),
    rec("M2", "Recs died", "recommendations empty", "out of memory in the batch loader", "oom"),
    rec("X1", "Kitchen flood", "office kitchen flooded", "a hose burst", "plumbing"),
]  # fmt: skip


def test_known_incidents_find_their_cause_and_a_lone_one_is_novel(client: redis.Redis) -> None:
    knowledge = KnowledgeDeps.build(client, Settings.load(env_file=None).llm)
    knowledge.store.upsert(KB)
    settings = Settings.load(env_file=None)
    result = backtest(knowledge, build_engine(settings), settings)
    by_id = {r.record_id: r for r in result.replays}
    assert set(by_id) == {"P1", "P2", "M1", "M2", "X1"} and result.mode == "evidence-only"
    # Replayed from its log signature, each names its mechanism and cites its sibling, not itself.
    assert by_id["P1"].evidence == "signature" and by_id["P1"].first
    assert by_id["P1"].claim.startswith("Connection pool exhausted (as in P2)")
    assert by_id["M1"].first and by_id["M1"].claim.startswith("Out of memory (OOM kill) (as in M2)")
    assert by_id["X1"].should_be_novel and by_id["X1"].novel
    precision, recall = result.novelty()
    assert recall == 1.0 and 0.0 < precision <= 1.0
    assert sum(n for n, _ in result.calibration().values()) == 5
