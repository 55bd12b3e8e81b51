"""The one way text from outside the code reaches Slack: `neutralize`.

Model output, `/triage` text, postmortem titles, log lines, past incidents and display names may
carry Slack markup. After `neutralize` it reads as text and notifies no one: a mention becomes the
name it stands for (`<@U1>` → `@Alice`, `<!channel>` → `@channel`, which Slack does not link in
an API post), a link its label, and every `&`, `<` and `>` left is escaped. Slack's own escapes
are undone first, so an escaped `&lt;!here&gt;` is read for what it is, and applying it twice
changes nothing that renders.

The code's own mentions and links (the requester, an approver, a past incident's page) go through
`mention` and `link`, which accept only a Slack user id and a plain http(s) URL.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_MENTION = re.compile(r"<([@#!])([^<>|]+)(?:\|([^<>]*))?>")
_LINK = re.compile(r"<((?:https?|mailto|ftp|slack|file):[^<>|]*)(?:\|([^<>]*))?>", re.I)
_ENTITY = re.compile(r"&(amp|lt|gt);")
_UNESCAPE = {"amp": "&", "lt": "<", "gt": ">"}
_USER_ID = re.compile(r"[UW][A-Z0-9]{2,30}")
_PLAIN_URL = re.compile(r"https?://[^\s<>|\"]{1,2000}")
SPECIALS = ("here", "channel", "everyone")


def name_of(target: str, label: str, names: Mapping[str, str] | None = None) -> str:
    """What a mention (`@U1`, `#C1`, `!here`, `!subteam^S1`) reads as, without notifying anyone."""
    kind, ident = target[:1], target[1:]
    if kind == "@":
        return "@" + ((names or {}).get(ident) or label.lstrip("@") or ident)
    if kind == "#":
        return "#" + (label or ident)
    special = ident.split("^", 1)[0]
    if special in SPECIALS:
        return "@" + special
    return label or "@" + special  # a user group's label is its handle, a date's its fallback


def neutralize(text: str, names: Mapping[str, str] | None = None) -> str:
    """`text` as Slack text that mentions no one and links nowhere; `names` maps user ids to names."""
    text = _ENTITY.sub(lambda m: _UNESCAPE[m.group(1)], text)
    text = _LINK.sub(lambda m: m.group(2) or m.group(1), text)
    text = _MENTION.sub(lambda m: name_of(m.group(1) + m.group(2), m.group(3) or "", names), text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mention(user_id: str) -> str:
    """A mention the code means to make; anything but a Slack user id is shown as text."""
    return f"<@{user_id}>" if _USER_ID.fullmatch(user_id) else neutralize(user_id)


def link(url: str, label: str) -> str:
    """A link the code makes to `url` (a plain http(s) URL, else only the label is shown); a query's
    `&` is escaped as Slack asks."""
    label = neutralize(label).replace("|", "/")
    return f"<{url.replace('&', '&amp;')}|{label}>" if _PLAIN_URL.fullmatch(url) else label
