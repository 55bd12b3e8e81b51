"""A Markdown postmortem (optional YAML front matter) into the raw fields of an `IncidentRecord`.

Sections are recognised by heading text, whatever the numbering, case or punctuation, covering the
Google SRE book, PagerDuty and Atlassian templates; anything unrecognised is kept in `body`.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from workers.knowledge.model import IncidentRecord
from workers.yamllines import load_yaml

# First match wins: "Summary of impact" is impact, "Mitigation & resolution" is resolution.
SECTION_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(p), target)
    for p, target in [
        (r"\bsymptoms?\b", "symptoms"),
        (r"\blog (signatures?|patterns?|messages?)\b", "log_signature"),
        (r"\broot causes?\b|\bwhat caused\b|^causes?$", "root_causes"),
        (r"\btriggers?\b|^lead ?up$", "trigger"),
        (
            r"\baction items?\b|\bcorrective\b|\bpreventa?t?ive\b|\bfollow ?ups?\b|\bremediations?\b",
            "action_items",
        ),
        (r"\bresolution\b|^recovery$|\bmitigations?\b", "resolution"),
        (r"\bimpact\b", "impact"),
        (r"\bsummary\b|^overview$|^(outage |incident )?description$", "summary"),
        (r"^fault$", "fault"),
    ]
]
LIST_FIELDS = {"symptoms", "root_causes", "action_items", "log_signature", "impact", "fault"}
INCIDENT_SECTIONS = {"summary", "symptoms", "root_causes", "trigger", "resolution", "impact", "fault"}
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_BULLET = re.compile(r"^(\s*)(?:[-*+]|\d+[.)])\s+(.*)$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_NEGATED = re.compile(r"\b(not|never|no|unable|yet)\b|n't", re.I)
# YAML error contexts whose mark is where the construct left open began (the problem is found later)
_UNCLOSED = ("while parsing a flow", "while scanning a quoted scalar", "while scanning a simple key")
_TRUE = {"true", "yes", "y", "on", "1"}


class PostmortemError(Exception):
    """A file that cannot be understood, with the 1-based line where it went wrong if known."""

    def __init__(self, line: int | None, message: str) -> None:
        super().__init__(f"line {line}: {message}" if line else message)
        self.line, self.message = line, message

    @classmethod
    def from_yaml(cls, exc: yaml.YAMLError, offset: int) -> PostmortemError:
        """From a YAML error: where an unclosed bracket, quote or key began, else the problem's mark.

        `offset` is the number of lines before the YAML text in its file."""
        problem = getattr(exc, "problem_mark", None)
        context = getattr(exc, "context_mark", None)
        unclosed = str(getattr(exc, "context", None) or "").startswith(_UNCLOSED)
        mark = context if context is not None and (problem is None or unclosed) else problem
        problem_text = getattr(exc, "problem", None) or str(exc).split("\n")[0]
        line = mark.line + 1 + offset if mark is not None else None
        return cls(line, f"malformed YAML: {problem_text}")


def slug(stem: str) -> str:
    """An id from a file name: `2024-03 Ledger pool` → `2024-03-ledger-pool`."""
    return re.sub(r"[^a-z0-9_.-]+", "-", stem.lower()).strip("-_.")[:128] or "incident"


def heading_key(heading: str) -> str:
    """`2. Root Cause(s):` → `root causes`; drops anchors, links, numbering and punctuation."""
    h = re.sub(r"<[^>]*>", "", heading)
    h = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", h).lower().replace("(s)", "s")
    h = re.sub(r"^\s*(?:\d+(?:\.\d+)*|[ivx]+|[a-h])[.)]?\s+", "", h)
    return re.sub(r"[^a-z0-9]+", " ", h).strip()


def classify(heading: str) -> str | None:
    key = heading_key(heading)
    return next((target for rule, target in SECTION_RULES if rule.search(key)), None)


def split_front_matter(text: str) -> tuple[dict[str, Any], list[str], int]:
    """Front matter as a mapping, the remaining lines, and how many lines came before them."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        return {}, lines, 0
    end = next((i for i, line in enumerate(lines[1:], 1) if line.strip() in ("---", "...")), None)
    if end is None:
        raise PostmortemError(1, "front matter opened with --- is never closed")
    try:
        meta = load_yaml("\n".join(lines[1:end]))
    except yaml.YAMLError as exc:
        raise PostmortemError.from_yaml(exc, 1) from exc
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise PostmortemError(2, f"front matter must be a mapping of keys, not a {type(meta).__name__}")
    return {str(k): v for k, v in meta.items()}, lines[end + 1 :], end + 1


