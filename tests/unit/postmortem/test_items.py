"""People's action items: owner and due date taken out of the text, kept first, merged with the model's."""

from __future__ import annotations

import pytest

from tests.unit.postmortem.builders import NAMES, message
from workers.postmortem.items import from_messages, merge, parse_item
from workers.postmortem.model import ActionItem


@pytest.mark.parametrize(
    ("text", "item", "owner", "due"),
    [
        ("<@U2> add an alert on pool waits by Friday", "Add an alert on pool waits", "Bruno Silva", "Friday"),
        ("@chen write the drain runbook", "Write the drain runbook", "Chen Wei", ""),
        ("@sam rotate the keys due 2026-12-18", "Rotate the keys", "sam", "2026-12-18"),
        ("add a canary stage, owner: Alice Moreau, due EOW", "Add a canary stage", "Alice Moreau", "EOW"),
        ("make review mandatory (assigned to <@U3>) before next sprint", "Make review mandatory", "Chen Wei",
         "next sprint"),
        ("pair with <@U1> on retry budgets", "Pair with @Alice Moreau on retry budgets", "Alice Moreau", ""),
        ("document the failover", "Document the failover", "", ""),
        ("@here document the failover", "@here document the failover", "", ""),
        ("write the runbook, owner: tom to lead it", "Write the runbook to lead it", "tom", ""),
    ],
)  # fmt: skip
def test_owner_and_due_date_come_out_of_the_item(text: str, item: str, owner: str, due: str) -> None:
    parsed = parse_item(text, NAMES)
    assert parsed is not None
    assert (parsed.text, parsed.owner, parsed.due, parsed.source) == (item, owner, due, "channel")


def test_items_are_read_from_prefixes_and_bullets_but_not_from_bots_or_chatter() -> None:
    messages = [
        message(1, "U1", "action item: <@U2> alert on pool waits"),
        message(2, "U2", "AI for @chen: add the runbook link to the alert"),
        message(3, "U3", "Follow-ups:\n- @alice load-test retries by Friday\n- document the drain step"),
        message(4, "U1", "we should add an alert at some point"),
        message(5, "B9", "todo: ignored, a bot wrote it"),
    ]
    got = [(i.text, i.owner, i.due) for i in from_messages(messages, NAMES)]
    assert got == [
        ("Alert on pool waits", "Bruno Silva", ""),
        ("Add the runbook link to the alert", "Chen Wei", ""),
        ("Load-test retries", "Alice Moreau", "Friday"),
        ("Document the drain step", "", ""),
    ]


def test_the_people_s_items_are_kept_and_the_model_adds_only_new_ones() -> None:
    people = [ActionItem(text="Add an alert on pool wait time", owner="Bruno Silva", source="channel")]
    model = [
        ActionItem(text="Alerting on the pool wait time", owner="Chen Wei", type="detect"),
        ActionItem(text="Load-test retry settings", source="channel"),  # the model cannot claim the channel
    ]
    merged = merge(people, model)
    assert [(i.text, i.owner, i.source) for i in merged] == [
        ("Add an alert on pool wait time", "Bruno Silva", "channel"),
        ("Load-test retry settings", "", "model"),
    ]
