"""Terminal text for messages and channels, close to what a person reads in the Slack client."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from itertools import zip_longest
from typing import TYPE_CHECKING, Any

from bot.standin.state import ts_key

if TYPE_CHECKING:
    from bot.standin.server import SlackStandIn

RULE_WIDTH = 60
MAX_COLUMN = 40
BODY_INDENT = " " * 10  # under the "HH:MM:SS  " of a message's first line
THREAD_PREFIX = "    │ "

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_ENTITY = re.compile(r"<([^<>\n]+)>")
_BOLD = re.compile(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])")


class _Style:
    """ANSI styling that degrades to plain text."""

    def __init__(self, color: bool) -> None:
        self.color = color

    def _wrap(self, codes: str, text: str) -> str:
        return f"\x1b[{codes}m{text}\x1b[0m" if self.color and text else text

    def bold(self, text: str) -> str:
        return self._wrap("1", text)

    def title(self, text: str) -> str:
        return self._wrap("1;4", text)

    def dim(self, text: str) -> str:
        return self._wrap("2", text)

    def button(self, text: str, style: str | None) -> str:
        return self._wrap({"primary": "32", "danger": "31"}.get(style or "", "1"), text)


def render_message(message: Mapping[str, Any], users: Mapping[str, str], *, color: bool = False) -> str:
    """Render one message's blocks (or its ``text`` when it has none), attachments and files.

    ``users`` maps user ids to the names shown for mentions.
    """
    return "\n".join(_message_lines(message, users, _Style(color)))


def render_conversation(standin: SlackStandIn, channel_id: str, *, color: bool = False) -> str:
    """Render a channel oldest first: messages and threads, ephemeral messages, response-URL posts."""
    style = _Style(color)
    state = standin.state
    with state.lock:
        channel = state.channel(channel_id)
        messages = state.messages(channel_id)
        ephemeral = state.ephemeral(channel_id)
        posts = [p for p in state.response_posts() if p["channel"] == channel_id and not p["replaced"]]
        users = {user.id: user.name for user in state.users()}
        authors = {user.id: user.real_name or user.name for user in state.users()}
        app = f"{state.bot_name} (app)"
    # (message, author, the one user who sees it or None), in channel order
    entries = [
        (m, app if m.get("bot_id") else authors.get(m.get("user", ""), "unknown"), None) for m in messages
    ]
    entries += [(m, app, m["user"]) for m in ephemeral]
    entries += [(p, app, None if p.get("response_type") == "in_channel" else p["user"]) for p in posts]
    entries.sort(key=lambda entry: ts_key(entry[0]["ts"]))
    title = f"#{channel.name if channel else channel_id}"
    lines = [style.bold(title), "=" * len(title)]
    for message, author, viewer in entries:
        if message.get("thread_ts", message["ts"]) != message["ts"]:
            continue  # a reply: shown under its parent
        lines.extend(_entry_lines(message, author, viewer, users, style))
        thread = [e for e in entries if e[0].get("thread_ts") == message["ts"] and e[0] is not message]
        if thread:
            count = f"{len(thread)} {'reply' if len(thread) == 1 else 'replies'}"
            lines.append(BODY_INDENT + style.dim(count))
        for reply, reply_author, reply_viewer in thread:
            lines.extend(
                THREAD_PREFIX + line for line in _entry_lines(reply, reply_author, reply_viewer, users, style)
            )
    return "\n".join(lines)


def _entry_lines(
    message: Mapping[str, Any], author: str, viewer: str | None, users: Mapping[str, str], style: _Style
) -> list[str]:
    """A message as it appears in the channel: time and author, then the body, then markers."""
    time = datetime.fromtimestamp(float(message["ts"]), tz=UTC).strftime("%H:%M:%S")
    head = f"{time}  {style.bold(author)}"
    markers = []
    if viewer is not None:
        head += f" → @{users.get(viewer, viewer)}"
        markers.append("(only visible to you)")
    if message.get("subtype") == "thread_broadcast":
        markers.append("(also sent to the channel)")
    if message.get("edited"):
        markers.append("(edited)")
    body = _message_lines(message, users, style) or [""]
    if markers:
        body[-1] = f"{body[-1]} {style.dim(' '.join(markers))}".lstrip()
    return [head, *(BODY_INDENT + line if line else "" for line in body)]


def _message_lines(message: Mapping[str, Any], users: Mapping[str, str], style: _Style) -> list[str]:
    blocks = message.get("blocks")
    if blocks:
        lines = [line for block in blocks for line in _block_lines(block, users, style)]
    else:
        lines = _mrkdwn(message.get("text", ""), users, style).splitlines()
    for attachment in message.get("attachments", []):
        fallback = {"text": attachment.get("text") or attachment.get("fallback", ""), **attachment}
        lines.extend("┃ " + line for line in _message_lines(fallback, users, style))
    for file in message.get("files", []):
        title = file.get("title") or file.get("name", "file")
        details = f"{file.get('name', '')}, {file.get('size', 0)} bytes"
        lines.append(f"[file: {title}] {style.dim(details)}")
    return lines


def _block_lines(block: Mapping[str, Any], users: Mapping[str, str], style: _Style) -> list[str]:
    kind = block.get("type")
    if kind == "header":
        text = _text(block.get("text"), users, style)
        return [style.title(text)] if style.color else [text, "=" * len(text)]
    if kind == "section":
        lines = _text(block.get("text"), users, style).splitlines()
        lines.extend(_columns([_text(field, users, style) for field in block.get("fields", [])]))
        if "accessory" in block:
            lines.append(_element(block["accessory"], style))
        return lines
    if kind == "context":
        parts = (
            _element(e, style) if e.get("type") == "image" else _text(e, users, style)
            for e in block["elements"]
        )
        return [style.dim("  ·  ".join(parts))]
    if kind == "divider":
        return ["─" * RULE_WIDTH]
    if kind == "actions":
        return ["  ".join(_element(element, style) for element in block.get("elements", []))]
    if kind == "image":
        title = _text(block.get("title"), users, style)
        return [_element(block, style), *([style.dim(title)] if title else [])]
    if kind == "rich_text":
        return _rich_text(block.get("elements", []), users, style)
    if kind == "markdown":
        return str(block.get("text", "")).splitlines()
    if kind == "input":
        return [f"{_text(block.get('label'), users, style)}: [ ________ ]"]
    return [style.dim(f"[{kind} block]")]


def _text(obj: Any, users: Mapping[str, str], style: _Style) -> str:
    """A text object's text; mrkdwn has its entities resolved."""
    if not isinstance(obj, Mapping):
        return ""
    text = str(obj.get("text", ""))
    return _mrkdwn(text, users, style) if obj.get("type") == "mrkdwn" else text


