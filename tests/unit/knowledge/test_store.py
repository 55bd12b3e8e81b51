"""The knowledge store on a real Redis: idempotent upserts, a change stream, nothing lost on bad input."""

from __future__ import annotations

from pathlib import Path

import redis

from workers.knowledge.ingest import ingest_path
from workers.knowledge.model import IncidentRecord
from workers.knowledge.search import KnowledgeIndex
from workers.knowledge.store import READ_CHUNK, KnowledgeStore

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "postmortems"


def test_upsert_is_idempotent_and_logs_only_real_changes(client: redis.Redis) -> None:
    store = KnowledgeStore(client)
    records = ingest_path(FIXTURES).records
    first = store.upsert(records)
    assert len(first.created) == 8 and store.version() == 8
    again = store.upsert(ingest_path(FIXTURES).records)
    assert len(again.unchanged) == 8 and not again.created and not again.updated
    assert store.version() == 8  # nothing changed, nothing logged
    changed = records[0].model_copy(update={"resolution": "something else"})
    assert store.upsert([changed]).updated == [changed.id]
    assert store.get(changed.id) is not None and store.get(changed.id).resolution == "something else"  # type: ignore[union-attr]
    assert store.ids() == sorted(r.id for r in records) and len(store.all()) == 8
    assert store.delete(changed.id) and not store.delete(changed.id) and store.get(changed.id) is None
    ops, _last = store.changes_since("0")
    assert ops[-2:] == [("upsert", changed.id), ("delete", changed.id)] and len(ops) == 10


def test_changes_are_read_past_one_page(client: redis.Redis) -> None:
    store = KnowledgeStore(client)
    many = [IncidentRecord(id=f"GEN-{i}", title=f"incident {i}") for i in range(READ_CHUNK + 5)]
    store.upsert(many)
    ops, last = store.changes_since("0")
    assert len(ops) == READ_CHUNK + 5
    store.upsert([IncidentRecord(id="GEN-new", title="one more")])
    assert store.changes_since(last)[0] == [("upsert", "GEN-new")]


def test_a_bad_file_in_a_later_ingest_loses_nothing_stored(client: redis.Redis, tmp_path: Path) -> None:
    store = KnowledgeStore(client)
    for f in FIXTURES.glob("*.md"):
        (tmp_path / f.name).write_text(f.read_text())
    store.upsert(ingest_path(tmp_path).records)
    before = {r.id: r for r in store.all()}
    (tmp_path / "pool-orders.md").write_text("---\nid: FX-POOL-1\ntitle: [broken\n---\n")
    report = ingest_path(tmp_path)
    result = store.upsert(report.records)
    assert [p.path.name for p in report.problems] == ["pool-orders.md"]
    assert len(result.unchanged) == len(before) - 1
    assert {r.id: r for r in store.all()} == before  # the broken file's earlier record is still there


def test_the_index_follows_the_store_incrementally(client: redis.Redis) -> None:
    store = KnowledgeStore(client)
    store.upsert(ingest_path(FIXTURES).records)
    index = KnowledgeIndex()
    assert index.refresh(store) and index.rebuilds == 1
    assert not index.refresh(store) and index.rebuilds == 1  # nothing changed: no rebuild
    store.upsert([IncidentRecord(id="NEW-1", title="kafka consumer lag from a poison message")])
    assert index.refresh(store)
    assert index.search("kafka poison message")[0].record_id == "NEW-1"
    store.delete("NEW-1")
    index.refresh(store)
    assert all(m.record_id != "NEW-1" for m in index.search("kafka poison message"))
