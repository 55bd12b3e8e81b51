"""Ingest: front matter, the three template styles, JSON/YAML, bad files with their line, what is skipped."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from workers.knowledge.ingest import ingest_path
from workers.knowledge.model import IncidentRecord

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "postmortems"


def _write(folder: Path, name: str, text: str | bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def _one(path: Path) -> IncidentRecord:
    report = ingest_path(path)
    assert report.problems == []
    [record] = report.records
    return record


# --- front matter, ids and titles -------------------------------------------------------------------

FRONT_MATTER = """\
---
id: INC-2025-031
title: Ledger writes stalled
date: 2025-09-12
services: [ledger-api, ledger-db]
tags: [database, connection-pool]
severity: SEV-2
verified: true
owner: team-ledger
---

# A heading that is not the title

## Summary
Ledger writes queued for half an hour.

## Root Causes
- a retry loop held connections while sleeping

## Resolution
Released connections before sleeping between retries.
"""


def test_front_matter_keeps_the_id_date_lists_and_marks_the_fix_verified(tmp_path: Path) -> None:
    record = _one(_write(tmp_path, "ledger.md", FRONT_MATTER))
    assert record.id == "INC-2025-031" and record.title == "Ledger writes stalled"
    assert record.started_at == datetime(2025, 9, 12, tzinfo=UTC)
    assert record.services == ["ledger-api", "ledger-db"]
    assert record.tags == ["database", "connection-pool"] and record.severity == "SEV-2"
    assert record.provenance == "markdown" and record.source_file == "ledger.md"
    assert "owner: team-ledger" in record.body  # unknown keys stay searchable
    [triplet] = record.triplets  # the fix text does not say "verified"; the front matter does
    assert triplet.verified
    assert triplet.symptom == "Ledger writes queued for half an hour."
    assert triplet.root_cause == "a retry loop held connections while sleeping"
    assert triplet.fix == "Released connections before sleeping between retries."


@pytest.mark.parametrize(
    ("flag", "fix", "verified"),
    [
        ("'false'", "Restarted it.", False),  # a quoted "false" is not true
        ("no", "Restarted it.", False),
        ("'yes'", "Restarted it.", True),
        ("false", "Restarted it; confirmed fixed by a load test.", True),  # the text says so
        ("false", "Restarted it; not yet verified.", False),
    ],
)
def test_verified_comes_from_the_flag_or_the_fix_text(
    tmp_path: Path, flag: str, fix: str, verified: bool
) -> None:
    text = FRONT_MATTER.replace("verified: true", f"verified: {flag}").replace(
        "Released connections before sleeping between retries.", fix
    )
    assert _one(_write(tmp_path, "ledger.md", text)).triplets[0].verified is verified


def test_without_front_matter_the_id_is_the_file_name_and_the_title_the_heading(tmp_path: Path) -> None:
    text = (
        "# Ledger pool ran dry at month end\n\nIntro paragraph before any section.\n\n"
        "## Root cause\nBatch jobs shared the request pool.\n\n"
        "## Resolution\nGave batch jobs their own pool.\n"
    )
    record = _one(_write(tmp_path, "2024-03 Ledger Pool.md", text))
    assert record.id == "2024-03-ledger-pool"
    assert record.title == "Ledger pool ran dry at month end"
    assert record.summary == "Intro paragraph before any section."  # text before the first section
    assert record.started_at is None and record.services == []
    untitled = _one(_write(tmp_path / "b", "cache_stampede-2.md", text.split("\n", 1)[1]))
    assert untitled.id == "cache_stampede-2" and untitled.title == "cache stampede 2"


# --- the three template styles ------------------------------------------------------------------------

SRE_BOOK = """\
# Shopping cart outage (incident #412)

### Date
2025-02-03

### Summary
The cart service returned errors for 35 minutes after a cache cluster lost its primary.

### Impact
- 12% of add-to-cart requests failed
- checkout conversion dropped by a third

### Root Causes
- the cart client had no timeout on cache reads
- the failover took longer than the client's retry budget

