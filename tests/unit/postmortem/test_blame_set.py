"""The labelled blame set holds the issue's bar on both splits (0.9 recall and precision for the
"blames someone" class); `tests/benchmarks/bench_blame.py` prints the figures beside the previous
version."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workers.postmortem.blameless import blames, first_names

DATA = Path(__file__).resolve().parents[2] / "fixtures" / "blame" / "sentences.jsonl"
PEOPLE = {
    "dev": first_names(
        ["Alice Moreau", "Bruno Silva", "Chen Wei", "Dana Okafor", "Priya Nair", "Tom Becker"]
    ),
    "heldout": first_names(["Gabriel Costa", "Hana Sato", "Omar Haddad", "Leila Rahimi"]),
}


@pytest.mark.parametrize("split", ["dev", "heldout"])
def test_blame_recall_and_precision_meet_the_bar(split: str) -> None:
    rows = [json.loads(line) for line in DATA.read_text().splitlines() if line.strip()]
    found = [
        (row["blame"], blames(row["text"], PEOPLE[split]) is not None)
        for row in rows
        if row["split"] == split
    ]
    tp = sum(label and got for label, got in found)
    assert len(found) >= 80 and sum(label for label, _ in found) >= 40
    assert tp / sum(label for label, _ in found) >= 0.9  # recall
    assert tp / sum(got for _, got in found) >= 0.9  # precision
