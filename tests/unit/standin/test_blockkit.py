from typing import Any

import pytest

from bot.standin.blockkit import validate_blocks, validate_message_text


def plain(text: str) -> dict[str, str]:
    return {"type": "plain_text", "text": text}


def mrkdwn(text: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": text}


def button(**overrides: Any) -> dict[str, Any]:
    return {"type": "button", "text": plain("Approve"), "action_id": "approve", "value": "1", **overrides}


def test_a_typical_triage_message_is_valid() -> None:
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": plain("SEV2: checkout 5xx")},
        {"type": "section", "text": mrkdwn("*Likely cause* bad deploy"), "accessory": button()},
        {"type": "section", "fields": [mrkdwn("*Service*\ncheckout"), mrkdwn("*Owner*\n<@U1>")]},
        {"type": "divider"},
        {
            "type": "context",
            "elements": [
                mrkdwn("from logs"),
                {"type": "image", "image_url": "https://x/i.png", "alt_text": "i"},
            ],
        },
        {
            "type": "actions",
            "elements": [button(), button(action_id="deny", style="danger", url="https://x")],
        },
        {"type": "image", "image_url": "https://x/graph.png", "alt_text": "error rate"},
        {"type": "rich_text", "elements": [{"type": "rich_text_section", "elements": []}]},
        {"type": "markdown", "text": "**done**"},
        {"type": "input", "label": plain("Note"), "element": {"type": "plain_text_input", "action_id": "n"}},
    ]
    assert validate_blocks(blocks) == []


@pytest.mark.parametrize(
    ("blocks", "pointer", "expected"),
    [
        ([{"type": "divider"}] * 51, "/blocks", "at most 50 items"),
        ([{"type": "carousel"}], "/blocks/0/type", "unknown block type"),
        ([{"type": "divider", "block_id": "b" * 256}], "/blocks/0/block_id", "at most 255 characters"),
        ([{"type": "section"}], "/blocks/0", "text or fields"),
        ([{"type": "section", "text": mrkdwn("x" * 3001)}], "/blocks/0/text/text", "at most 3000"),
        ([{"type": "section", "fields": [mrkdwn("x")] * 11}], "/blocks/0/fields", "at most 10 items"),
        ([{"type": "section", "fields": [mrkdwn("x" * 2001)]}], "/blocks/0/fields/0/text", "at most 2000"),
        (
            [{"type": "section", "text": {"type": "html", "text": "x"}}],
            "/blocks/0/text/type",
            "must be one of",
        ),
        ([{"type": "section", "text": mrkdwn("")}], "/blocks/0/text/text", "non-empty"),
        ([{"type": "header", "text": mrkdwn("x")}], "/blocks/0/text/type", "plain_text"),
        ([{"type": "header", "text": plain("x" * 151)}], "/blocks/0/text/text", "at most 150"),
        ([{"type": "context", "elements": [mrkdwn("x")] * 11}], "/blocks/0/elements", "at most 10 items"),
        ([{"type": "actions", "elements": [button()] * 26}], "/blocks/0/elements", "at most 25 items"),
        ([{"type": "actions", "elements": []}], "/blocks/0/elements", "non-empty array"),
        (
            [{"type": "actions", "elements": [button(text=plain("x" * 76))]}],
            "/elements/0/text/text",
            "at most 75",
        ),
        (
            [{"type": "actions", "elements": [button(action_id="a" * 256)]}],
            "/elements/0/action_id",
            "at most 255",
        ),
        ([{"type": "actions", "elements": [button(value="v" * 2001)]}], "/elements/0/value", "at most 2000"),
        ([{"type": "actions", "elements": [button(url="u" * 3001)]}], "/elements/0/url", "at most 3000"),
        ([{"type": "markdown", "text": "m" * 12001}], "/blocks/0/text", "at most 12000"),
        ([{"type": "image", "image_url": "https://x/i.png"}], "/blocks/0/alt_text", "non-empty"),
    ],
)
def test_each_limit_is_reported_with_its_location(
    blocks: list[dict[str, Any]], pointer: str, expected: str
) -> None:
    [problem] = validate_blocks(blocks)
    assert expected in problem
    assert pointer in problem.partition("[json-pointer:")[2]


def test_every_problem_is_reported() -> None:
    blocks = [{"type": "header", "text": plain("x" * 151)}, {"type": "section"}, "not a block"]
    assert len(validate_blocks(blocks)) == 3  # type: ignore[arg-type]


def test_message_text_limit() -> None:
    assert validate_message_text("x" * 40_000) == []
    [problem] = validate_message_text("x" * 40_001)
    assert problem.startswith("msg_too_long")
