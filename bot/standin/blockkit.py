"""Block Kit checks the stand-in applies before accepting a message, with Slack's published limits.

Problems read like Slack's own ``invalid_blocks`` messages: what is wrong, then a JSON pointer to where.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

MAX_BLOCKS = 50
MAX_MESSAGE_TEXT = 40_000
MAX_BLOCK_ID = 255
MAX_ACTION_ID = 255

# (block or element type, field) -> maximum length, in characters or items.
LIMITS: dict[tuple[str, str], int] = {
    ("section", "text"): 3000,
    ("section", "fields"): 10,
    ("section", "field"): 2000,
    ("header", "text"): 150,
    ("context", "elements"): 10,
    ("actions", "elements"): 25,
    ("image", "image_url"): 3000,
    ("image", "alt_text"): 2000,
    ("image", "title"): 2000,
    ("markdown", "text"): 12000,
    ("input", "label"): 2000,
    ("input", "hint"): 2000,
    ("button", "text"): 75,
    ("button", "value"): 2000,
    ("button", "url"): 3000,
}

BLOCK_TYPES = frozenset(
    {"section", "header", "context", "divider", "actions", "image", "rich_text", "markdown", "input"}
)
TEXT_TYPES = frozenset({"plain_text", "mrkdwn"})


def validate_blocks(blocks: list[dict[str, Any]]) -> list[str]:
    """Return every problem Slack would report for these blocks; an empty list means valid."""
    if not isinstance(blocks, list):
        return [_problem("/blocks", "must be an array")]
    problems = []
    if len(blocks) > MAX_BLOCKS:
        problems.append(_problem("/blocks", f"must have at most {MAX_BLOCKS} items, got {len(blocks)}"))
    for index, block in enumerate(blocks):
        problems.extend(_check_block(block, f"/blocks/{index}"))
    return problems


def validate_message_text(text: str) -> list[str]:
    """Return ``msg_too_long`` when the top-level ``text`` is beyond what Slack accepts."""
    if len(text) > MAX_MESSAGE_TEXT:
        return [f"msg_too_long: text has {len(text)} characters, the limit is {MAX_MESSAGE_TEXT}"]
    return []


def _problem(path: str, message: str) -> str:
    return f"{message} [json-pointer:{path}]"


def _too_long(path: str, value: Any, limit: int, unit: str = "characters") -> Iterator[str]:
    if value is not None and len(value) > limit:
        yield _problem(path, f"must be at most {limit} {unit}, got {len(value)}")


def _check_block(block: Any, path: str) -> Iterator[str]:
    if not isinstance(block, dict):
        yield _problem(path, "must be an object")
        return
    kind = block.get("type")
    if kind not in BLOCK_TYPES:
        yield _problem(f"{path}/type", f"unknown block type {kind!r}")
        return
    yield from _too_long(f"{path}/block_id", block.get("block_id"), MAX_BLOCK_ID)
    if kind in _BLOCK_CHECKS:  # a divider has nothing more to check
        yield from _BLOCK_CHECKS[kind](block, path)


def _check_section(block: dict[str, Any], path: str) -> Iterator[str]:
    text, fields = block.get("text"), block.get("fields")
    if text is None and not fields:
        yield _problem(path, "must have text or fields")
    if text is not None:
        yield from _check_text(text, f"{path}/text", LIMITS["section", "text"])
    if fields is not None:
        if not isinstance(fields, list):
            yield _problem(f"{path}/fields", "must be an array")
            return
        yield from _too_long(f"{path}/fields", fields, LIMITS["section", "fields"], "items")
        for index, field in enumerate(fields):
            yield from _check_text(field, f"{path}/fields/{index}", LIMITS["section", "field"])
    if "accessory" in block:
        yield from _check_element(block["accessory"], f"{path}/accessory")


def _check_header(block: dict[str, Any], path: str) -> Iterator[str]:
    yield from _check_text(block.get("text"), f"{path}/text", LIMITS["header", "text"], plain_only=True)


def _check_context(block: dict[str, Any], path: str) -> Iterator[str]:
    elements = block.get("elements")
    yield from _check_element_list(elements, path, LIMITS["context", "elements"])
    for index, element in enumerate(elements if isinstance(elements, list) else []):
        element_path = f"{path}/elements/{index}"
        if isinstance(element, dict) and element.get("type") == "image":
            yield from _check_image(element, element_path)
        else:
            yield from _check_text(element, element_path, limit=None)


def _check_actions(block: dict[str, Any], path: str) -> Iterator[str]:
    elements = block.get("elements")
    yield from _check_element_list(elements, path, LIMITS["actions", "elements"])
    for index, element in enumerate(elements if isinstance(elements, list) else []):
        yield from _check_element(element, f"{path}/elements/{index}")


def _check_image(block: dict[str, Any], path: str) -> Iterator[str]:
    if not block.get("image_url") and not block.get("slack_file"):
        yield _problem(path, "must have image_url or slack_file")
    if not block.get("alt_text"):
        yield _problem(f"{path}/alt_text", "must be a non-empty string")
    yield from _too_long(f"{path}/image_url", block.get("image_url"), LIMITS["image", "image_url"])
    yield from _too_long(f"{path}/alt_text", block.get("alt_text"), LIMITS["image", "alt_text"])
    if "title" in block:
        yield from _check_text(block["title"], f"{path}/title", LIMITS["image", "title"], plain_only=True)


def _check_rich_text(block: dict[str, Any], path: str) -> Iterator[str]:
    if not isinstance(block.get("elements"), list):
        yield _problem(f"{path}/elements", "must be an array")


def _check_markdown(block: dict[str, Any], path: str) -> Iterator[str]:
    text = block.get("text")
    if not isinstance(text, str) or not text:
        yield _problem(f"{path}/text", "must be a non-empty string")
        return
    yield from _too_long(f"{path}/text", text, LIMITS["markdown", "text"])


def _check_input(block: dict[str, Any], path: str) -> Iterator[str]:
    yield from _check_text(block.get("label"), f"{path}/label", LIMITS["input", "label"], plain_only=True)
    if "hint" in block:
        yield from _check_text(block["hint"], f"{path}/hint", LIMITS["input", "hint"], plain_only=True)
    if "element" not in block:
        yield _problem(f"{path}/element", "is required")
    else:
        yield from _check_element(block["element"], f"{path}/element")


def _check_element_list(elements: Any, path: str, limit: int) -> Iterator[str]:
    if not isinstance(elements, list) or not elements:
        yield _problem(f"{path}/elements", "must be a non-empty array")
        return
    yield from _too_long(f"{path}/elements", elements, limit, "items")


def _check_element(element: Any, path: str) -> Iterator[str]:
    """Check an interactive element (button, select, ...) or an image accessory."""
    if not isinstance(element, dict) or not isinstance(element.get("type"), str):
        yield _problem(path, "must be an object with a type")
        return
    if element["type"] == "image":
        yield from _check_image(element, path)
        return
    yield from _too_long(f"{path}/action_id", element.get("action_id"), MAX_ACTION_ID)
    if element["type"] == "button":
        text_limit = LIMITS["button", "text"]
        yield from _check_text(element.get("text"), f"{path}/text", text_limit, plain_only=True)
        yield from _too_long(f"{path}/value", element.get("value"), LIMITS["button", "value"])
        yield from _too_long(f"{path}/url", element.get("url"), LIMITS["button", "url"])
    if "confirm" in element:
        yield from _check_confirm(element["confirm"], f"{path}/confirm")


def _check_confirm(confirm: Any, path: str) -> Iterator[str]:
    """A confirmation dialog: plain title (100), text (300), and button labels (30 each)."""
    if not isinstance(confirm, dict):
        yield _problem(path, "must be a confirmation dialog object")
        return
    for name, limit, plain_only in (
        ("title", 100, True),
        ("text", 300, False),
        ("confirm", 30, True),
        ("deny", 30, True),
    ):
        yield from _check_text(confirm.get(name), f"{path}/{name}", limit, plain_only=plain_only)


def _check_text(obj: Any, path: str, limit: int | None, *, plain_only: bool = False) -> Iterator[str]:
    """Check a text object: a known type, non-empty text, and at most ``limit`` characters."""
    if not isinstance(obj, dict):
        yield _problem(path, "must be a text object")
        return
    allowed = {"plain_text"} if plain_only else TEXT_TYPES
    if obj.get("type") not in allowed:
        yield _problem(f"{path}/type", f"must be one of {', '.join(sorted(allowed))}")
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        yield _problem(f"{path}/text", "must be a non-empty string")
    elif limit is not None:
        yield from _too_long(f"{path}/text", text, limit)


_BLOCK_CHECKS = {
    "section": _check_section,
    "header": _check_header,
    "context": _check_context,
    "actions": _check_actions,
    "image": _check_image,
    "rich_text": _check_rich_text,
    "markdown": _check_markdown,
    "input": _check_input,
}
