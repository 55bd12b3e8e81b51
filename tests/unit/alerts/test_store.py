"""The alert book on a real Redis: repeats, flapping and state words within one batch."""

from __future__ import annotations

from datetime import UTC, datetime

import redis

from workers.alerts.model import Alert
from workers.alerts.store import AlertBook

NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


def alert(fp: str, status: str = "firing", note: str = "") -> Alert:
    return Alert(
        source="alertmanager", fingerprint=fp, status=status, labels={"alertname": "A", "service": "s"},  # type: ignore[arg-type]
        starts_at=NOW, received_at=NOW, note=note,
    )  # fmt: skip


def test_one_batch_dedupes_repeats_and_counts_flaps(client: redis.Redis) -> None:
    book = AlertBook(client)
    items = [
        ("INC-1", a, "s")
        for a in (alert("f1"), alert("f1"), alert("f1", "resolved"), alert("f1"), alert("f2"))
    ]
    assert book.attach_many(items) == ["new", "deduplicated", "changed", "changed", "new"]
    entries = book.alerts("INC-1")
    assert entries["alertmanager:f1"]["transitions"] == 2 and entries["alertmanager:f1"]["status"] == "firing"
    assert book.incidents_of_fingerprints(["alertmanager:f1", "alertmanager:f9"]) == ["INC-1", None]
    assert book.dirty() == ["INC-1"]
    assert book.attach("INC-1", alert("f2", note="acknowledged"), "s") == "changed"  # a state word alone
    assert book.attach("INC-1", alert("f2", note="acknowledged"), "s") == "deduplicated"
    waits = book.mark_answered("INC-1", NOW.timestamp() + 2.5)
    assert sorted(waits) == [2.5, 2.5]
    assert book.mark_answered("INC-1", NOW.timestamp() + 9) == []  # answered once
