"""Model prose may not advise what grounding dropped: a sentence in the summary, a check or an action's
rationale that instructs to approve, execute or change something is kept only when it refers to a
suggested action that survived grounding.

A sentence instructs when an action verb (English and a few other languages) opens a clause ("Roll
back X", "if it persists, restart X", "then scale X"), or a modal such as "should" or "must" comes
before it, or it asks to approve, authorise or execute; "check whether the deploy broke it" only
describes. An instruction is kept only when a kept action of a matching type exists and every
service-like name it mentions is that action's target.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from workers.triage.report import SuggestedAction

_TYPES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "rollback",
        re.compile(
            r"\broll(?:ed|ing|s)?[\s-]*back\b|\brollback\b|\brevert|\bundo\b|ロールバック|回滚|откат", re.I
        ),
    ),
    ("restart", re.compile(r"\brestart|\breboot|\bbounce|\brecycle|再起動|重启|перезапус", re.I)),
    ("scale", re.compile(r"\bscal(?:e|ed|ing)\b", re.I)),
    ("silence_alert", re.compile(r"\bsilenc|\bmute\b|\bsnooze", re.I)),
    ("run_runbook", re.compile(r"\brunbook", re.I)),
)
# Verbs that change something whatever the action type ("run a query" only looks, so "run" is not one).
_GENERIC = re.compile(
    r"\b(?:approve|authori[sz]e|execute|deploy|redeploy|delete|drop|truncate|kill|terminate"
    r"|shut\s*down|disable|purge|flush|wipe|grant|kubectl|helm|sudo)\b",
    re.I,
)
# Asking for an approval or an execution, in several languages: an instruction wherever it stands.
_ASKS = re.compile(
    r"\b(?:approve|authori[sz]e|execute)\b|genehmig|approuv|aprueb|aprob|aprov|approva|批准|承認|одобр|승인|وافق"
    r"|الموافقة",
    re.I,
)
_MODAL = re.compile(
    r"\b(?:should|must|need(?:s)? to|have to|has to|recommend\w*|advise\w*|suggest\w*|please|let's)\b", re.I
)
_CLAUSE_START = re.compile(
    r"(?:^|[,:;—–]|\b(?:then|and|or|now|please|immediately|first|next|so|also)\b)\W*$", re.I
)
_NAME = re.compile(r"\b[a-z][a-z0-9]*(?:[-_][a-z0-9]+)+\b", re.I)  # payments-svc, ledger_db
_SENTENCE = re.compile(r"(?<=[.!?;。！？])\s*|\n+")
REMOVED = "(removed: it advised an action the evidence does not support)"


@dataclass
class AdviceCheck:
    kept: list[SuggestedAction]
    removed: list[str] = field(default_factory=list)

    def clean(self, text: str) -> str:
        """`text` without the sentences that instruct an action grounding did not keep."""
        sentences = [s for s in _SENTENCE.split(text) if s and s.strip()]
        kept = [s for s in sentences if self._allowed(s)]
        if len(kept) == len(sentences):
            return text
        self.removed += [s.strip() for s in sentences if s not in kept]
        return " ".join(s.strip() for s in kept) or REMOVED

    def _allowed(self, sentence: str) -> bool:
        low = sentence.lower()
        kept_targets = {a.target.lower() for a in self.kept}
        if not _instructs(sentence):
            return True
        types = {name for name, pattern in _TYPES if pattern.search(sentence)}
        fitting = {a.target.lower() for a in self.kept if not types or a.action_type in types}
        named = {n.lower() for n in _NAME.findall(sentence)} | {t for t in kept_targets if t in low}
        return bool(fitting) and named <= fitting


def _instructs(sentence: str) -> bool:
    if _ASKS.search(sentence):
        return True
    verbs = [m.start() for p in (*(p for _, p in _TYPES), _GENERIC) for m in p.finditer(sentence)]
    return any(_CLAUSE_START.search(sentence[:at]) or _MODAL.search(sentence[:at]) for at in verbs)
