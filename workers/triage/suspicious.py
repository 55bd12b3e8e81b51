"""Evidence that looks written to steer the model rather than to record what happened: "ignore previous
instructions", chat-role markers, a fake end of the evidence, orders to approve or run something.

Such a line is still evidence (of an attack, perhaps), so it is kept and shown, but flagged: the
prompt marks it `"suspicious": true`, grounding drops a citation of it, and evidence-only mode never
offers it as a change. The text is normalised first (NFKC folds full-width and compatibility forms,
look-alike Cyrillic and Greek letters become Latin, zero-width and bidi characters go), so disguised
spellings match too.
"""

from __future__ import annotations

import re
import unicodedata

from workers.models import IncidentContext

# Cyrillic and Greek letters drawn like Latin ones.
_LOOKALIKES = str.maketrans(
    "аеорсухіјѕԁӏАВЕКМНОРСТХУІЈЅαεοκνρτυχΑΒΕΖΗΙΚΜΝΟΡΤΥΧ",
    "aeopcyxijsdlABEKMHOPCTXYIJSaeokvptuxABEZHIKMNOPTYX",
)
_WORD = re.compile(r"\w+")
_LATIN = re.compile(r"[A-Za-z]")
_HIDDEN = re.compile(r"[\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")
_ORDER = "order to act"
_PATTERNS: tuple[tuple[str, str], ...] = (
    (
        "instructions to the model",
        r"\b(?:ignor|disregard|forget|overrid|bypass)\w*.{0,40}?\b(?:instructions?|prompts?|rules|guidelines"
        r"|context|system)\b|\bsystem\s+(?:override|prompt)\b|\byou are now\b|\bnew instructions?\b"
        r"|\bact as (?:an?|the)\b|\bjailbreak\b|\bdeveloper mode\b",
    ),
    (
        "chat role marker",
        r"<\|[a-z_]+\|>|\[/?inst\]|<</?sys>>|^\s*#{2,}\s*(?:system|instruction|assistant)\b"
        r"|(?:^|[.;!?]\s+)(?:system|assistant|developer)\s*:\s|\"role\"\s*:\s*\"(?:system|assistant|developer)\"",
    ),
    (
        "fence break-out",
        r"</?\s*evidence\b|<\s*/?\s*(?:data|untrusted|context|system)\s*>"
        r"|\"kind\"\s*:\s*\"(?:log|message|incident|report|gap|knowledge)\"",  # a forged evidence item
    ),
    (
        _ORDER,
        r"\b(?:approve|authori[sz]e)\b.{0,40}\b(?:rollback|roll back|restart|deploy\w*|delet\w+|drop"
        r"|scale|proposal|action|request|change)\b"
        r"|\bmark (?:it|this|the \w+) (?:as )?(?:verified|approved|resolved)\b",
    ),
    (
        "instructions to the model (translated)",
        r"\bignore[zr]?\b.{0,30}\binstructions\b|\bignorier\w*\b.{0,30}\banweisungen\b"
        r"|\bignora\w*\b.{0,30}\binstrucciones\b|\bignora\w*\b.{0,30}\bistruzioni\b"
        r"|\bignor\w+\b.{0,30}\binstruções\b|игнорир\w*.{0,30}инструкци|忽略.{0,12}(?:指令|指示|说明)"
        r"|(?:指示|命令).{0,12}無視|無視.{0,12}(?:指示|命令)|이전.{0,12}지시.{0,12}무시|تجاهل.{0,30}التعليمات"
        r"|\bnegeer\b.{0,30}\binstructies\b|\bzignoruj\b.{0,30}\bpolecenia\b|\bignorera\b.{0,30}\binstruktioner\b",
    ),
)
_COMPILED = tuple((reason, re.compile(pattern, re.I | re.M)) for reason, pattern in _PATTERNS)


def normalise(text: str) -> str:
    """Compatibility forms folded, hidden characters removed, and look-alike letters made Latin in
    words that mix them with Latin ones (a Russian word stays Russian)."""
    text = _HIDDEN.sub("", unicodedata.normalize("NFKC", text))
    return _WORD.sub(
        lambda w: w.group().translate(_LOOKALIKES) if _LATIN.search(w.group()) else w.group(), text
    )


def why_suspicious(text: str, *, orders: bool = True) -> str | None:
    """Why `text` looks like instructions to the model, or None. `orders=False` for what people wrote
    in the channel, where asking for an approval is ordinary."""
    clean = normalise(text)
    return next(
        (r for r, pattern in _COMPILED if (orders or r != _ORDER) and pattern.search(clean)),
        None,
    )


def suspicious_items(ctx: IncidentContext) -> dict[str, str]:
    """Log template ids and message timestamps whose text looks injected, with the reason."""
    found: dict[str, str] = {}
    if ctx.evidence is not None:
        for e in ctx.evidence.entries:
            reason = why_suspicious(f"{e.template}\n{e.exemplar or ''}")
            if reason:
                found[e.template_id] = reason
    for m in ctx.messages:
        reason = why_suspicious(m.text, orders=False)
        if reason:
            found[m.ts] = reason
    return found