def _mrkdwn(text: str, users: Mapping[str, str], style: _Style) -> str:
    """Resolve ``<@U1>``, ``<#C1|name>``, ``<url|label>`` and friends; bold ``*text*`` when in colour."""

    def entity(match: re.Match[str]) -> str:
        target, label = entity_label(match.group(1), users)
        return f"{label} ({target})" if target and label != target else label

    text = _ENTITY.sub(entity, text).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return _BOLD.sub(lambda m: style.bold(m.group(1)), text) if style.color else text


def entity_label(inner: str, users: Mapping[str, str]) -> tuple[str, str]:
    """What a mrkdwn entity ``<inner>`` shows: ``("", "@alice")`` for a mention, channel or
    broadcast; ``(url, label)`` for a link (the label is the URL itself when it has none)."""
    target, _, label = inner.partition("|")
    if target.startswith("@"):
        return "", "@" + users.get(target[1:], label or target[1:])
    if target.startswith("#"):
        return "", "#" + (label or target[1:])
    if target.startswith("!"):  # <!here>, <!subteam^S1|@oncall>, <!date^...|fallback>
        return "", label or "@" + target[1:]
    return target, label or target


def _element(element: Mapping[str, Any], style: _Style) -> str:
    """A button, menu or image as it appears in a message."""
    kind = element.get("type")
    if kind == "button":
        return style.button(f"[ {element.get('text', {}).get('text', '')} ]", element.get("style"))
    if kind == "image":
        return f"[image: {element.get('alt_text', '')}]"
    if kind == "overflow":
        return "[ ⋯ ]"
    label = element.get("placeholder", {}).get("text") or str(kind).replace("_", " ")
    return f"[ {label} ▾ ]"


def _columns(cells: list[str]) -> list[str]:
    """Lay out section fields two to a row, like Slack does."""
    if not cells:
        return []
    width = min(
        max(_visible_len(line) for cell in cells[::2] for line in cell.splitlines() or [""]) + 4, MAX_COLUMN
    )
    lines = []
    for left, right in zip_longest(cells[::2], cells[1::2], fillvalue=""):
        for a, b in zip_longest(left.splitlines(), right.splitlines(), fillvalue=""):
            lines.append((a + " " * max(width - _visible_len(a), 2) + b).rstrip())
    return lines


def _visible_len(text: str) -> int:
    return len(_ANSI.sub("", text))


def _rich_text(elements: Iterable[Mapping[str, Any]], users: Mapping[str, str], style: _Style) -> list[str]:
    lines: list[str] = []
    for element in elements:
        kind, inner = element.get("type"), element.get("elements", [])
        if kind == "rich_text_list":
            indent = "  " * element.get("indent", 0)
            for number, item in enumerate(inner, start=1):
                bullet = f"{number}." if element.get("style") == "ordered" else "•"
                lines.append(f"{indent}{bullet} {_inline(item.get('elements', []), users, style)}")
        elif kind == "rich_text_preformatted":
            lines.extend("    " + line for line in _inline(inner, users, style).splitlines())
        elif kind == "rich_text_quote":
            lines.extend("> " + line for line in _inline(inner, users, style).splitlines())
        else:
            lines.extend(_inline(inner, users, style).splitlines())
    return lines


def _inline(elements: Iterable[Mapping[str, Any]], users: Mapping[str, str], style: _Style) -> str:
    """Rich-text section elements joined into mrkdwn-like text."""
    parts = []
    for element in elements:
        kind = element.get("type")
        if kind == "text":
            text, marks = str(element.get("text", "")), element.get("style", {})
            if marks.get("code"):
                text = f"`{text}`"
            if marks.get("bold"):
                text = style.bold(text) if style.color else f"*{text}*"
            parts.append(text)
        elif kind == "link":
            url, label = element.get("url", ""), element.get("text")
            parts.append(f"{label} ({url})" if label else url)
        elif kind == "user":
            parts.append("@" + users.get(element.get("user_id", ""), element.get("user_id", "")))
        elif kind == "channel":
            parts.append("#" + element.get("channel_id", ""))
        elif kind == "emoji":
            parts.append(f":{element.get('name', '')}:")
        elif kind == "broadcast":
            parts.append("@" + element.get("range", ""))
        else:
            parts.append(str(element.get("text", "")))
    return "".join(parts)
