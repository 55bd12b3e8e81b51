"""The blameless check flags sentences that pin a failure on a person, not those about systems."""

from __future__ import annotations

import pytest

from workers.postmortem.blameless import check, first_names

PEOPLE = first_names(["Bruno Silva", "Alice Moreau"])


@pytest.mark.parametrize(
    "sentence",
    [
        "Bruno made a typo in the config.",
        "<@U0BRUNO> forgot to run the migration.",
        "She should have checked the dashboard first.",
        "Alice didn't test the rollback.",
        "It was human error by someone on the team.",
        "Bruno Silva was careless with the flag.",
    ],
)
def test_blaming_sentences_are_flagged_with_a_systems_framing(sentence: str) -> None:
    flags, notes = check([("went badly", f"The deploy went out. {sentence} Then it broke.")], PEOPLE)
    assert [f.sentence for f in flags] == [sentence] and flags[0].where == "went badly"
    assert flags[0].why.startswith("names a person with") and len(flags[0].suggestion) > 20
    assert any(n.startswith("Attribution bias: 1 sentence") for n in notes)


@pytest.mark.parametrize(
    "sentence",
    [
        "The config change had a typo that no validation caught.",
        "The migration step was not in the deploy checklist.",
        "Bruno rolled back the release at 10:42.",
        "The pool was exhausted by retries.",
    ],
)
def test_sentences_about_systems_or_neutral_facts_are_not_flagged(sentence: str) -> None:
    flags, notes = check([("summary", sentence)], PEOPLE)
    assert flags == [] and not any(n.startswith("Attribution") for n in notes)


def test_hindsight_words_are_noted_where_they_appear() -> None:
    _flags, notes = check([("what went badly", "Obviously the cache was the problem.")], PEOPLE)
    assert any(
        n.startswith("Words like")
        and n.endswith("knowledge the responders did not have.")
        and "appear in: what went badly." in n
        for n in notes
    )


def test_first_names_are_added_for_full_names() -> None:
    assert first_names(["Bruno Silva", "ops-bot", "Al Li"]) == ["Bruno Silva", "Bruno", "ops-bot", "Al Li"]


@pytest.mark.parametrize(
    ("sentence", "cue"),
    [
        ("Bruno pushed the bad config without review, classic Bruno.", "classic"),
        ("The on-call ignored the page for twenty minutes.", "ignored"),
        ("Whoever merged this didn't read the diff.", "didn't read"),
        ("Great job Alice, checkout is down again.", "again"),
        ("The intern was careless with the flag.", "careless"),
        ("Alice deployed on a Friday, as usual.", "as usual"),
    ],
)
def test_blame_by_name_or_role_in_its_common_forms_is_flagged(sentence: str, cue: str) -> None:
    flags, _notes = check([("appendix 10:00:00", sentence)], PEOPLE)
    assert [f.sentence for f in flags] == [sentence] and cue in flags[0].why


@pytest.mark.parametrize(
    "sentence",
    [
        "Thanks Alice for the quick rollback, checkout is recovering.",
        "The on-call acknowledged the page within two minutes.",
        "The config was applied without review because the pipeline allows direct pushes.",
        "Bruno deployed v42 at 16:02 as part of the weekly release.",
        "Alice confirmed customers can pay again.",
        "Bruno is on it.",
        "Alice, can you check again?",
        "Bruno says the database is seriously overloaded.",
    ],
)
def test_neutral_mentions_of_people_and_roles_are_left_alone(sentence: str) -> None:
    assert check([("appendix 10:00:00", sentence)], PEOPLE)[0] == []
