"""The knowledge store on a real (embedded) Redis: idempotent upserts, the change stream, nothing lost on
bad input, and the search index following the store."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import redis

from workers.knowledge.ingest import ingest_path
from workers.knowledge.model import IncidentRecord
from workers.knowledge.search import KnowledgeIndex
from workers.knowledge.store import CHANGES, READ_CHUNK, KnowledgeStore, content_hash

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "postmortems"


def _record(rid: str, title: str, **fields: object) -> IncidentRecord:
    return IncidentRecord.model_validate({"id": rid, "title": title, **fields})


def test_upsert_creates_then_leaves_identical_records_alone(client: redis.Redis) -> None:
    store = KnowledgeStore(client)
    records = ingest_path(FIXTURES).records
    first = store.upsert(records)
    assert sorted(first.created) == sorted(r.id for r in records) and not first.updated
    assert store.version() == 16 and client.xlen(CHANGES) == 16
    stamped = {r.id: r.updated_at for r in store.all()}
    assert all(stamped.values())
    again = store.upsert(ingest_path(FIXTURES).records)  # parsed again: equal content, new objects
    assert len(again.unchanged) == 16 and not again.created and not again.updated
    assert store.version() == 16 and client.xlen(CHANGES) == 16  # nothing changed, nothing logged
    assert {r.id: r.updated_at for r in store.all()} == stamped


def test_changed_content_is_an_update(client: redis.Redis) -> None:
    store = KnowledgeStore(client)
    original = _record("INC-1", "pool ran dry", resolution="restarted the pool")
    store.upsert([original])
    before = store.get("INC-1")
    assert before is not None and before.updated_at is not None
    changed = original.model_copy(update={"resolution": "released connections before retrying"})
    result = store.upsert([changed])
    assert result.updated == ["INC-1"] and not result.created and not result.unchanged
    after = store.get("INC-1")
    assert after is not None and after.resolution == "released connections before retrying"
    assert after.updated_at is not None and after.updated_at >= before.updated_at
    assert content_hash(after) == content_hash(changed)  # the stamp is not part of the content
    assert store.version() == 2 and store.changes_since("0")[0] == [("upsert", "INC-1")] * 2


def test_the_last_of_a_repeated_id_in_one_batch_wins(client: redis.Redis) -> None:
    store = KnowledgeStore(client)
    result = store.upsert([_record("INC-1", "first"), _record("INC-1", "second")])
    assert result.created == ["INC-1"] and store.version() == 1
    stored = store.get("INC-1")
    assert stored is not None and stored.title == "second"


def test_get_all_ids_and_delete(client: redis.Redis) -> None:
    store = KnowledgeStore(client)
    assert store.ids() == [] and store.all() == [] and store.get("nope") is None and store.version() == 0
    store.upsert([_record("b-2", "two", services=["x"]), _record("a-1", "one"), _record("c-3", "three")])
    assert store.ids() == ["a-1", "b-2", "c-3"]
    assert [r.id for r in store.all()] == ["a-1", "b-2", "c-3"]  # sorted by id
    got = store.get("b-2")
    assert got is not None and got.title == "two" and got.services == ["x"]
    assert store.delete("b-2") and not store.delete("b-2") and not store.delete("never-there")
    assert store.get("b-2") is None and store.ids() == ["a-1", "c-3"] and len(store.all()) == 2
    assert store.version() == 4  # three upserts, one delete; deleting nothing is not a change
    assert store.upsert([_record("b-2", "two", services=["x"])]).created == ["b-2"]  # its hash went too


def test_changes_come_in_order_and_past_one_page(client: redis.Redis) -> None:
    store = KnowledgeStore(client)
    store.upsert([_record("A", "a")])
    store.upsert([_record("A", "a, edited")])
    store.delete("A")
    ops, first_last = store.changes_since("0")
    assert ops == [("upsert", "A"), ("upsert", "A"), ("delete", "A")]
    assert store.changes_since(first_last) == ([], first_last)  # nothing new
    many = [_record(f"GEN-{i:05d}", f"incident {i}") for i in range(READ_CHUNK * 2 + 5)]
    store.upsert(many)
    ops, last = store.changes_since(first_last)
    assert ops == [("upsert", r.id) for r in many]  # more than two pages, in write order
    assert store.changes_since("0")[0][:3] == [("upsert", "A"), ("upsert", "A"), ("delete", "A")]
    store.delete("GEN-00000")
    store.upsert([_record("NEW", "one more")])
    assert store.changes_since(last)[0] == [("delete", "GEN-00000"), ("upsert", "NEW")]
    assert store.version() == 3 + len(many) + 2


def test_a_bad_file_in_a_later_ingest_loses_nothing_stored(client: redis.Redis, tmp_path: Path) -> None:
    folder = tmp_path / "pm"
    shutil.copytree(FIXTURES, folder)
    store = KnowledgeStore(client)
    store.upsert(ingest_path(folder).records)
    before = {r.id: r for r in store.all()}
    version = store.version()
    assert len(before) == 16
    # the file of FX-POOL-1 breaks, and a new broken file arrives next to it
    (folder / "pool-orders.md").write_text("---\nid: FX-POOL-1\ntitle: [broken\n---\n# Broken\n")
    (folder / "new.json").write_text('{"id": "NEW-1",\n "title": }\n')
    report = ingest_path(folder)
    assert sorted((p.path.name, p.line) for p in report.problems) == [("new.json", 2), ("pool-orders.md", 3)]
    result = store.upsert(report.records)
    assert len(result.unchanged) == 15 and not result.created and not result.updated
    assert {r.id: r for r in store.all()} == before  # FX-POOL-1 too, as it was
    assert store.version() == version


def test_the_index_follows_the_store_incrementally(client: redis.Redis) -> None:
    class CountingStore(KnowledgeStore):
        full_reads = gets = 0

        def iter_records(self) -> Iterator[IncidentRecord]:
            self.full_reads += 1
            return super().iter_records()

        def get(self, record_id: str) -> IncidentRecord | None:
            self.gets += 1
            return super().get(record_id)

    store = CountingStore(client)
    store.upsert(ingest_path(FIXTURES).records)
    index = KnowledgeIndex()
    assert index.refresh(store) and index.rebuilds == 1 and len(index) == 16
    assert store.full_reads == 1
    store.upsert(ingest_path(FIXTURES).records)  # unchanged: nothing to do
    assert not index.refresh(store) and index.rebuilds == 1

    query = "zookeeper session expired leader election flapping"
    assert all(m.record_id != "NEW-1" for m in index.search(query))
    store.gets = 0  # a search reads the records it returns
    store.upsert([_record("NEW-1", "ZooKeeper sessions expiring during leader election flaps")])
    assert index.refresh(store) and index.rebuilds == 1  # record by record, never a rebuild
    assert store.full_reads == 1 and store.gets == 1  # only the new record was read
    assert index.search(query)[0].record_id == "NEW-1" and len(index) == 17

    store.upsert([_record("NEW-1", "Quorum lost on the coordination cluster")])
    assert index.refresh(store) and index.rebuilds == 1
    assert all(m.record_id != "NEW-1" for m in index.search(query))
    assert index.search("quorum lost coordination cluster")[0].record_id == "NEW-1"

    assert store.delete("NEW-1") and index.refresh(store) and index.rebuilds == 1
    assert all(m.record_id != "NEW-1" for m in index.search("quorum lost coordination cluster"))
    assert index.ids() == store.ids() and store.full_reads == 1

    index.compact()  # removed records still weigh in BM25's statistics until the index is compacted
    fresh = KnowledgeIndex()  # a new process: the snapshot in Redis, then the changes since
    assert fresh.refresh(store) and store.full_reads == 1 and fresh.ids() == store.ids()
    assert fresh.search("quorum lost coordination cluster") == index.search(
        "quorum lost coordination cluster"
    )
