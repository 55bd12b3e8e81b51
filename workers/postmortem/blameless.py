"""The blameless check: sentences that pin a failure on a person are flagged with a systems framing
to use instead, and the draft notes where hindsight or attribution bias may creep in.

A sentence is flagged when it points at someone and blames them. Pointing at someone: a Slack
mention or `@name`, a participant's name, a personal pronoun, or a role ("the on-call", "the
intern", "whoever deployed", "the payments team"). Blaming, in the forms incident channels use:
- judgement words ("careless", "sloppy", "clueless", "dropped the ball", "messed up", "went rogue");
- habit and sarcasm ("as usual", "classic Dana", "of course", "again", "thanks a lot", praise next to
  an outage: "great job, the region is down");
- omission and rule-breaking ("forgot to", "ignored", "without review", "without telling anyone",
  "didn't bother", "skipped the canary", "merged on red");
- hindsight counterfactuals ("should have", "if she had waited");
- cause pinned on the person ("Tom broke prod", "her fault", "is the reason", "made a typo",
  "restarted the wrong cluster", "who approved this?").
A sentence that only names someone doing their work ("Bruno rolled back at 16:40", "thanks Chen
for the quick rollback") is left alone. A human reviews every flag.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from workers.postmortem.model import BlameFlag

_JUDGE = "Describe the conditions (time pressure, tooling, load, missing information), not the person."
_HABIT = (
    "Sarcasm and “as usual” pin a pattern on a person; name the recurring gap in the system that let "
    "it happen again."
)
_OMIT = (
    "Which step relied on memory or goodwill, and which safeguard (required review, checklist, "
    "automation) would carry it by default?"
)
_HINDSIGHT_Q = "What did they know at the time, and how can the missing information be surfaced?"
_CAUSE = "Say which change did it and why the process let it through, not who did it."


def _any(*phrases: str) -> str:
    return r"(?:" + "|".join(phrases) + r")"


_NEGATIVE = _any(
    r"\bdown\b",
    r"\bbr(?:oke|eak|eaking|oken)\b",
    r"\boutage",
    r"\bdead\b",
    r"\bwrong\b",
    r"\bmess\b",
    r"war room",
    r"\bdeleted\b",
    r"\bwiped\b",
    r"\bfire\b",
    r"\bon fire\b",
    r"\bfailed\b",
)
_PRAISE = _any(
    r"great (?:job|work|way|stuff)",
    r"nice (?:one|work|job)",
    r"well done",
    r"good job",
    r"bravo",
    r"brilliant",
    r"genius",
    r"kudos",
    r"10/10",
    r"^\W*great\W*,",
)
# (pattern, suggestion), tried in order; the first match explains the flag.
_CUES: tuple[tuple[str, str], ...] = (
    (
        _any(
            r"\bcareless(?:ly|ness)?\b",
            r"\bsloppy\b",
            r"\blazy\b",
            r"\bnegligen(?:t|ce)\b",
            r"\bincompeten(?:t|ce)\b",
            r"\breckless(?:ly)?\b",
            r"\bclueless\b",
            r"\bhopeless\b",
            r"\bstupid\b",
            r"\bdumb\b",
            r"\bidiot\w*",
            r"\bamateur\w*",
            r"\brookie\b",
            r"\birresponsibl[ey]\b",
            r"\buseless\b",
            r"no idea what",
            r"asleep at the wheel",
            r"dropped the ball",
            r"fat[- ]finger\w*",
            r"\byolo\w*",
            r"went rogue",
            r"rubber[- ]stamp\w*",
            r"waved (?:it|the \w+) through",
            r"\b(?:messed|screwed|fucked|botched) (?:\w+ )?up\b",
            r"\bbotched\b",
            r"should (?:not|never) be allowed",
            r"kept away from",
            r"of all people",
            r"should know better",
            r"walked away",
            r"went (?:home|to lunch)",
        ),
        _JUDGE,
    ),
    (
        _any(
            r"\bas usual\b",
            r"\bas always\b",
            r"\bclassic\b",
            r"\btypical\b",
            r"\bof course\b",
            r"\bonce again\b",
            r"\byet again\b",
            r"^(?!.*\b(?:can|could|try|retry|check|back|works?|working|healthy|recover\w*|normal)\b)"
            r"[^?]*\bagain\W*[.!]?$",
            r"\b(?:broke|breaks|broken) \w+ again\b",
            r"what a surprise",
            r"who could have guessed",
            r"leave it to",
            r"thanks a lot",
            r"thanks to \w+,? (?:we|i)\b",
            r"\bseriously\s*[,?!]",
            r"why on earth",
            r"who deploys on",
            r"\bkeeps (?:breaking|skipping|ignoring|forgetting|pushing)\b",
            r"\bnever (?:tests|reads|checks|reviews|listens|asks)\b",
            rf"{_PRAISE}.*{_NEGATIVE}",
            r"in the middle of (?:peak|the busiest)",
        ),
        _HABIT,
    ),
    (
        _any(
            r"\bforg(?:ot|et|etting)\b",
            r"\bfailed to\b",
            r"\bneglect\w*",
            r"\bdid(?:n't| not) bother\b",
            r"couldn't be bothered",
            r"\bignor(?:ed|ing)\b",
            r"\bskipp(?:ed|ing)\b",
            r"\bwithout (?:any |a |the )?(?:review\w*|test\w*|telling|asking|approval|waiting|checking"
            r"|looking|canary|notify\w*|a rollback plan)",
            r"\bdid(?:n't| not) (?:check|test|review|read|double-check|wait|run|notify|tell|look)\w*",
            r"\bnever (?:checked|tested|reviewed|read)\b",
            r"slept through",
            r"merg\w* on red",
            r"went ahead and",
            r"\brush(?:ed|ing)\b",
            r"\bdeployed anyway\b",
            r"\banyway\W*$",
            r"without (?:waiting|asking|telling)",
        ),
        _OMIT,
    ),
    (
        _any(
            r"\bshould(?:n't| not)? have\b",
            r"\bif (?:only )?\w+ had\b",
            r"would(?:n't| not) have happened",
            r"could have (?:avoided|prevented|caught)",
        ),
        _HINDSIGHT_Q,
    ),
    (
        _any(
            r"\b(?:broke|breaks|broken) (?:prod|production|the \w+|\w+ flow|login|checkout|dns|staging|it)\b",
            r"\bcaused (?:the |this )?(?:outage|incident|it)\b",
            r"\bfault\b",
            r"\bblame\w*",
            r"\bculprit\b",
            r"is the reason",
            r"is the one who",
            r"it was \w+ who",
            r"responsible for",
            r"\b(?:this|that|it|the)(?: one| outage| incident| mess)? is (?:all )?on (?!call\b|it\b)\w+",
            r"human error",
            r"made an? (?:typo|mistake|error)",
            r"by mistake",
            r"the wrong (?:cluster|table|bucket|call|host|database|region|node|namespace|pods?)",
            r"\bwrong call\b",
            r"\bbad (?:config|build|deploy|change|push|migration)\b",
            r"\bbroken build\b",
            r"who (?:approved|merged|pushed|deployed|wrote) this",
            r"took down",
            r"\bhis own\b|\bher own\b",
            r"force[- ]push\w*",
            r"\bwiped\b",
            r"\bleft (?:\w+ ){1,2}(?:on|open|enabled|running)\b",
            r"\bon his own\b|\bon her own\b",
        ),
        _CAUSE,
    ),
)
_CUES_RE = [(re.compile(p, re.IGNORECASE), s) for p, s in _CUES]
_ROLE = re.compile(
    r"\b(?:the|our|that|this|some|a|an) (?:new |junior |senior )?(?:on-?call(?: engineer)?|intern|new hire"
    r"|new guy|guy|person|contractor|dba|sre|reviewer|release manager|ops guy|admin|developer|dev|engineer"
    r"|author|\w+ team|qa(?: team)?|team)\b|\bwhoever\b|\bsomeone\b|\bsomebody\b|\bwho (?:approved|merged"
    r"|pushed|deployed|wrote)\b",
    re.IGNORECASE,
)
_PRONOUN = re.compile(r"\b(?:he|she|him|his|her|hers|you|your)\b", re.IGNORECASE)
_MENTION = re.compile(r"<@[UW][A-Z0-9]+(?:\|[^>]*)?>|(?<![\w@])@[a-z][\w.-]+", re.IGNORECASE)
_HINDSIGHT = re.compile(
    r"\b(?:should have|obviously|clearly|simply|just had to|it was easy to see|in hindsight)\b", re.IGNORECASE
)
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z<@\"“])|\n+")


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(text) if s.strip()]


def _names_a_person(sentence: str, people: Sequence[str]) -> bool:
    if _MENTION.search(sentence) or _PRONOUN.search(sentence) or _ROLE.search(sentence):
        return True
    return any(re.search(rf"\b{re.escape(p)}\b", sentence, re.IGNORECASE) for p in people if len(p) > 1)


def blames(sentence: str, people: Sequence[str]) -> tuple[str, str] | None:
    """(the blaming words, the systems framing to use instead), or None."""
    if not _names_a_person(sentence, people):
        return None
    for pattern, suggestion in _CUES_RE:
        if m := pattern.search(sentence):
            return m.group(0).strip(" ,"), suggestion
    return None


def check(parts: Iterable[tuple[str, str]], people: Sequence[str]) -> tuple[list[BlameFlag], list[str]]:
    """Flags for (where, text) parts, and the bias notes for the draft. `people` are the participants'
    names and first names."""
    flags: list[BlameFlag] = []
    hindsight: list[str] = []
    for where, text in parts:
        for sentence in sentences(text):
            if _HINDSIGHT.search(sentence):
                hindsight.append(where)
            if found := blames(sentence, people):
                words, suggestion = found
                flags.append(
                    BlameFlag(
                        where=where,
                        sentence=sentence[:400],
                        why=f"names a person with “{words[:80]}”",
                        suggestion=suggestion,
                    )
                )
    notes = [
        "Hindsight bias: the timeline shows what was known at each moment; judge decisions by that, "
        "not by the outcome. The rejected and dropped hypotheses in the decision tree were reasonable "
        "when raised."
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
