"""HTML for messages and channels, close to what the Slack client shows: the playground's page.

Everything that came from a message is escaped; links keep only http(s) and mailto targets. Buttons
carry what a click needs (`data-action-id`, `data-value`, `data-block-id`, the confirm dialog as
JSON in `data-confirm`); the page's script turns a click into a signed `block_actions` request.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from html import escape
from typing import TYPE_CHECKING, Any

from bot.standin.render import entity_label
from bot.standin.state import ts_key

if TYPE_CHECKING:
    from bot.standin.server import SlackStandIn

_ENTITY = re.compile(r"<([^<>\n]+)>")
_CODE_BLOCK = re.compile(r"```(.*?)```", re.S)
_CODE = re.compile(r"`([^`\n]+)`")
_MARKS = (
    (re.compile(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])"), "b"),
    (re.compile(r"(?<![\w_])_([^_\n]+)_(?![\w_])"), "i"),
    (re.compile(r"(?<![\w~])~([^~\n]+)~(?![\w~])"), "s"),
)
_SAFE_URL = re.compile(r"^(https?://|mailto:)", re.I)
_SLOT = re.compile(r"\x00(\d+)\x00")
_EMOJI_NAME = re.compile(r":([a-z0-9_+-]+):")
# The emoji the app's messages use, as the Slack client draws them; others stay as `:name:`.
EMOJI = {
    "warning": "⚠️", "new": "🆕", "hourglass_flowing_sand": "⏳", "hourglass": "⌛",
    "white_check_mark": "✅", "no_entry": "⛔", "x": "❌", "wave": "👋", "memo": "📝", "mag": "🔍",
    "arrow_up": "⬆️", "arrow_down": "⬇️", "rotating_light": "🚨", "thumbsup": "👍", "eyes": "👀",
}  # fmt: skip


def mrkdwn(text: str, users: Mapping[str, str]) -> str:
    """Slack mrkdwn as HTML: entities, *bold*, _italic_, ~strike~, `code`, ```blocks```, > quotes."""
    slots: list[str] = []

    def keep(html: str) -> str:
        slots.append(html)
        return f"\x00{len(slots) - 1}\x00"

    text = _CODE_BLOCK.sub(lambda m: keep(f"<pre>{escape(_unslack(m.group(1)).strip(chr(10)))}</pre>"), text)
    text = _CODE.sub(lambda m: keep(f"<code>{escape(_unslack(m.group(1)))}</code>"), text)
    text = _ENTITY.sub(lambda m: keep(_entity(m.group(1), users)), text)
    html = escape(_unslack(text), quote=False)
    for pattern, tag in _MARKS:
        html = pattern.sub(rf"<{tag}>\1</{tag}>", html)
    html = _EMOJI_NAME.sub(lambda m: EMOJI.get(m.group(1), m.group(0)), html)
    lines = [_quote(line) for line in html.split("\n")]
    html = "<br>".join(lines).replace("</blockquote><br><blockquote>", "<br>")
    while _SLOT.search(html):  # a slot may hold another (a link inside a code span is not resolved)
        html = _SLOT.sub(lambda m: slots[int(m.group(1))], html)
    return html


def _quote(line: str) -> str:
    """A line starting with `>` (escaped by now), with or without a space after it, is a quote."""
    if not line.startswith("&gt;"):
        return line
    return f"<blockquote>{line.removeprefix('&gt;').lstrip(' ')}</blockquote>"


def _unslack(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _entity(inner: str, users: Mapping[str, str]) -> str:
    target, label = entity_label(inner, users)
    if not target:
        return f'<span class="mention">{escape(label)}</span>'
    if not _SAFE_URL.match(target):
        return escape(label)
    return f'<a href="{escape(target)}" target="_blank" rel="noopener noreferrer">{escape(label)}</a>'


def text_object(obj: Any, users: Mapping[str, str]) -> str:
    """A text object as HTML: mrkdwn rendered, plain text escaped."""
    if not isinstance(obj, Mapping):
        return ""
    text = str(obj.get("text", ""))
    return mrkdwn(text, users) if obj.get("type") == "mrkdwn" else escape(text).replace("\n", "<br>")


def block(b: Mapping[str, Any], users: Mapping[str, str]) -> str:
    """One layout block."""
    kind = b.get("type")
    block_id = escape(str(b.get("block_id", "")))
    if kind == "header":
        return f'<div class="sk-header">{text_object(b.get("text"), users)}</div>'
    if kind == "section":
        parts = [f'<div class="sk-text">{text_object(b.get("text"), users)}</div>'] if b.get("text") else []
        if b.get("fields"):
            cells = "".join(f'<div class="sk-field">{text_object(f, users)}</div>' for f in b["fields"])
            parts.append(f'<div class="sk-fields">{cells}</div>')
        body = f'<div class="sk-section-body">{"".join(parts)}</div>'
        accessory = b.get("accessory")
        side = f'<div class="sk-accessory">{element(accessory, block_id, users)}</div>' if accessory else ""
        return f'<div class="sk-section">{body}{side}</div>'
    if kind == "context":
        items = "".join(
            element(e, block_id) if e.get("type") == "image" else f"<span>{text_object(e, users)}</span>"
            for e in b.get("elements", [])
        )
        return f'<div class="sk-context">{items}</div>'
    if kind == "divider":
        return '<hr class="sk-divider">'
    if kind == "actions":
        buttons = "".join(element(e, block_id, users) for e in b.get("elements", []))
        return f'<div class="sk-actions">{buttons}</div>'
    if kind == "image":
        title = text_object(b.get("title"), users)
        caption = f'<div class="sk-caption">{title}</div>' if title else ""
        return f'<div class="sk-image">{element(b, block_id)}{caption}</div>'
    if kind == "markdown":
        return f'<div class="sk-text">{mrkdwn(str(b.get("text", "")), users)}</div>'
    if kind == "rich_text":
        return f'<div class="sk-text">{_rich_text(b.get("elements", []), users)}</div>'
    return f'<div class="sk-unknown">[{escape(str(kind))} block]</div>'


def element(e: Mapping[str, Any], block_id: str = "", users: Mapping[str, str] | None = None) -> str:
    """A block element: a button (with its confirm dialog, its text as `html`), an image, or a menu
    shown as such."""
    kind = e.get("type")
    if kind == "button":
        style = e.get("style") if e.get("style") in ("primary", "danger") else "default"
        attrs = {
            "data-action-id": e.get("action_id", ""),
            "data-value": e.get("value", ""),
            "data-block-id": block_id,
        }
        if isinstance(e.get("confirm"), Mapping):
            confirm = e["confirm"]
            html = text_object(confirm.get("text"), users or {})
            attrs["data-confirm"] = json.dumps({**confirm, "html": html})
        if e.get("url"):
            attrs["data-url"] = e["url"] if _SAFE_URL.match(str(e["url"])) else ""
        data = "".join(f' {k}="{escape(str(v))}"' for k, v in attrs.items())
        label = escape(str((e.get("text") or {}).get("text", "")))
        return f'<button class="sk-btn sk-{style}"{data}>{label}</button>'
    if kind == "image":
        url = str(e.get("image_url", ""))
        src = escape(url) if _SAFE_URL.match(url) else ""
        return f'<img class="sk-img" src="{src}" alt="{escape(str(e.get("alt_text", "")))}">'
    label = (e.get("placeholder") or {}).get("text") or str(kind).replace("_", " ")
    return f'<span class="sk-menu">{escape(str(label))} ▾</span>'


def _rich_text(elements: Iterable[Mapping[str, Any]], users: Mapping[str, str]) -> str:
    out = []
    for e in elements:
        inner = _inline(e.get("elements", []), users)
        kind = e.get("type")
        if kind == "rich_text_list":
            tag = "ol" if e.get("style") == "ordered" else "ul"
            items = "".join(
                f"<li>{_inline(i.get('elements', []), users)}</li>" for i in e.get("elements", [])
            )
            out.append(f"<{tag}>{items}</{tag}>")
        elif kind == "rich_text_preformatted":
            out.append(f"<pre>{inner}</pre>")
        elif kind == "rich_text_quote":
            out.append(f"<blockquote>{inner}</blockquote>")
        else:
            out.append(inner)
    return "".join(out)


def _inline(elements: Iterable[Mapping[str, Any]], users: Mapping[str, str]) -> str:
    parts = []
    for e in elements:
        kind = e.get("type")
        if kind == "text":
            html = escape(str(e.get("text", ""))).replace("\n", "<br>")
            marks = e.get("style") or {}
            for mark, tag in (("code", "code"), ("bold", "b"), ("italic", "i"), ("strike", "s")):
                if marks.get(mark):
                    html = f"<{tag}>{html}</{tag}>"
            parts.append(html)
        elif kind == "link":
            parts.append(_entity(f"{e.get('url', '')}|{e.get('text') or e.get('url', '')}", users))
        elif kind == "user":
            parts.append(_entity("@" + str(e.get("user_id", "")), users))
        elif kind == "channel":
            parts.append(_entity("#" + str(e.get("channel_id", "")), users))
        elif kind == "emoji":
            name = str(e.get("name", ""))
            parts.append(EMOJI.get(name, escape(f":{name}:")))
        else:
            parts.append(escape(str(e.get("text", ""))))
    return "".join(parts)


def message_body(message: Mapping[str, Any], users: Mapping[str, str]) -> str:
    """A message's blocks (or its text when it has none), attachments and files."""
    blocks = message.get("blocks")
    if blocks:
        body = "".join(block(b, users) for b in blocks)
    else:
        body = f'<div class="sk-text">{mrkdwn(str(message.get("text", "")), users)}</div>'
    for attachment in message.get("attachments", []):
        inner = {"text": attachment.get("text") or attachment.get("fallback", ""), **attachment}
        body += f'<div class="sk-attachment">{message_body(inner, users)}</div>'
    for file in message.get("files", []):
        title = escape(str(file.get("title") or file.get("name", "file")))
        details = escape(f"{file.get('name', '')} · {file.get('size', 0)} bytes")
        body += (
            f'<a class="sk-file" href="#" data-file-id="{escape(str(file.get("id", "")))}">'
            f'<span class="sk-file-icon">📄</span><span><b>{title}</b><br><small>{details}</small></span></a>'
        )
    return body


