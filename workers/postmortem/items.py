"""The people's action items, as they wrote them: with their owner and due date, kept in the draft
whatever the model suggests, and merged with the model's suggestions (each marked by source).

An item is a message (or a bullet under a message) starting `action item:`, `AI:`, `follow-up:` or
`todo:`. Its owner is a Slack mention or a plain `@name` opening the item, or the name after
`owner:` / `assignee:` / `assigned to`; its due date follows `due`, `by` or `before` (a weekday, a
date, EOD/EOW, end of week, next sprint).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from workers.postmortem.gather import SlackMessage
from workers.postmortem.markup import plain
from workers.postmortem.model import ActionItem, ItemType
from workers.triage.board import SAME_WORDS, words

_PREFIX = re.compile(
    r"^\W{0,3}(?:action items?|ai|follow[- ]?ups?|todo|to-do)\W{0,3}\s*"
    r"(?:for\s+(?P<for><@[UW]\w+>|@[\w.-]+)\s*)?[:\-–]\s*(?P<text>.*)",
    re.IGNORECASE | re.DOTALL,
)
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+(?P<text>.+)")
_LEAD_OWNER = re.compile(
    r"^\s*(?P<owner><@[UW][A-Z0-9]+(?:\|[^>]*)?>|@(?!(?:here|channel|everyone)\b)[\w.-]+)\s*[:,\-–]?\s*"
)
_OWNER = re.compile(
    r"[\s(\[,;]*\b(?:owners?|assignee|assigned to)\s*[:\-]?\s*"
    r"(?P<owner><@[UW][A-Z0-9]+(?:\|[^>]*)?>|@?[\w.-]+(?-i: [A-Z][\w-]+)?)[)\]]?",
    re.IGNORECASE,
)
_DAY = r"(?:mon|tues|wednes|thurs|fri|satur|sun)day"
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.? \d{1,2}(?:st|nd|rd|th)?"
_DUE = re.compile(
    rf"[\s(\[,;]*\b(?:due(?: date)?|by|before)\s*[:\-]?\s*"
    rf"(?P<due>(?:next |this )?(?:{_DAY}|week|sprint|release)|eo[dwmq]"
    rf"|end of (?:the )?(?:day|week|month|sprint|quarter)|\d{{4}}-\d{{2}}-\d{{2}}"
    rf"|\d{{1,2}}/\d{{1,2}}(?:/\d{{2,4}})?|{_MONTH}|tomorrow|q[1-4])\b[)\]]?",
    re.IGNORECASE,
)
_MENTION = re.compile(r"<@(?P<id>[UW][A-Z0-9]+)(?:\|[^>]*)?>")
_DETECT = re.compile(r"\b(?:alert|alerting|monitor|dashboard|page|paging|detect|slo|probe)\w*", re.IGNORECASE)
_MITIGATE = re.compile(
    r"\b(?:runbook|rollback|roll back|failover|playbook|mitigat|restart|scale)\w*", re.IGNORECASE
)


def item_type(text: str) -> ItemType:
    if _DETECT.search(text):
        return "detect"
    return "mitigate" if _MITIGATE.search(text) else "prevent"


def is_item(text: str) -> bool:
    return _PREFIX.match(text.strip()) is not None


def _person(token: str, names: Mapping[str, str]) -> str:
    """A mention or a plain @name as the participant's display name, when one matches."""
    if m := _MENTION.fullmatch(token.strip()):
        return names.get(m.group("id"), m.group("id"))
    bare = token.strip().lstrip("@").strip()
    for name in names.values():
        if bare.lower() in (name.lower(), name.split(" ", 1)[0].lower()):
            return name
    return bare


def parse_item(text: str, names: Mapping[str, str], owner: str = "") -> ActionItem | None:
    """One item's text, its owner and due date taken out of it."""
    due = ""
    if m := _DUE.search(text):
        due, text = m.group("due"), text[: m.start()] + text[m.end() :]
    if m := _OWNER.search(text):
        owner, text = _person(m.group("owner"), names), text[: m.start()] + text[m.end() :]
    if m := _LEAD_OWNER.match(text):
        owner, text = owner or _person(m.group("owner"), names), text[m.end() :]
    if not owner and (m := _MENTION.search(text)):
        owner = names.get(m.group("id"), m.group("id"))
    clean = plain(text, names).strip(" .;:,-–")
    if not clean:
        return None
    clean = clean[0].upper() + clean[1:]
    return ActionItem(text=clean, owner=owner, due=due, type=item_type(clean), source="channel")


def from_messages(messages: Iterable[SlackMessage], names: Mapping[str, str]) -> list[ActionItem]:
    items: list[ActionItem] = []
    for m in messages:
        if m.bot or not (found := _PREFIX.match(m.text.strip())):
            continue
        owner = _person(found.group("for"), names) if found.group("for") else ""
        first, *rest = found.group("text").split("\n")
        bullets = [b.group("text") for line in rest if (b := _BULLET.match(line))]
        for text in ([first] if first.strip() else []) + bullets:
            if item := parse_item(text, names, owner):
                items.append(item)
    return items


def _same(a: str, b: str) -> bool:
    wa, wb = words(a), words(b)
    return bool(wa and wb) and 2 * len(wa & wb) / (len(wa) + len(wb)) >= SAME_WORDS


def merge(people: list[ActionItem], model: list[ActionItem]) -> list[ActionItem]:
    """The people's items first and always; the model's where they add something new."""
    out = [i.model_copy(update={"source": "channel"}) for i in people]
    for item in model:
        if not any(_same(item.text, kept.text) for kept in out):
            out.append(item.model_copy(update={"source": "model"}))
    return out
