"""The blameless check: sentences that pin a failure on a person are flagged with a systems framing
to use instead, and the draft notes where hindsight or attribution bias may creep in.

A sentence is flagged when it names a person (a Slack mention, a participant's name, or a personal
pronoun) and holds a blaming phrase ("made a typo", "forgot to", "should have", "careless", …).
The check is deliberately simple and errs towards flagging: a human reviews every flag.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from workers.postmortem.model import BlameFlag

# phrase → what to ask instead (the systems framing)
_BLAME: tuple[tuple[str, str], ...] = (
    (
        r"made an? (?:typo|mistake|error)",
        "What let the mistake reach production unnoticed (review, validation, tests)?",
    ),
    (
        r"(?:forgot|neglected|failed) to",
        "Which step relied on memory, and how can a checklist or automation carry it?",
    ),
    (
        r"should have (?:known|checked|noticed|caught|tested)",
        "What information was missing at the time, and how can it be surfaced?",
    ),
    (
        r"(?:didn't|did not|never) (?:check|test|review|read|notice)",
        "Which safeguard would have made the check happen by default?",
    ),
    (
        r"\b(?:careless(?:ly)?|sloppy|negligent|incompetent|reckless(?:ly)?)\b",
        "Describe the conditions (time pressure, tooling, load) rather than the person.",
    ),
    (r"\b(?:messed|screwed|fucked) up\b", "Describe what changed and which guard was absent."),
    (r"\b(?:his|her|their) (?:fault|mistake|error)\b", "Describe the gap in the process that allowed it."),
    (r"\bhuman error\b", "Human error is a starting point: ask what made the error easy to make."),
    (r"\b(?:blame[ds]?|to blame)\b", "Name the contributing conditions instead of a culprit."),
    (
        r"\b(?:broke|caused) (?:the )?(?:build|prod|production|outage|site|deploy)",
        "Say which change did it and why the pipeline let it through.",
    ),
)
_BLAME_RE = [(re.compile(p, re.IGNORECASE), s) for p, s in _BLAME]
_HINDSIGHT = re.compile(
    r"\b(?:should have|obviously|clearly|simply|just had to|it was easy to see|in hindsight)\b", re.IGNORECASE
)
_PRONOUN = re.compile(r"\b(?:he|she|they|someone|somebody)\b", re.IGNORECASE)
_MENTION = re.compile(r"<@[UW][A-Z0-9]+>")
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(text) if s.strip()]


def _names_a_person(sentence: str, people: Sequence[str]) -> bool:
    if _MENTION.search(sentence) or _PRONOUN.search(sentence):
        return True
    lowered = sentence.lower()
    return any(re.search(rf"\b{re.escape(p.lower())}\b", lowered) for p in people if len(p) > 1)


def check(parts: Iterable[tuple[str, str]], people: Sequence[str]) -> tuple[list[BlameFlag], list[str]]:
    """Flags for (where, text) parts, and the bias notes for the draft. `people` are the participants'
    names and first names."""
    flags: list[BlameFlag] = []
    hindsight: list[str] = []
    for where, text in parts:
        for sentence in sentences(text):
            if _HINDSIGHT.search(sentence):
                hindsight.append(where)
            if not _names_a_person(sentence, people):
                continue
            for pattern, suggestion in _BLAME_RE:
                if m := pattern.search(sentence):
                    flags.append(
                        BlameFlag(
                            where=where,
                            sentence=sentence[:400],
                            why=f"names a person with “{m.group(0)}”",
                            suggestion=suggestion,
                        )
                    )
                    break
    notes = [
        "Hindsight bias: the timeline shows what was known at each moment; judge decisions by that, "
        "not by the outcome. Rejected and dropped hypotheses below were reasonable when raised."
    ]
    if hindsight:
        places = ", ".join(dict.fromkeys(hindsight))
        notes.append(
            f"Words like “should have” or “obviously” appear in: {places}. They read the past with "
            "knowledge the responders did not have."
        )
    if flags:
        notes.append(
            f"Attribution bias: {len(flags)} sentence(s) explain the failure by a person; the "
            "suggested framings ask what in the system allowed it."
        )
    return flags, notes


def first_names(names: Iterable[str]) -> list[str]:
    """Full names and their first words: what a sentence would call a person by."""
    out: list[str] = []
    for n in names:
        out.append(n)
        first = n.split(" ", 1)[0]
        if first != n and len(first) > 2:
            out.append(first)
    return list(dict.fromkeys(out))
