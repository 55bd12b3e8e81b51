"""Reading a rendered prompt as a model would: the fence id, and the JSON items inside the fence."""

from __future__ import annotations

import json
import re
from typing import Any

_OPEN = re.compile(r"^<evidence-([0-9a-f]{16})>$", re.M)


def fence_id(prompt: str) -> str:
    found = _OPEN.findall(prompt)
    assert len(found) == 1, f"expected one evidence fence, found {len(found)}"
    return str(found[0])


def fenced_items(prompt: str) -> list[dict[str, Any]]:
    """Every line between `<evidence-ID>` and `</evidence-ID>`, each one JSON object."""
    fence = fence_id(prompt)
    inside = prompt.split(f"<evidence-{fence}>\n", 1)[1].split(f"</evidence-{fence}>", 1)[0]
    return [json.loads(line) for line in inside.splitlines()]


def items_of(body: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    """The items of one kind in a chat request's user message (the last message holding a fence)."""
    for message in reversed(body["messages"]):
        if _OPEN.search(message["content"]):
            return [i for i in fenced_items(message["content"]) if i["kind"] == kind]
    return []
