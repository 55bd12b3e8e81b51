"""Slack markup as readable Markdown."""

from __future__ import annotations

import pytest

from workers.postmortem.markup import plain, to_markdown

NAMES = {"U1": "Alice Moreau"}


@pytest.mark.parametrize(
    ("slack", "markdown"),
    [
        ("<!here> look", "@here look"),
        ("<!channel|channel> and <!subteam^S1|@oncall>", "@channel and @oncall"),
        ("ping <@U1>", "ping @Alice Moreau"),
        ("ping <@U9|bob>", "ping @bob"),
        ("in <#C1|inc-db>", "in #inc-db"),
        ("see <https://g.example/d/1|the board>", "see [the board](https://g.example/d/1)"),
        ("see <https://g.example/d/1>", "see https://g.example/d/1"),
        ("*down* and ~old~ and _slow_", "**down** and ~~old~~ and _slow_"),
        ("a &lt;b&gt; &amp; c", "a <b> & c"),
        ("run `kubectl get *pods*` now", "run `kubectl get *pods*` now"),
        ("2 * 3 * 4", "2 * 3 * 4"),
    ],
)
def test_slack_markup_becomes_markdown(slack: str, markdown: str) -> None:
    assert to_markdown(slack, NAMES) == markdown


def test_plain_keeps_only_the_words() -> None:
    assert plain("*pool* exhausted, see <https://x.example|graph> <@U1>", NAMES) == (
        "pool exhausted, see graph @Alice Moreau"
    )
