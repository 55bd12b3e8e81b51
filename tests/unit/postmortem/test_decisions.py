"""The decision tree's final states, from clicks, the board and people's own hypotheses."""

from __future__ import annotations

from tests.unit.postmortem.builders import at, gathered
from workers.postmortem.decisions import decision_tree

SUMMARY = "Killed the slow report query; the database pool drained"


def _tree(summary: str = SUMMARY, **overrides: object) -> dict[str, object]:
    return {n.id: n for n in decision_tree(gathered(**overrides), at(90), summary)}


def test_every_hypothesis_gets_its_final_state_and_why() -> None:
    tree = _tree()
    assert sorted(tree) == ["H1", "H2", "H3", "P1"]
    h1, h2, h3, p1 = tree["H1"], tree["H2"], tree["H3"], tree["P1"]
    assert (
        h1.state == "confirmed" and h1.decided_at == at(20) and "Support from Bruno Silva" in h1.evidence_for
    )
    assert h2.state == "dropped" and h2.decided_at == at(25) and h2.minutes == 15.0
    assert h3.state == "rejected" and h3.decided_at == at(24)  # the latest click of each person counts
    assert h3.evidence_against == ["Reject from Chen Wei", "Reject from Alice Moreau"] and not [
        e for e in h3.evidence_for if e.startswith("Support")
    ]
    assert p1.state == "rejected" and p1.raised_by == "Bruno Silva" and p1.minutes == 7.0
    assert p1.why == "Chen Wei: ruled out: LB logs show no resets"


def test_without_clicks_a_hypothesis_is_confirmed_only_when_the_summary_restates_it() -> None:
    no_clicks = [e for e in gathered().events if not e["kind"].startswith("verdict_")]
    assert _tree(events=no_clicks)["H1"].state == "confirmed"
    unrelated = _tree("Restarted the pods", events=no_clicks)
    assert unrelated["H1"].state == "open" and unrelated["H1"].minutes == 80.0  # raised at 10, resolved at 90
    assert unrelated["H3"].state == "open"


def test_a_hypothesis_that_left_the_board_but_is_still_in_the_timeline_is_kept() -> None:
    tree = _tree(dropped=[])
    assert tree["H2"].state == "dropped" and tree["H2"].statement == "disk full on the orders database host"
