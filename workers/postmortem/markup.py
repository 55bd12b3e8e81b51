"""Slack's message markup as readable Markdown: mentions by name, links with their labels, `<!here>`
as `@here`, `*bold*` as `**bold**`, `~strike~` as `~~strike~~`, and Slack's escapes undone. Code
spans are left as they are."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping

from workers.slack.neutral import name_of

_ANGLE = re.compile(r"<([^<>\n]+)>")
_BOLD = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")
_STRIKE = re.compile(r"(?<![\w~])~(?=\S)([^~\n]+?)(?<=\S)~(?![\w~])")
_CODE = re.compile(r"(```.*?```|`[^`\n]*`)", re.DOTALL)


def _angle(inner: str, names: Mapping[str, str]) -> str:
    target, _, label = inner.partition("|")
    if target[:1] in ("@", "#", "!"):
        return name_of(target, label, names)
    if label:
        return f"[{label}]({target})"
    return target if "://" in target or target.startswith("mailto:") else f"<{inner}>"


def to_markdown(text: str, names: Mapping[str, str] | None = None) -> str:
    """`text` in Slack mrkdwn as Markdown; `names` maps user ids to display names."""
    names = names or {}
    out = []
    for n, part in enumerate(_CODE.split(text)):
        if n % 2:  # a code span or block: verbatim
            out.append(html.unescape(part))
            continue
        part = _ANGLE.sub(lambda m: _angle(m.group(1), names), part)
        part = _BOLD.sub(r"**\1**", part)
        part = _STRIKE.sub(r"~~\1~~", part)
        out.append(html.unescape(part))
    return "".join(out)


def plain(text: str, names: Mapping[str, str] | None = None) -> str:
    """The words only: mentions and links by their names, no emphasis marks (for titles and checks)."""
    md = to_markdown(text, names)
    md = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", md)
    return re.sub(r"\*\*|~~", "", md)


def shorten(text: str, limit: int) -> str:
    """`text` on one line, cut at a word boundary to at most `limit` characters, with an ellipsis
    when cut."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut and not text[limit - 1].isspace():
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:-–") + "…"
