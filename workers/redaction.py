"""Masking of secrets in free text: the log processor uses it, and so does every outbound request.

Most rules are a category with a pattern anchored on a recognisable shape (a vendor prefix, a key
name in an assignment or a URL parameter, a PEM armour line). The last rule, `high_entropy`, catches
credentials of no known format: a run of 20+ base64/base64url characters that does not read like
words (see `looks_random`). How its false positives are kept low: hex runs (perhaps behind a tag of
up to three letters), UUIDs and digit runs are ids, never secrets; camelCase and snake_case
identifiers are split into words, and a word made of common English letter pairs counts as
language; a run whose pieces between `-`, `_` and `/` are all shorter than 10 characters (pod and
host names, paths) is a name. Its one threshold was set from random tokens alone (≥ 99.5% of random
20-character base62 tokens and ≥ 99.9% of 32-character ones are caught); false positives on real
logs are measured, not tuned, by `tests/benchmarks/bench_redaction.py` on the Loghub samples. Known
secret values (the process's own tokens) are masked by value as well. Emails and IP addresses are
masked only on request. Every rule has a gate (text that must be in the line, or a long run of
base64 characters) so that every log line can afford the redactor.

`Redactor` writes `[REDACTED:<category>]`; `ConsistentRedactor` numbers each distinct value per
category (`[REDACTED:jwt#2]`) so that masked evidence still correlates within one incident.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import itertools
import re
import secrets
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Self
from urllib.parse import urlsplit

from workers.evidence.model import LogLine

PII_CATEGORIES = frozenset({"email", "ipv4", "ipv6"})

_NOT_MASKED = r"(?!\[REDACTED)"  # never re-mask a placeholder
_QUOTE = r"[\"']?"
_ASSIGN = rf"{_QUOTE}\s*[:=]\s*"  # `key=`, `key: `, `"key": `
# Quotes stay outside the mask; the first group that matched is the secret (see `Redactor._find`).
_VALUE = rf"{_NOT_MASKED}(?:\"(?P<s>[^\"\n]+)\"|'(?P<s2>[^'\n]+)'|(?P<s3>[^\s,;&\"'<>{{}}]+))"


@dataclass(frozen=True)
class Rule:
    """One category: the secret is the first named group that matched, else the whole match."""

    category: str
    pattern: re.Pattern[str]
    check: Callable[[str], bool] | None = None
    # Lower-case text one of which must be in the line for the pattern to be tried (a fast pre-filter,
    # every line of the logs goes through it); empty: always tried.
    gate: tuple[str, ...] = ()
    # True when every match holds a run of 20+ base64 characters (`_RUN`): a line without one skips it.
    long_run: bool = False


def _mixed_base64(value: str) -> bool:
    return (
        any(c.islower() for c in value)
        and any(c.isupper() for c in value)
        and any(c.isdigit() for c in value)
    )


def _tokenish(value: str) -> bool:
    """A credential rather than a word: 8+ characters with a digit, or mixed case."""
    value = value.strip("\"'")
    has_digit = any(c.isdigit() for c in value)
    mixed = any(c.islower() for c in value) and any(c.isupper() for c in value)
    return len(value) >= 8 and (has_digit or mixed)


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


# The most frequent letter pairs of English words: a word made of them reads as language, not noise.
_COMMON_PAIRS_TEXT = (
    "thheineranreonatenndtiesorteofedisitalarsttontngsehaasouiolevecomedehiriroicneearacelichllbemasiomur"
    "caeltalansdifohopeecprnoctusacotiltrlyncetutsssorsunlowageiewheewiemadolrtpowenaulnitsmoowpaimmiaish"
    "irsuidosiviaamficivipligtuevldrympfeblabghtyop"
)
_COMMON_PAIRS = frozenset(_COMMON_PAIRS_TEXT[i : i + 2] for i in range(0, len(_COMMON_PAIRS_TEXT), 2))
RANDOM_THRESHOLD = 0.5  # surprising characters per character; see the module docstring for the choice
_RUN = re.compile(r"[A-Za-z0-9+/_=-]{20}")
_CANDIDATE = re.compile(r"(?<![A-Za-z0-9+/=_-])[A-Za-z0-9+/_-]{20,}={0,2}(?![A-Za-z0-9+/=_-])")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_ALNUM = re.compile(r"[A-Za-z0-9]+")
_ID = re.compile(r"[A-Za-z]{0,3}[0-9a-fA-F]+")  # hex, perhaps behind a short tag: `P3fa9…`, `req7c1…`
_NAME_PARTS = re.compile(r"[-_/]")
_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+")


_DIGITS_ALIKE = str.maketrans("0123456789", "1111111111")
_SHAPE = bytes.maketrans(b"0123456789", b"1111111111")  # the same, on a line's UTF-8 bytes
_SHAPE_VERDICTS = 32_768  # the screen's verdicts kept, by shape
_SHAPE_KEY_MAX = 2_000  # bytes; a longer line's verdict is not kept


@functools.lru_cache(maxsize=65_536)  # runs (paths, ids, names) repeat from line to line
def randomness(run: str) -> float:
    """Surprising characters per character: letters in 1-2 letter fragments (what case and digit
    changes chop random text into) and uncommon letter pairs inside longer words. Hex ids, UUIDs and
    digit runs are left out; a run with fewer than 16 characters or 8 distinct ones left, or no
    piece of 10, scores 0.

    Only the distinct-character count depends on which digits a run holds, so a run is first scored
    as its shape (every digit a 1, cached: ids that differ in their digits score once); the run itself
    is scored only when the shape has too few distinct characters to settle it."""
    score, distinct = _scored(run.translate(_DIGITS_ALIKE))
    if score == 0.0 or distinct >= 8:  # the run has at least the shape's distinct characters
        return score
    score, distinct = _score(run)
    return score if distinct >= 8 else 0.0


@functools.lru_cache(maxsize=65_536)
def _scored(shape: str) -> tuple[float, int]:
    return _score(shape)


def _score(run: str) -> tuple[float, int]:
    """The score before the distinct-character test, and the distinct characters it counts."""
    run = _UUID.sub("", run)
    pieces = _ALNUM.findall(run)
    if not pieces or _ID.fullmatch("".join(pieces)):
        return 0.0, 0
    pieces = [p for p in pieces if not p.isdigit() and not (len(p) >= 8 and _ID.fullmatch(p))]
    size = sum(map(len, pieces))
    if size < 16 or max(map(len, _NAME_PARTS.split(run))) < 10:  # names such as `svc-7d9f8-x2kq9`
        return 0.0, 0
    distinct = len(set("".join(pieces)))  # under 8, `xxxxxxxx…`, `abababab…`: repetition, not noise
    surprise = 0
    for word in (w for p in pieces for w in _WORDS.findall(p)):
        if len(word) <= 2:
            surprise += len(word)
        elif not word.isdigit():
            low = word.lower()
            surprise += sum(_surprising(a, b) for a, b in itertools.pairwise(low))
    return surprise / size, distinct


def _surprising(a: str, b: str) -> bool:
    """An uncommon letter pair; `ab`, `xy` (alphabet order) are runs a person typed, not noise."""
    return a + b not in _COMMON_PAIRS and ord(b) - ord(a) != 1


def looks_random(run: str) -> bool:
    """A credential-like run of characters (`RANDOM_THRESHOLD` surprising characters per character)."""
    return randomness(run) >= RANDOM_THRESHOLD


_URL_SECRET_PARAMS = (
    r"code|sig|signature|x-amz-signature|x-amz-credential|x-amz-security-token|key|apikey|api_key|token"
    r"|auth|session|sessionid|sid|secret|access_token|id_token|refresh_token|client_secret|jwt|assertion"
)
# (category, pattern, gate) for credentials with a vendor prefix or a fixed shape.
_VENDOR: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("gitlab_token", r"\bgl(?:pat|dt|rt|ptt|cbt|soat)-[A-Za-z0-9_-]{20,}", ("gl",)),
    ("npm_token", r"\bnpm_[A-Za-z0-9]{36}\b", ("npm_",)),
    ("pypi_token", r"\bpypi-AgE[A-Za-z0-9_-]{50,}", ("pypi-",)),
    ("huggingface_token", r"\bhf_[A-Za-z0-9]{30,}\b", ("hf_",)),
    ("sendgrid_key", r"\bSG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}", ("sg.",)),
    ("twilio_key", r"\b(?:SK|AC)[0-9a-fA-F]{32}\b", ("sk", "ac")),
    ("mailgun_key", r"\bkey-[0-9a-zA-Z]{32}\b", ("key-",)),
    ("shopify_token", r"\bshp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}\b", ("shp",)),
    ("digitalocean_token", r"\bdo[opr]_v1_[a-f0-9]{64}\b", ("_v1_",)),
    ("vault_token", r"\bhv[sbr]\.[A-Za-z0-9_-]{24,}", ("hvs.", "hvb.", "hvr.")),
    ("doppler_token", r"\bdp\.(?:st|ct|sa|scim|audit|pt)\.[A-Za-z0-9_.-]{40,}", ("dp.",)),
    ("google_oauth", r"\bya29\.[A-Za-z0-9_-]{20,}|\bGOCSPX-[A-Za-z0-9_-]{20,}", ("ya29.", "gocspx-")),
    ("linear_key", r"\blin_(?:api|oauth)_[A-Za-z0-9]{32,}", ("lin_",)),
    (
        "grafana_token",
        r"\bglc_[A-Za-z0-9+/]{32,}={0,2}|\bglsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}",
        ("glc_", "glsa_"),
    ),
    ("newrelic_key", r"\bNR(?:AK|II|JS)-[A-Za-z0-9]{20,}", ("nrak-", "nrii-", "nrjs-")),
    ("sentry_token", r"\bsntr[ysu]_[A-Za-z0-9+/=_]{40,}", ("sntr",)),
    ("databricks_token", r"\bdapi[a-f0-9]{32}(?:-\d)?\b", ("dapi",)),
    ("atlassian_token", r"\bATATT3[A-Za-z0-9_=-]{50,}", ("atatt3",)),
    ("age_key", r"\bAGE-SECRET-KEY-1[0-9A-Z]{58}\b", ("age-secret-key-",)),
    ("stripe_webhook_secret", r"\bwhsec_[A-Za-z0-9+/=]{24,}", ("whsec_",)),
    ("telegram_token", r"\b\d{8,10}:AA[A-Za-z0-9_-]{33}\b", (":aa",)),
    ("square_token", r"\bsq0(?:atp|csp)-[A-Za-z0-9_-]{22,}|\bEAAA[A-Za-z0-9_-]{56,}", ("sq0", "eaaa")),
    ("postman_key", r"\bPMAK-[a-f0-9]{24}-[a-f0-9]{34}\b", ("pmak-",)),
    ("docker_hub_token", r"\bdckr_pat_[A-Za-z0-9_-]{27,}", ("dckr_pat_",)),
    ("pulumi_token", r"\bpul-[a-f0-9]{40}\b", ("pul-",)),
    ("terraform_token", r"\b[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_=-]{60,}", (".atlasv1.",)),
    ("discord_webhook", r"https://(?:\w+\.)?discord(?:app)?\.com/api/webhooks/\d+/[\w-]{60,}", ("discord",)),
    ("mailchimp_key", r"\b[0-9a-f]{32}-us\d{1,2}\b", ("-us",)),
    ("azure_client_secret", r"(?<![\w~.-])[\w~.-]{3}\dQ~[\w~.-]{31,34}", ("q~",)),
)


RULES: tuple[Rule, ...] = (
    Rule(
        "private_key",
        re.compile(
            r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----.*?"
            r"(?:-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|\Z)",
            re.S,
        ),
        gate=("-----begin",),
    ),
    # A PEM body line logged on its own (a multi-line key split into log lines).
    Rule(
        "private_key",
        re.compile(r"(?m)^\s*(?P<s>[A-Za-z0-9+/]{60,76}={0,2})\s*$"),
        _mixed_base64,
        long_run=True,
    ),
    Rule(
        "slack_webhook",
        re.compile(r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[\w/-]+"),
        gate=("hooks.slack",),
    ),
    Rule(
        "slack_token",
        re.compile(r"\bxox(?:e\.xox)?[abposre]-[A-Za-z0-9-]{8,}|\bxapp-\d-[A-Za-z0-9-]{8,}"),
        gate=("xox", "xapp-"),
    ),
    Rule(
        "github_token",
        re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{40,})"),
        gate=("gh", "github_pat_"),
        long_run=True,
    ),
    Rule("anthropic_key", re.compile(r"\bsk-ant-[A-Za-z0-9_-]{20,}"), gate=("sk-ant-",), long_run=True),
    Rule(
        "openai_key",
        re.compile(r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}"),
        gate=("sk-",),
        long_run=True,
    ),
    Rule(
        "stripe_key",
        re.compile(r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}"),
        gate=("k_live_", "k_test_"),
        long_run=True,
    ),
    Rule(
        "aws_access_key",
        re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b"),
        gate=("akia", "asia", "abia", "acca"),
        long_run=True,
    ),
    Rule(
        "aws_secret_key",
        re.compile(
            rf"(?i)(?:aws_?secret_?(?:access_?)?key|secret_?access_?key){_ASSIGN}{_QUOTE}"
            r"(?P<s>[A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])"
        ),
        gate=("secret",),
    ),
    Rule(
        "gcp_api_key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])"), gate=("aiza",), long_run=True
    ),
    Rule(
        "azure_key",
        re.compile(
            r"(?i)\b(?:AccountKey|SharedAccessKey|SharedAccessSignature)\s*=\s*(?P<s>[A-Za-z0-9+/=%]{20,})"
            r"|[?&]sig=(?P<sig>[A-Za-z0-9%+/=]{20,})"
        ),
        gate=("accountkey", "sharedaccess", "sig="),
    ),
    Rule("jwt", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"), gate=("eyj",)),
    Rule("url_password", re.compile(r"(?<=://)[^/\s:@]*:(?P<s>[^/\s]+)@"), gate=("://",)),
    Rule(
        "password",
        re.compile(
            rf"(?i)(?<![\w-])[\w-]*?(?:password|passwd|pwd){_ASSIGN}{_NOT_MASKED}"
            # ADO-style `Password=two words;` keeps its spaces; otherwise the value ends at a space.
            r"(?:\"(?P<s>[^\"\n]+)\"|'(?P<s2>[^'\n]+)'"
            r"|(?P<s3>[^\s;,&\"']+(?:[ \t]+[^\s;,&\"'=]+)*(?=\s*;)|[^\s;,&\"'<>]+))"
        ),
        gate=("passw", "pwd"),
    ),
    Rule(
        "auth_header",
        re.compile(r"(?i)\b(?:bearer|basic)\s+(?P<s>[A-Za-z0-9._~+/=-]{12,})(?![\w.~+/=-])"),
        _tokenish,
        gate=("bearer", "basic"),
    ),
    Rule(
        "auth_header",
        re.compile(
            rf"(?i)\b(?:proxy-)?authorization{_ASSIGN}{_QUOTE}(?:[A-Za-z][\w-]*\s+)?{_NOT_MASKED}"
            r"(?P<s>[^\s\"',;]{8,})"
        ),
        _tokenish,
        gate=("authorization",),
    ),
    Rule(
        "secret_assignment",
        re.compile(
            r"(?i)(?<![\w-])(?:[\w-]*[_-])?(?:secret|api[_-]?key|apikey|access[_-]?key|auth[_-]?token"
            r"|access[_-]?token|refresh[_-]?token|session[_-]?token|client[_-]?secret|private[_-]?key(?:[_-]?id)?"
            rf"|token){_ASSIGN}{_VALUE}"
        ),
        _tokenish,
        gate=("secret", "key", "token"),
    ),
    *(
        Rule(category, re.compile(pattern), gate=gate, long_run=category != "azure_client_secret")
        for category, pattern, gate in _VENDOR
    ),
    # Vault's legacy service and batch tokens: `s.` + 24 base62 characters, upper and lower case.
    Rule(
        "vault_token",
        re.compile(r"(?<![\w.])[sb]\.(?P<s>[A-Za-z0-9]{24})(?![\w.])"),
        lambda v: not v.islower() and not v.isupper(),
        gate=("s.", "b."),
        long_run=True,
    ),
    Rule(
        "url_secret",
        re.compile(rf"(?i)[?&;](?:{_URL_SECRET_PARAMS})={_NOT_MASKED}(?P<s>[^&\s#\"'<>]{{8,}})"),
        _tokenish,
        gate=("?", "&", ";"),
    ),
    Rule("high_entropy", _CANDIDATE, looks_random, long_run=True),
)

_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
PII_RULES: tuple[Rule, ...] = (
    Rule("email", re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")),
    Rule(
        "ipv4",
        re.compile(
            r"(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?!\w|\.\d)"
        ),
    ),
    Rule("ipv6", re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])"), _is_ip),
)


def _trie(words: Iterable[str]) -> str:
    """A pattern matching any of `words`, as a trie (one branch per first character, which the regex
    engine tries far faster than a flat alternation); at a position it matches the longest word."""
    heads: dict[str, list[str]] = {}
    for word in words:
        heads.setdefault(word[0], []).append(word[1:])
    branches = []
    for head, tails in sorted(heads.items()):
        longer = [tail for tail in tails if tail]
        rest = f"(?:{_trie(longer)})" + ("?" if len(longer) < len(tails) else "") if longer else ""
        branches.append(re.escape(head) + rest)
    return "|".join(branches) or "(?!)"


class _Gates:
    """Which rules a line opens by the gates it holds. One search finds them: at each position the
    longest gate that starts there, which stands for itself and every gate that is its prefix. A line
    without a long run only opens rules that do not need one."""

    def __init__(self, gated: tuple[dict[str, list[int]], dict[str, list[int]]]) -> None:
        every = {*gated[False], *gated[True]}
        self._opened: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {}
        for gate in every:
            prefixes = [g for g in every if gate.startswith(g)]
            self._opened[gate] = (
                tuple(r for g in prefixes for r in gated[False].get(g, ())),
                tuple(r for g in prefixes for r in gated[True].get(g, ())),
            )
        self._search = (re.compile(_trie(gated[False])).search, re.compile(_trie(every)).search)

    def ranks(self, text: str, long_run: bool, always: tuple[list[int], list[int]]) -> set[int]:
        """The rules to try on `text`: those tried on every line (`always`), and those it opens."""
        ranks: set[int] = set(always[False])
        if long_run:
            ranks.update(always[True])
        low, search, opened = text.lower(), self._search[long_run], self._opened
        found = search(low)
        while found is not None:  # from the next character: gates may overlap
            short, long = opened[found.group()]
            ranks.update(short)
            if long_run:
                ranks.update(long)
            found = search(low, found.start() + 1)
        return ranks


_FULL_DIGIT_SYNTAX = re.compile(r"\{\d+(?:,\d*)?\}|\(\?P<\w+>|0-9")


def _digit_blind(source: str) -> bool:
    """Whether a pattern treats every ASCII digit alike: no digit in it but in a repeat count, a group's
    name or a whole `0-9` range (a literal digit, a partial range or a back-reference count as seen)."""
    return not any(char.isdigit() for char in _FULL_DIGIT_SYNTAX.sub("", source))


@dataclass
class _Span:
    start: int
    end: int
    rank: int  # lower wins the category when spans overlap
    category: str


@dataclass
class Redactor:
    """Replaces secrets with `[REDACTED:<category>]`; counts what it masked, by category."""

    known_values: list[str] = field(default_factory=list, repr=False)
    counts: dict[str, int] = field(default_factory=dict)
    pii: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        unknown = set(self.pii) - PII_CATEGORIES
        if unknown:
            raise ValueError(
                f"unknown PII categories {sorted(unknown)}; choose from {sorted(PII_CATEGORIES)}"
            )
        self._rules = RULES + tuple(r for r in PII_RULES if r.category in self.pii)
        # Rule ranks by gate text and by whether they need a long run; those without a gate are
        # tried on every line (with a long run, for the second).
        gated: tuple[dict[str, list[int]], dict[str, list[int]]] = ({}, {})
        self._always: tuple[list[int], list[int]] = ([], [])
        for rank, rule in enumerate(self._rules):
            for gate in rule.gate:
                gated[rule.long_run].setdefault(gate, []).append(rank)
            if not rule.gate:
                self._always[rule.long_run].append(rank)
        self._screens = not self._always[False]  # else some rule is tried on every line
        self._gates = _Gates(gated)
        # The screen works on a line's shape (`_SHAPE`), so it has gates of that shape: a line holding a
        # gate has a shape holding the gate's shape.
        shaped: tuple[dict[str, list[int]], dict[str, list[int]]] = ({}, {})
        for by_gate, by_shape in zip(gated, shaped, strict=True):
            for gate, ranks in by_gate.items():
                by_shape.setdefault(gate.translate(_DIGITS_ALIKE), []).extend(ranks)
        self._shape_gates = _Gates(shaped)
        self._blind = {rank for rank, rule in enumerate(self._rules) if _digit_blind(rule.pattern.pattern)}
        self._verdicts: dict[bytes, bool] = {}  # a shape → whether some line of it may hold a secret

    def may_hold_secret(self, text: str) -> bool:
        """False only when no rule could change `text` and no known value is set: the text is then
        certainly returned as it is, so most log lines skip the rest of the redactor.

        Decided for the line's shape (every digit a 1), so that lines differing in their digits only
        (the same message with other ids, counts and times) cost one lookup: a shape is passed over
        only when no rule could change any line of that shape."""
        if self.known_values or not self._screens:
            return True
        shape = text.encode("utf-8", "surrogatepass").translate(_SHAPE)
        verdict = self._verdicts.get(shape)
        if verdict is None:
            verdict = self._shape_may_hold(shape.decode("utf-8", "surrogatepass"))
            if len(shape) <= _SHAPE_KEY_MAX:
                if len(self._verdicts) >= _SHAPE_VERDICTS:
                    self._verdicts.clear()
                self._verdicts[shape] = verdict
        return verdict

    def _shape_may_hold(self, shape: str) -> bool:
        """Whether a rule could change some line of this shape.

        A line's digits all becoming 1 keeps every match of a rule that treats digits alike (no literal
        digit, no partial digit range: `_digit_blind`), so such a rule that finds nothing in the shape
        finds nothing in any line of it. A run's `randomness` score does not depend on its digits either
        (only whether it is counted does), so a shape scoring under `RANDOM_THRESHOLD` rules out every
        run of that shape. Any other rule whose gate the shape holds counts as a possible secret."""
        long_run = _RUN.search(shape) is not None
        for rank in self._shape_gates.ranks(shape, long_run, self._always):
            rule = self._rules[rank]
            if rank not in self._blind:
                return True
            by_shape = rule.check is looks_random and not rule.pattern.groupindex
            for found in rule.pattern.finditer(shape):
                if not by_shape or _scored(found.group())[0] >= RANDOM_THRESHOLD:
                    return True
        return False

    @classmethod
    def with_secrets(cls, values: Iterable[str | None], *, pii: Iterable[str] = ()) -> Self:
        """A redactor that also masks these exact values (ignoring empty and very short ones)."""
        known = sorted({v for v in values if v and len(v) >= 6}, key=len, reverse=True)
        return cls(known_values=known, pii=frozenset(pii))

    def redact(self, text: str) -> str:
        return self.redact_counted(text)[0]

    def redact_counted(self, text: str) -> tuple[str, dict[str, int]]:
        """The masked text and what this call masked, by category (also added to `counts`)."""
        found = self._find(text)
        if not found:
            return text, {}
        spans = self._merge(found)
        masked: Counter[str] = Counter(s.category for s in spans)
        out: list[str] = []
        pos = 0
        for span in spans:
            out += [text[pos : span.start], self._placeholder(span.category, text[span.start : span.end])]
            pos = span.end
        out.append(text[pos:])
        for category, n in masked.items():
            self.counts[category] = self.counts.get(category, 0) + n
        return "".join(out), dict(masked)

    def _placeholder(self, category: str, value: str) -> str:
        return f"[REDACTED:{category}]"

    def _find(self, text: str) -> list[_Span]:
        spans = [
            _Span(m.start(), m.end(), -1, "configured_secret")
            for value in self.known_values
            if value in text
            for m in re.finditer(re.escape(value), text)
        ]
        ranks = self._gates.ranks(text, _RUN.search(text) is not None, self._always)
        for rank in sorted(ranks):
            rule = self._rules[rank]
            for m in rule.pattern.finditer(text):
                group = next((g for g in rule.pattern.groupindex if m.group(g) is not None), None)
                start, end = m.span(group) if group else m.span()
                if rule.check is None or rule.check(text[start:end]):
                    spans.append(_Span(start, end, rank, rule.category))
        return spans

    @staticmethod
    def _merge(spans: list[_Span]) -> list[_Span]:
        """Overlapping finds become one masked span (their union), named by the highest-ranked rule."""
        merged: list[_Span] = []
        for span in sorted(spans, key=lambda s: (s.start, s.rank)):
            last = merged[-1] if merged else None
            if last is not None and span.start < last.end:
                last.end = max(last.end, span.end)
                if span.rank < last.rank:
                    last.rank, last.category = span.rank, span.category
            else:
                merged.append(_Span(span.start, span.end, span.rank, span.category))
        return merged


@dataclass
class ConsistentRedactor(Redactor):
    """Numbers each distinct secret per category, in order of first sight: `[REDACTED:jwt#1]`.

    Use one instance per incident. It remembers values only as keyed digests (the key is random and
    lives in this process's memory), never the values themselves.
    """

    _key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    _numbers: dict[bytes, int] = field(default_factory=dict, repr=False)
    _next: Counter[str] = field(default_factory=Counter, repr=False)

    def _placeholder(self, category: str, value: str) -> str:
        digest = hashlib.blake2b(
            f"{category}\0{value}".encode(errors="surrogatepass"), key=self._key
        ).digest()
        if digest not in self._numbers:
            self._next[category] += 1
            self._numbers[digest] = self._next[category]
        return f"[REDACTED:{category}#{self._numbers[digest]}]"


@dataclass
class KeyedRedactor(Redactor):
    """Tags each secret with a keyed digest of it, `[REDACTED:jwt#3fa9c2]`: the same value gets the same
    tag wherever and whenever it is masked with the same key, in any process (what is stored at rest)."""

    key: bytes = field(default=b"", repr=False)

    def _placeholder(self, category: str, value: str) -> str:
        tag = hashlib.blake2b(
            f"{category}\0{value}".encode(errors="surrogatepass"), key=self.key, digest_size=3
        ).hexdigest()
        return f"[REDACTED:{category}#{tag}]"


def redact_line(line: LogLine, redactor: Redactor) -> LogLine:
    """A raw log line with its text and labels redacted: the one way lines enter the evidence
    pipeline, so no template, count, quote or hypothesis is ever derived from a secret."""
    if not line.labels and not line.detail and not redactor.may_hold_secret(line.text):
        return line
    text = redactor.redact(line.text)
    detail = redactor.redact(line.detail) if line.detail else ""  # a record's error and stack fields
    if not line.labels and text == line.text and detail == line.detail:
        return line
    if not line.labels:
        return replace(line, text=text, detail=detail)
    labels = {k: redactor.redact(v) for k, v in line.labels.items()}
    return replace(line, text=text, labels=labels, detail=detail)


@dataclass(frozen=True)
class EgressRecord:
    """What left the worker in one outbound request: where, why, when, what was masked, how much."""

    url: str  # redacted, without user info, query or fragment
    host: str
    purpose: str
    at: datetime
    masked: dict[str, int]
    bytes_sent: int


def prepare_egress(
    redactor: Redactor, url: str, body: str, purpose: str, *, now: datetime | None = None
) -> tuple[str, EgressRecord]:
    """Redact an outbound body and describe the request; send the returned body, keep the record."""
    clean, masked = redactor.redact_counted(body)
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    where = redactor.redact(f"{parts.scheme}://{netloc}{parts.path}" if parts.scheme else parts.path)
    record = EgressRecord(
        url=where,
        host=host,
        purpose=purpose,
        at=now or datetime.now(UTC),
        masked=masked,
        bytes_sent=len(clean.encode("utf-8", errors="surrogatepass")),
    )
    return clean, record


def redact_strings(value: Any, redactor: Redactor) -> Any:
    """A copy of a JSON-like structure with every string redacted (e.g. a Block Kit message)."""
    if isinstance(value, str):
        return redactor.redact(value)
    if isinstance(value, dict):
        return {k: redact_strings(v, redactor) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_strings(v, redactor) for v in value]
    return value
