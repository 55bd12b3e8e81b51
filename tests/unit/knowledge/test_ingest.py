"""Ingest: the templates' sections map to fields, ids are kept or derived, bad files name their line."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from workers.knowledge.ingest import ingest_path

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "postmortems"


def _write(folder: Path, name: str, text: str | bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def test_front_matter_id_date_lists_and_verified_fix_are_kept(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "pool.md",
        "---\nid: INC-7\ndate: 2025-09-12\nservices: payments, ledger\nverified: true\n---\n"
        "# Pool ran dry\n\n## Summary\nCheckouts failed.\n\n## Root Causes\n- retries held connections\n\n"
        "## Resolution\nReleased connections before retrying.\n",
    )
    [record] = ingest_path(tmp_path).records
    assert record.id == "INC-7" and record.title == "Pool ran dry"
    assert record.started_at == datetime(2025, 9, 12, tzinfo=UTC)
    assert record.services == ["payments", "ledger"]
    assert record.root_causes == ["retries held connections"]
    [triplet] = record.triplets
    assert triplet.verified and triplet.fix == "Released connections before retrying."


def test_each_template_style_maps_to_the_same_fields() -> None:
    report = ingest_path(FIXTURES)
    assert report.problems == [] and len(report.records) == 8
    by_id = {r.id: r for r in report.records}
    sre = by_id["FX-POOL-1"]  # Google SRE book: Root Causes / Trigger / Resolution
    assert sre.trigger.startswith("A customer exported") and sre.resolution.startswith("Killed")
    pagerduty = by_id["pool-billing"]  # no front matter: id from the file name, PagerDuty headings
    assert pagerduty.title.startswith("Invoice generation failing")
    assert pagerduty.root_causes[0].startswith("Connections were held") and len(pagerduty.action_items) == 2
    atlassian = by_id["FX-DNS-1"]  # Atlassian: Fault / Root cause / Mitigation and resolution
    assert atlassian.symptoms == ['five-second stalls on outbound calls, then "no such host"']
    assert atlassian.resolution.startswith("Raised nf_conntrack_max") and atlassian.triplets
    assert by_id["FX-DNS-2"].provenance == "json" and by_id["FX-CERT-2"].provenance == "yaml"
    signature = ["ERROR settlement-svc remote error: tls: expired certificate host=<*>"]
    assert by_id["FX-CERT-2"].log_signature == signature
    assert {p.name for p in report.skipped} == {"README.md", "queries.jsonl"}


def test_bad_files_are_reported_with_their_line_and_the_rest_is_ingested(tmp_path: Path) -> None:
    good = (FIXTURES / "oom-heap.md").read_text()
    _write(tmp_path, "good.md", good)
    _write(tmp_path, "bad-yaml.md", "---\nid: X-1\ntitle: [unclosed\n---\n# Broken\n")
    _write(tmp_path, "unclosed.md", "---\nid: X-2\ntitle: never closed\n# Heading\n")
    _write(tmp_path, "bad.json", '{\n  "id": "X-3",\n  "title": "t",\n  oops\n}\n')
    _write(tmp_path, "bad-id.yaml", "title: fine\nid: 'has spaces in it'\n")
    _write(tmp_path, "binary.md", b"\xff\xfe\x00garbage")
    _write(tmp_path, "dup.md", good.replace("Indexer heap", "Another heap"))
    report = ingest_path(tmp_path)
    problems = {p.path.name: (p.line, p.message) for p in report.problems}
    assert problems["bad-yaml.md"][0] == 3 and "malformed YAML" in problems["bad-yaml.md"][1]
    assert problems["unclosed.md"] == (1, "front matter opened with --- is never closed")
    assert problems["bad.json"][0] == 4 and "malformed JSON" in problems["bad.json"][1]
    assert problems["bad-id.yaml"][0] == 2 and "id" in problems["bad-id.yaml"][1]
    assert problems["binary.md"][0] is None and "cannot read" in problems["binary.md"][1]
    assert "duplicate id 'FX-OOM-2'" in problems["good.md" if "good.md" in problems else "dup.md"][1]
    assert [r.id for r in report.records] == ["FX-OOM-2"]


def test_boilerplate_and_hidden_folders_are_skipped_unless_named(tmp_path: Path) -> None:
    body = "## Summary\nx\n\n## Root cause\ny\n\n## Resolution\nz\n"
    _write(tmp_path, "README.md", "# About\n" + body)
    _write(tmp_path, "templates/postmortem.md", "# Template\n" + body)
    _write(tmp_path, ".git/notes.md", "# Hidden\n" + body)
    _write(tmp_path, "notes.md", "# Meeting notes\nnothing incident-like here\n")
    _write(tmp_path, "real.md", "# Real one\n" + body)
    report = ingest_path(tmp_path)
    assert [r.id for r in report.records] == ["real"]
    assert ".git" not in {p.parent.name for p in report.skipped}
    assert [r.id for r in ingest_path(tmp_path / "README.md").records] == ["readme"]