### Trigger
Planned maintenance rebooted the cache primary.

### Resolution
Added a 50 ms timeout on cache reads and fell back to the database; confirmed by a second failover test.

### Detection
Synthetic checks paged after six minutes.

## Action Items
- Timeouts on every cache call
- Failover drill every quarter

## Lessons Learned
### What went well
The fallback path already existed.

## Log signature
- `cache read timed out after <DURATION> key=<*>`
"""

PAGERDUTY = """\
# Alert delivery delayed

## Overview
Notifications were delivered up to 20 minutes late for part of the morning.

## What Happened
A runaway query on the primary database slowed every write.

## Root Cause(s):
A reporting query without a limit scanned the events table during peak hours.

## Resolution:
Killed the query and moved reporting to a replica.

## Impact
| Metric | Value |
|---|---|
| Notifications late | 4,100 |
| Accounts affected | 230 |

## Responders
Incident commander: on-call for the platform team.

## Action Items
1. Statement timeout on the primary
2. Reporting only on replicas
"""

ATLASSIAN = """\
---
id: ATL-7
---
# Login latency incident

## Incident summary
Sign-ins took more than ten seconds for about an hour.

## Leadup
A new password hashing cost was deployed the previous evening.

## Fault
- CPU on the auth pods pinned at their limit
- sign-in requests queued behind hashing

## Impact
Roughly 40% of sign-ins were abandoned.

## Five whys
1. Why slow? CPU-bound hashing.

## Root cause
The hashing cost was raised fourfold without resizing the auth pods.

## Mitigation and resolution
Lowered the hashing cost back and doubled the auth pod CPU limit.