def parse_markdown(text: str, stem: str) -> dict[str, Any] | None:
    """The record's raw fields, or None for a file that is not a postmortem: no front matter and fewer
    than two incident sections (summary, symptoms, root causes, trigger, resolution, impact, fault)."""
    meta, lines, _ = split_front_matter(text)
    title, sections = _sections(lines)
    found: dict[str, list[list[str]]] = {}
    body: list[str] = []
    has_summary = any(heading is not None and target == "summary" for heading, target, _ in sections)
    for heading, target, content in sections:
        if heading is None:  # the text before the first section
            target = None if has_summary else "summary"
        if target is None or target in ("impact", "fault"):
            body += ([f"## {heading}"] if heading else []) + content + [""]
        if target is not None and _strip(content):
            found.setdefault(target, []).append(content)
    headed = {t for h, t, c in sections if h is not None and t in INCIDENT_SECTIONS and _strip(c)}
    if not meta and len(headed) < 2:
        return None
    record: dict[str, Any] = {}
    for target, blocks in found.items():
        if target in LIST_FIELDS:
            record[target] = [
                item for block in blocks for item in _items(block, code=target == "log_signature")
            ]
        else:
            record[target] = "\n\n".join(_text(block) for block in blocks)
    if "symptoms" not in record:  # Atlassian's "Fault" is what failed; "Impact" is who noticed
        record["symptoms"] = record.get("fault") or record.get("impact") or []
    record.pop("impact", None)
    record.pop("fault", None)
    verified = _truthy(meta.pop("verified", False))
    extra = [f"{k}: {v}" for k, v in meta.items() if k not in IncidentRecord.model_fields and k != "date"]
    record.update({k: v for k, v in meta.items() if k in IncidentRecord.model_fields or k == "date"})
    record.setdefault("id", slug(stem))
    record.setdefault("title", title or stem.replace("-", " ").replace("_", " "))
    record["body"] = "\n".join([*extra, *body]).strip() or record.get("body", "")
    symptom = "; ".join(record["symptoms"]) or record.get("summary", "")
    if "triplets" not in record and symptom and record.get("root_causes") and record.get("resolution"):
        fix = record["resolution"]
        record["triplets"] = [
            {
                "symptom": symptom,
                "root_cause": "; ".join(record["root_causes"]),
                "fix": fix,
                "verified": verified or says_verified(fix),
            }
        ]
    return record


def _truthy(value: Any) -> bool:
    """A flag as people write it: `true`/`yes`, or quoted ("true"); the string "false" is false."""
    return value.strip().lower() in _TRUE if isinstance(value, str) else bool(value)


def says_verified(text: str) -> bool:
    """True when the text says the fix was verified or confirmed (and not "not yet verified")."""
    for m in re.finditer(r"\b(verified|confirmed)\b", text, re.I):
        if not _NEGATED.search(text[max(0, m.start() - 20) : m.start()]):
            return True
    return False


def _sections(lines: list[str]) -> tuple[str, list[tuple[str | None, str | None, list[str]]]]:
    """The first `# ` heading, and (heading, target, lines) per section; text before any is heading None.
    An unrecognised sub-heading of a recognised section stays part of it."""
    title = ""
    sections: list[tuple[str | None, str | None, list[str]]] = [(None, None, [])]
    level, fenced = 0, False
    for line in lines:
        if _FENCE.match(line):
            fenced = not fenced
        m = None if fenced else _HEADING.match(line)
        if m is None:
            sections[-1][2].append(line)
            continue
        depth, heading = len(m.group(1)), m.group(2)
        if depth == 1 and not title:
            title = re.sub(r"<[^>]*>", "", heading).strip()
            continue
        target = classify(heading)
        if target is None and sections[-1][1] is not None and depth > level:
            sections[-1][2].append(f"{heading}:")
            continue
        sections.append((heading, target, []))
        level = depth
    return title, [s for s in sections if s[0] is not None or _strip(s[2])]


def _strip(lines: list[str]) -> str:
    return re.sub(r"<!--.*?-->", "", "\n".join(lines), flags=re.S).strip()


def _items(lines: list[str], code: bool = False) -> list[str]:
    """Bullets (continuation lines joined) or table rows, else paragraphs."""
    items: list[str] = []
    rows = [line.strip() for line in lines if line.strip().startswith("|")]
    kept = _strip(lines).splitlines()
    if any(_BULLET.match(line) for line in kept):
        for line in kept:
            if m := _BULLET.match(line):
                items.append(m.group(2).strip())
            elif line.strip() and items:
                items[-1] += " " + line.strip()
    elif len(rows) > 2:  # a header row, a |---| row, then the items
        for row in rows[2:]:
            cells = [c.strip() for c in row.strip("|").split("|")]
            items.append(" | ".join(c for c in cells if c))
    else:
        items = [p for p in _text(lines).split("\n\n") if p]
    if code:
        items = [i[1:-1] if len(i) > 1 and i[0] == i[-1] == "`" else i for i in items]
    return [i for i in items if i]


def _text(lines: list[str]) -> str:
    """Paragraphs unwrapped into single lines; bullets kept one per line."""
    paragraphs: list[str] = []
    current: list[str] = []
    for line in [*_strip(lines).splitlines(), ""]:
        if not line.strip() or _BULLET.match(line):
            if current:
                paragraphs.append(" ".join(current))
                current = []
            if line.strip():
                paragraphs.append(line.strip())
            continue
        current.append(line.strip())
    return "\n\n".join(paragraphs)