def conversation(standin: SlackStandIn, channel_id: str, viewer: str) -> str:
    """A channel as `viewer` sees it, oldest first: messages with their threads under them, the
    ephemeral messages and response-URL posts meant for `viewer`."""
    state = standin.state
    with state.lock:
        messages = state.messages(channel_id)
        ephemeral = [m for m in state.ephemeral(channel_id) if m.get("user") == viewer]
        posts = [
            p
            for p in state.response_posts()
            if p["channel"] == channel_id
            and not p["replaced"]
            and (p.get("response_type") == "in_channel" or p["user"] == viewer)
        ]
        users = {user.id: user.name for user in state.users()}
        authors = {user.id: user.real_name or user.name for user in state.users()}
        app = state.bot_name
    entries = [
        (m, app if m.get("bot_id") else authors.get(m.get("user", ""), "unknown"), False) for m in messages
    ]
    entries += [(m, app, True) for m in ephemeral]
    entries += [(p, app, p.get("response_type") != "in_channel") for p in posts]
    entries.sort(key=lambda entry: ts_key(entry[0]["ts"]))
    out = []
    for message, author, private in entries:
        if message.get("thread_ts", message["ts"]) != message["ts"]:
            continue  # a reply: shown under its parent
        thread = [e for e in entries if e[0].get("thread_ts") == message["ts"] and e[0] is not message]
        replies = "".join(_message(m, a, p, users) for m, a, p in thread)
        html = _message(message, author, private, users)
        if thread:
            count = f"{len(thread)} {'reply' if len(thread) == 1 else 'replies'}"
            html += f'<div class="sk-thread"><div class="sk-thread-count">{count}</div>{replies}</div>'
        out.append(html)
    return "".join(out)


def _message(message: Mapping[str, Any], author: str, private: bool, users: Mapping[str, str]) -> str:
    at = datetime.fromtimestamp(float(message["ts"]), tz=UTC).strftime("%H:%M")
    is_app = bool(message.get("bot_id")) or author == "incident-copilot"
    badge = '<span class="sk-app">APP</span>' if is_app else ""
    marks = []
    if message.get("edited"):
        marks.append('<span class="sk-edited">(edited)</span>')
    note = '<div class="sk-private">👁 Only visible to you</div>' if private else ""
    classes = "sk-msg" + (" sk-msg-private" if private else "")
    initial = escape(author[:1].upper())
    return (
        f'<div class="{classes}" data-ts="{escape(str(message["ts"]))}">'
        f'<div class="sk-avatar{" sk-avatar-app" if is_app else ""}">{initial}</div>'
        f'<div class="sk-msg-main">{note}<div class="sk-msg-head"><b>{escape(author)}</b>{badge}'
        f'<span class="sk-time">{at}</span></div>'
        f'<div class="sk-msg-body">{message_body(message, users)}{"".join(marks)}</div></div></div>'
    )