## Corrective actions
| Action | Owner |
|---|---|
| Load-test security parameter changes | auth team |
| Autoscale auth pods on CPU | platform |
"""


def test_sre_book_sections(tmp_path: Path) -> None:
    r = _one(_write(tmp_path, "cart-outage.md", SRE_BOOK))
    assert r.id == "cart-outage" and r.title == "Shopping cart outage (incident #412)"
    assert r.summary.startswith("The cart service returned errors")
    assert r.symptoms == ["12% of add-to-cart requests failed", "checkout conversion dropped by a third"]
    assert r.root_causes == [
        "the cart client had no timeout on cache reads",
        "the failover took longer than the client's retry budget",
    ]
    assert r.trigger == "Planned maintenance rebooted the cache primary."
    assert r.resolution.startswith("Added a 50 ms timeout") and "Synthetic checks" not in r.resolution
    assert r.action_items == ["Timeouts on every cache call", "Failover drill every quarter"]
    assert r.log_signature == ["cache read timed out after <DURATION> key=<*>"]
    assert "Synthetic checks paged" in r.body and "The fallback path already existed." in r.body
    [t] = r.triplets
    assert t.symptom == "12% of add-to-cart requests failed; checkout conversion dropped by a third"
    assert t.root_cause.startswith("the cart client had no timeout") and t.fix == r.resolution
    assert t.verified  # "confirmed by a second failover test"


def test_pagerduty_sections(tmp_path: Path) -> None:
    r = _one(_write(tmp_path, "alert-delay.md", PAGERDUTY))
    assert r.summary == "Notifications were delivered up to 20 minutes late for part of the morning."
    assert r.root_causes == ["A reporting query without a limit scanned the events table during peak hours."]
    assert r.resolution == "Killed the query and moved reporting to a replica."
    assert r.symptoms == ["Notifications late | 4,100", "Accounts affected | 230"]  # table rows of Impact
    assert r.action_items == ["Statement timeout on the primary", "Reporting only on replicas"]
    assert "A runaway query on the primary database" in r.body  # "What Happened" is kept, searchable
    assert "Incident commander" in r.body
    [t] = r.triplets
    assert t.root_cause == r.root_causes[0] and t.fix == r.resolution and not t.verified


def test_atlassian_sections(tmp_path: Path) -> None:
    r = _one(_write(tmp_path, "login.md", ATLASSIAN))
    assert r.id == "ATL-7" and r.title == "Login latency incident"
    assert r.summary == "Sign-ins took more than ten seconds for about an hour."
    assert r.trigger == "A new password hashing cost was deployed the previous evening."
    # the fault (what failed) is the symptom, not the impact (who noticed)
    assert r.symptoms == [
        "CPU on the auth pods pinned at their limit",
        "sign-in requests queued behind hashing",
    ]
    assert r.root_causes == ["The hashing cost was raised fourfold without resizing the auth pods."]
    assert r.resolution == "Lowered the hashing cost back and doubled the auth pod CPU limit."
    assert r.action_items == [
        "Load-test security parameter changes | auth team",
        "Autoscale auth pods on CPU | platform",
    ]
    assert "Roughly 40% of sign-ins were abandoned." in r.body and "Why slow?" in r.body
    [t] = r.triplets
    assert t.symptom.startswith("CPU on the auth pods") and t.fix == r.resolution


@pytest.mark.parametrize(
    ("heading", "field"),
    [
        ("Recovery", "resolution"),
        ("Resolution and recovery", "resolution"),
        ("Mitigation & Resolution", "resolution"),
        ("2. Root Cause(s)", "root_causes"),
        ("What caused the incident?", "root_causes"),
        ("Follow-up tasks", "action_items"),
        ("Corrective and Preventative Measures", "action_items"),
        ("Trigger(s)", "trigger"),
        ("Lead-up", "trigger"),
    ],
)
def test_heading_variants_map_to_their_field(tmp_path: Path, heading: str, field: str) -> None:
    text = (
        f"# T\n\n## Summary\nSomething broke.\n\n## Impact\nUsers saw errors.\n\n## {heading}\n- the value\n"
    )
    value = getattr(_one(_write(tmp_path, "x.md", text)), field)
    assert value in ("- the value", ["the value"])


# --- JSON and YAML ------------------------------------------------------------------------------------


def test_json_and_yaml_records_single_and_lists(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "one.json",
        json.dumps(
            {
                "id": "J-1",
                "title": "json one",
                "date": "2025-08-19",
                "services": "search-frontend, coredns",
                "tags": "dns,latency",
                "root_causes": "first cause\nsecond cause",
            }
        ),
    )
    _write(tmp_path, "many.json", json.dumps([{"id": "J-2", "title": "a"}, {"id": "J-3", "title": "b"}]))
    _write(
        tmp_path,
        "one.yaml",
        "id: Y-1\ntitle: yaml one\ndate: 2025-08-19\nservices: settlement-svc, bank-gateway\n"
        "resolved_at: 2025-08-19 10:30:00\n",
    )
    _write(tmp_path, "sub/many.yml", "- id: Y-2\n  title: a\n- id: 42\n  title: numeric id\n")
    report = ingest_path(tmp_path)
    assert report.problems == []
    by_id = {r.id: r for r in report.records}
    assert sorted(by_id) == ["42", "J-1", "J-2", "J-3", "Y-1", "Y-2"]
    j, y = by_id["J-1"], by_id["Y-1"]
    midnight = datetime(2025, 8, 19, tzinfo=UTC)
    assert j.started_at == midnight and y.started_at == midnight  # a JSON string and a YAML date agree
    assert j.started_at.tzinfo is not None and y.started_at.tzinfo is not None
    assert y.resolved_at == datetime(2025, 8, 19, 10, 30, tzinfo=UTC)  # no zone means UTC
    assert j.services == ["search-frontend", "coredns"] and j.tags == ["dns", "latency"]
    assert y.services == ["settlement-svc", "bank-gateway"]
    assert j.root_causes == ["first cause", "second cause"]
    assert (j.provenance, y.provenance, by_id["Y-2"].provenance) == ("json", "yaml", "yaml")
    assert by_id["Y-2"].source_file == "sub/many.yml"
    files = {f.path.name: f for f in report.files}
    assert files["many.json"].record_ids == ["J-2", "J-3"]
    assert "services" in files["one.json"].fields_found and "resolution" not in files["one.json"].fields_found


# --- bad input: reported with its line, skipped, the rest ingested ---------------------------------------

GOOD = "---\nid: GOOD-1\ntitle: good one\n---\n# good\n\n## Summary\nfine\n\n## Root cause\nx\n"
BAD = [
    ("bracket.md", "---\nid: B-1\ntitle: [unclosed\nservices: [a]\n---\n# B\n", 3, "malformed YAML"),
    ("bracket-last.md", "---\nid: B-2\nservices: [a, b\n---\n# B\n", 3, "malformed YAML"),
    ("unclosed.md", "---\nid: B-3\ntitle: never closed\n# B\n\n## Summary\nx\n", 1, "never closed"),
    ("list-front.md", "---\n- a\n- b\n---\n# B\n", 2, "must be a mapping"),
    ("bad.json", '{\n  "id": "B-4",\n  "title": "t"\n  "summary": "s"\n}\n', 4, "malformed JSON"),
    ("quote.yaml", "id: B-5\ntitle: 'no closing quote\nsummary: s\n", 2, "malformed YAML"),
    ("indent.yaml", "id: B-6\ntitle: t\nservices:\n  - a\n bad: 1\n", 5, "malformed YAML"),
    ("bad-id.yaml", "title: fine\nid: 'has spaces'\n", 2, "invalid record: id"),
    ("bad-id.md", "---\ntitle: t\nid: no/slashes\n...\n# B\n\nText.\n\n---\n\nMore.\n", 3, "record: id"),
    ("bad-date.md", "---\nid: B-7\ndate: last tuesday\n---\n# B\n", 3, "invalid record: started_at"),
    ("bad-item.json", '[\n {"id": "B-8", "title": "a"},\n {"id": "B 9",\n  "title": "b"}\n]\n', 3, "id"),
    ("nested.yaml", "id: B-10\ntitle: t\nservices:\n  - a\n  - {b: 1}\n", 5, "services.1"),
    ("mixed.yaml", "- id: B-12\n  title: a\n- just a string\n", 3, "expected a record"),
    ("no-id.json", '[{"id": "B-13", "title": "a"},\n {"name": "b"}]', 2, "invalid record: id"),
    ("dup-inside.yaml", "- id: B-11\n  title: a\n- id: B-11\n  title: b\n", 3, "duplicate id 'B-11'"),
    ("latin1.md", "# T\n\n## Summary\nok\n\n## Root cause\ncaf\xe9\n".encode("latin-1"), 7, "not UTF-8"),
    ("image.md", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", 1, "not UTF-8"),
]


@pytest.mark.parametrize(("name", "text", "line", "message"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_file_is_reported_with_its_line_and_skipped(
    tmp_path: Path, name: str, text: str | bytes, line: int, message: str
) -> None:
    _write(tmp_path, "good.md", GOOD)
    bad = _write(tmp_path, name, text)
    report = ingest_path(tmp_path)
    [problem] = report.problems
    assert problem.path == bad and problem.line == line and message in problem.message
    assert [r.id for r in report.records] == ["GOOD-1"]
    assert next(f for f in report.files if f.path == bad).records == []


def test_every_bad_file_of_a_folder_is_reported_and_the_good_ones_ingested(tmp_path: Path) -> None:
    for name, text, _, _ in BAD:
        _write(tmp_path / "pm", name, text)
    for f in FIXTURES.iterdir():
        _write(tmp_path / "pm", f.name, f.read_bytes())
    report = ingest_path(tmp_path / "pm")
    assert {p.path.name: p.line for p in report.problems} == {name: line for name, _, line, _ in BAD}
    assert len(report.records) == 16


def test_a_duplicate_id_across_files_keeps_the_first_file(tmp_path: Path) -> None:
    _write(tmp_path, "a-first.md", GOOD)
    _write(tmp_path, "b-second.yaml", "id: GOOD-1\ntitle: same id, other file\n")
    _write(tmp_path, "c-third.json", '{"id": "OTHER-1", "title": "fine"}')
    report = ingest_path(tmp_path)
    [problem] = report.problems
    assert problem.path.name == "b-second.yaml"
    assert "duplicate id 'GOOD-1'" in problem.message and "a-first.md" in problem.message
    assert sorted((r.id, r.title) for r in report.records) == [("GOOD-1", "good one"), ("OTHER-1", "fine")]


# --- what is skipped ------------------------------------------------------------------------------------

SECTIONS = "## Summary\nx\n\n## Root cause\ny\n\n## Resolution\nz\n"


def test_non_postmortems_are_skipped_and_hidden_folders_not_entered(tmp_path: Path) -> None:
    _write(tmp_path, "README.md", "# About\n" + SECTIONS)
    _write(tmp_path, "LICENSE.md", "# License\n" + SECTIONS)
    _write(tmp_path, "templates/postmortem.md", "# Template\n" + SECTIONS)
    _write(tmp_path, "postmortem-template.md", "# Template\n" + SECTIONS)
    _write(tmp_path, ".git/notes.md", "# Hidden\n" + SECTIONS)
    _write(tmp_path, ".github/ISSUE_TEMPLATE.md", "# Hidden\n" + SECTIONS)
    _write(tmp_path, ".hidden.md", "# Hidden file\n" + SECTIONS)
    _write(tmp_path, "notes.md", "# Meeting notes\n\n## Summary\nWe met.\n\n## Agenda\nNothing broke.\n")
    _write(tmp_path, "script.py", "print('not a postmortem')\n")
    _write(tmp_path, "package.json", '{"name": "docs-site", "version": "1.0.0"}')
    _write(tmp_path, "mkdocs.yml", "site_name: Postmortems\nnav: []\n")
    _write(tmp_path, "2025/real.md", "# Real one\n" + SECTIONS)
    report = ingest_path(tmp_path)
    assert [r.id for r in report.records] == ["real"] and report.problems == []
    skipped = {p.relative_to(tmp_path).as_posix() for p in report.skipped}
    assert skipped == {
        "README.md", "LICENSE.md", "templates/postmortem.md", "postmortem-template.md", ".hidden.md",
        "notes.md", "script.py", "package.json", "mkdocs.yml",
    }  # fmt: skip
    assert [f.path.name for f in report.files] == ["real.md"]


def test_a_file_given_explicitly_is_always_parsed(tmp_path: Path) -> None:
    readme = _write(tmp_path, "README.md", "# About\n" + SECTIONS)
    template = _write(tmp_path, "templates/postmortem.md", "# Template\n" + SECTIONS)
    assert [r.id for r in ingest_path(readme).records] == ["readme"]
    assert [r.id for r in ingest_path(template).records] == ["postmortem"]
    assert ingest_path(template).records[0].source_file == "postmortem.md"
    report = ingest_path(_write(tmp_path, "package.json", '{"name": "docs-site"}'))
    [problem] = report.problems  # not silently skipped: it is not a record
    assert problem.path.name == "package.json" and "invalid record" in problem.message


# --- the project's labelled fixtures -------------------------------------------------------------------


def test_the_fixture_postmortems_ingest_without_problems() -> None:
    report = ingest_path(FIXTURES)
    assert report.problems == []
    assert {p.name for p in report.skipped} == {"README.md", "queries.jsonl"}
    records = {r.id: r for r in report.records}
    assert len(records) == 16
    assert Counter(r.provenance for r in records.values()) == {"markdown": 14, "json": 1, "yaml": 1}
    for r in records.values():
        assert 1 <= len(r.log_signature) <= 3 and any("<" in t for t in r.log_signature), r.id
        assert r.root_causes and r.resolution, r.id
    queries = [json.loads(line) for line in (FIXTURES / "queries.jsonl").read_text().splitlines() if line]
    assert len(queries) == 24
    titles = {r.title.lower() for r in records.values()}
    for q in queries:
        assert set(q["relevant"]) <= set(records) and 2 in q["relevant"].values()
        assert q["signature"] and q["service"] and q["text"].lower() not in titles
    graded = Counter(rid for q in queries for rid, g in q["relevant"].items() if g == 2)
    assert set(graded) == set(records)  # every record is the answer to some query
