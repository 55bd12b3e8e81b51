"""Alert-bot messages understood: Alertmanager, Grafana, PagerDuty, Opsgenie and Datadog, whichever
Slack shape they post in (plain `text`, legacy `attachments`, Block Kit `blocks`).

`flatten` turns any message into the text a person sees; `parse` reads that text (and the poster's
name) into an `Alert`: which tool, which alert, firing or resolved, and a key that groups the
firing and resolved messages of one alert together.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

State = Literal["firing", "resolved", "acknowledged"]

# Message subtypes that say something; joins, leaves, topic changes and the like are left out.
SPOKEN_SUBTYPES = frozenset({"", "bot_message", "thread_broadcast", "file_share", "me_message"})

_VENDORS = ("alertmanager", "grafana", "pagerduty", "opsgenie", "datadog")
_EMOJI = re.compile(r":[a-z0-9_+-]+:")
_LINK = re.compile(r"<(?:https?://|mailto:)[^|>]*\|([^>]*)>")  # a Slack link, by its label
# "[FIRING:2] Name (labels…)", "[RESOLVED] Name": Alertmanager and Grafana's unified alerting.
_BRACKET = re.compile(r"\[(?P<state>FIRING|RESOLVED)(?::\d+)?\]\s*(?P<name>[^(|\n]+)", re.IGNORECASE)
# Grafana's legacy alerting: "[Alerting] Name", "[OK] Name", "[No Data] Name".
_GRAFANA_LEGACY = re.compile(r"\[(?P<state>Alerting|OK|No Data)\]\s*(?P<name>.+)", re.IGNORECASE)
# Datadog monitors: "[Triggered] Name", "[Recovered] Name", "[Warn] …", "[Re-Triggered] …".
_DATADOG = re.compile(
    r"\[(?P<state>Triggered|Re-Triggered|Warn|Recovered|No Data|P\d)\]\s*(?:\[(?P<state2>[A-Za-z -]+)\]\s*)?"
    r"(?P<name>.+)",
    re.IGNORECASE,
)
# PagerDuty: "Triggered #12345: Name", "Acknowledged by X: #12345 Name", "Resolved: #12345 Name".
_PAGERDUTY = re.compile(
    r"\b(?P<state>Triggered|Acknowledged|Resolved)\b[^#\n]{0,40}#(?P<number>\d+)[:\s]*(?P<name>[^\n]*)",
    re.IGNORECASE,
)
# Opsgenie: "New alert: #42 Name", "Alert created …", "acknowledged", "closed" / "resolved".
_OPSGENIE = re.compile(
    r"(?P<state>New alert|Alert created|created|Acknowledged|acked|Closed|Resolved)\b[^#\n]{0,40}"
    r"#(?P<number>\d+)[:\s]*(?P<name>[^\n]*)",
    re.IGNORECASE,
)
_FIRING_WORDS = {"firing", "alerting", "triggered", "re-triggered", "warn", "no data", "new alert"}
_FIRING_WORDS |= {"alert created", "created"}
_RESOLVED_WORDS = {"resolved", "ok", "recovered", "closed"}


@dataclass(frozen=True)
class Alert:
    tool: str  # alertmanager, grafana, pagerduty, opsgenie, datadog, or "alert" when unknown
    state: State
    name: str
    key: str  # one alert's firing and resolved messages share it

    @property
    def label(self) -> str:
        return f"{self.name} ({self.tool})"


def flatten(message: dict[str, Any]) -> str:
    """The text a person sees in the message: its `text`, then its attachments and blocks."""
    parts = [str(message.get("text") or "")]
    for a in message.get("attachments") or []:
        parts += [str(a.get(k) or "") for k in ("pretext", "title", "text")]
        parts += [f"{f.get('title', '')}: {f.get('value', '')}" for f in a.get("fields") or []]
        if not any(a.get(k) for k in ("pretext", "title", "text")):
            parts.append(str(a.get("fallback") or ""))
        parts += _blocks_text(a.get("blocks") or [])
    parts += _blocks_text(message.get("blocks") or [])
    seen: dict[str, None] = {}
    for part in parts:
        for line in part.splitlines():
            if line.strip():
                seen.setdefault(line.strip(), None)
    return "\n".join(seen)


def _blocks_text(blocks: list[Any]) -> list[str]:
    out: list[str] = []
    for b in blocks:
        if not isinstance(b, dict):
            continue
        text = b.get("text")
        if isinstance(text, dict):
            out.append(str(text.get("text", "")))
        for f in b.get("fields") or []:
            out.append(str(f.get("text", "")) if isinstance(f, dict) else "")
        for e in b.get("elements") or []:
            out.append(_element_text(e))
    return out


def _element_text(element: Any) -> str:
    """Context elements, and rich text down to its leaves."""
    if not isinstance(element, dict):
        return ""
    if element.get("type") in ("mrkdwn", "plain_text", "text"):
        return str(element.get("text", ""))
    if element.get("type") == "link":
        return str(element.get("text") or element.get("url", ""))
    if element.get("type") == "user":
        return f"<@{element.get('user_id', '')}>"
    return "".join(_element_text(e) for e in element.get("elements") or [])


def _tool(poster: str, text: str) -> str:
    lowered = f"{poster} {text[:300]}".lower()
    return next((v for v in _VENDORS if v in lowered), "alert")


def _state(word: str) -> State | None:
    w = word.lower().strip()
    if w in _FIRING_WORDS:
        return "firing"
    if w in _RESOLVED_WORDS:
        return "resolved"
    return "acknowledged" if w.startswith("ack") else None


def _clean(name: str) -> str:
    return re.sub(r"[*_`~]", "", name).strip(" :-–|")[:120]


def parse(text: str, poster: str = "") -> Alert | None:
    """The alert a bot message announces, or None when it is not an alert."""
    tool = _tool(poster, text)
    plain = _LINK.sub(r"\1", _EMOJI.sub("", text))
    if (m := _BRACKET.search(plain)) and (state := _state(m.group("state"))):
        # Alertmanager: grouped by the alert name (the first word), the rest (label values) varies
        # between posts. Grafana: the rule name, which may hold spaces.
        tool = tool if tool != "alert" else "alertmanager"
        name = m.group("name")
        return _alert(tool, state, name, "" if tool == "grafana" else name.split()[0])
    if tool == "grafana" and (m := _GRAFANA_LEGACY.search(plain)) and (state := _state(m.group("state"))):
        return _alert(tool, state, m.group("name"))
    for pattern, vendor in ((_OPSGENIE, "opsgenie"), (_PAGERDUTY, "pagerduty")):
        if tool in (vendor, "alert") and (m := pattern.search(plain)) and (state := _state(m.group("state"))):
            return _alert(vendor, state, m.group("name") or f"#{m.group('number')}", f"#{m.group('number')}")
    if (m := _DATADOG.search(plain)) and tool in ("datadog", "alert"):
        word = m.group("state2") if m.group("state").upper().startswith("P") else m.group("state")
        if word and (state := _state(word)):
            return _alert("datadog", state, m.group("name"))
    return None


def _alert(tool: str, state: State, name: str, key: str = "") -> Alert:
    clean = _clean(name.split("\n")[0])
    return Alert(tool, state, clean, f"{tool}:{(key or clean).lower()}")
