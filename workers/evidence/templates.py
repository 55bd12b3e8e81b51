"""Streaming log template mining: mask variables, strip headers, cluster lines online in bounded memory.

A line is masked first (numbers, ids, addresses, times… become typed placeholders such as `<NUM>`),
then its header (timestamp, host, pid, level, component) is set aside, and the remaining tokens are
matched against the templates that share their token count and leading token. A line close enough to
a template (the share of positions holding the same token, any two variables counting as the same,
reaches `similarity`) joins it, and the positions where they differ become `<*>`; otherwise it
starts a new template.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from workers.evidence.model import LogLine
from workers.evidence.numbers import Measures, Slot, slots

WILDCARD = "<*>"
SEVERITIES = ("fatal", "error", "warning", "info", "debug", "unknown")
_MINUTE = timedelta(minutes=1)
_RANK = {name: rank for rank, name in enumerate(("unknown", "debug", "info", "warning", "error", "fatal"))}

_MONTH_WORDS = "Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec"
_DAY_WORDS = "Mon|Tue|Wed|Thu|Fri|Sat|Sun"
_MONTH = rf"(?:{_MONTH_WORDS})[a-z]*"
_DAY = rf"(?:{_DAY_WORDS})[a-z]*"
_CLOCK = r"\d{1,2}:\d{2}:\d{2}(?:[.,:]\d+)?"
_ZONE = r"(?:\s?Z|\s?[+-]\d{2}:?\d{2}|\s?UTC)?"
_HEXD = "[0-9a-fA-F]"

# The variable shapes, in priority order; a text already replaced is never matched again.
MASK_PATTERNS: tuple[tuple[str, str], ...] = (
    ("<URL>", r"\b[a-zA-Z][\w+.-]*://[^\s\"'<>]+"),
    ("<EMAIL>", r"\b[\w.+-]+@(?:[\w-]+\.)+[A-Za-z]{2,}\b"),
    ("<UUID>", rf"\b{_HEXD}{{8}}-{_HEXD}{{4}}-{_HEXD}{{4}}-{_HEXD}{{4}}-{_HEXD}{{12}}\b"),
    (
        "<TS>",
        rf"(?:{_DAY},?\s+)?{_MONTH}\s+\d{{1,2}},?\s+(?:\d{{4}}\s+)?{_CLOCK}(?:\s+\d{{4}}\b)?"  # syslog, ctime
        rf"|\b\d{{4}}[-/.]\d{{1,2}}[-/.]\d{{1,2}}(?:[T\s:-]+{_CLOCK}{_ZONE})?"  # ISO-ish date[time]
        rf"|\b\d{{8}}-{_CLOCK}"  # 20171223-22:15:29:606
        rf"|\b\d{{1,2}}/{_MONTH}/\d{{4}}(?::{_CLOCK})?(?:\s[+-]\d{{4}})?"  # access log
        rf"|\b{_CLOCK}{_ZONE}(?!\d)",
    ),
    (
        "<IP>",
        r"(?<![\w.:])\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?(?![\w.])"
        r"|(?<![\w.:])(?=[0-9a-fA-F:]*\d)(?:[0-9a-fA-F]{0,4}:){2,7}[0-9a-fA-F]{1,4}(?![\w:])",
    ),
    ("<PATH>", r"(?<![\w.<>/])(?:~|\.{1,2})?(?:/[\w.@%+=:~-]+){2,}/?|\b[A-Za-z]:\\[^\s\"']+"),
    ("<DURATION>", r"\b\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h)\b|\b\d+(?:\.\d+)?\s(?:ms|msecs?|secs?|seconds)\b"),
    ("<HEX>", r"\b0[xX][0-9a-fA-F]+\b|\b(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{8,}\b"),
    ("<ID>", r"\b(?=[\w-]*[A-Za-z])[A-Za-z_]*\d[\w-]*|\b[A-Za-z]+_-?\d[\w-]*|\b\d+(?:_\d+)+\b"),
    ("<NUM>", r"(?<![\w<])[-+]?\d+(?:\.\d+)*\b"),
)
_SEARCHES = [(re.compile(source), placeholder) for placeholder, source in MASK_PATTERNS]
_WITHOUT_DIGITS = [_SEARCHES[0], _SEARCHES[1], _SEARCHES[5]]  # URL, EMAIL, PATH
# Masking works token by token: a whitespace-separated token with a digit in it is a whole variable
# (tried first, in one match) or holds some (then each shape is searched for in it). Multi-token shapes
# (`Jun 14 10:00:01`, `250 ms`) are joined afterwards.
_DIGIT_TOKEN = re.compile(r"(?<!\S)[^\s\d/@\\]*+[\d/@\\]\S*")
_WHOLE = re.compile("|".join(f"(?P<{placeholder[1:-1]}>{source})" for placeholder, source in MASK_PATTERNS))
_EDGES = "()[]{}<>\"',;:.#@"
_SEPARATORS = re.compile(r"([=:,;()\[\]{}<>\"'#/|@]+)")
# `Jun 14 <TS>` and `Sun Dec 04 <TS> 2005`, searched for just around the first `<TS>`.
_NAMED_DATE = re.compile(rf"(?:{_DAY},?\s+)?{_MONTH}\s+<NUM>,?\s+(?:<NUM>\s+)?<TS>(?:\s+<NUM>)?")
_SPOKEN_DURATION = re.compile(r"<NUM>\s(?:ms|msecs?|secs?|seconds)\b")
# A quantity restated in another unit (`1300 bytes (1.3 KB)`) is one variable: the restatement is
# dropped, so that lines whose size happens to get one keep the same template as those without.
_RESTATED = re.compile(r"(<NUM>\s?[A-Za-z]*) \(<NUM>\s?(?:[KMGTPE]i?B|kB|bytes|B)\)")
_TOKEN_CACHE: dict[str, str] = {}
_TOKEN_CACHE_SIZE = 100_000
_TOKEN_SHAPE = str.maketrans("123456789", "111111111")  # a 0 stays: `0x…` is hex
# A run of the same placeholder (`<NUM> <NUM>`, `@<HEX> @<HEX>`) is one variable list of any length.
_PLACEHOLDER = re.compile(r"<[A-Z]+>")
_RUN = re.compile(r"(<[A-Z]+>)(?:[\s,;]+@?\1)+")

_SEVERITY = re.compile(
    r"(?P<fatal>\b(?i:fatal|panic|emerg|emergency|critical|crit|severe)\b|\bALERT\b)"
    r"|(?P<error>\b(?i:error|err|errors)\b|\b\w*(?:Exception|Error)\b|\bTraceback\b)"
    r"|(?P<warning>\b(?i:warn|warning)\b)"
    r"|(?P<info>\b(?i:info)\b|\bNOTICE\b|\[notice\])"
    r"|(?P<debug>\b(?i:debug)\b|\bTRACE\b|\bVERBOSE\b)"
    # glog (`E0102 12:00:00.1`), logcat (`E/Tag:`, `…  123  456 E Tag:`), syslog priority (`<3>`)
    r"|^(?P<glog>[FEWI])\d{4}\s"
    r"|(?:^|\s)(?P<logcat>[VDIWEF])(?:/\w|\s+[\w.$]+:)"
    r"|^<(?P<pri>\d{1,3})>"
)
_LETTER_LEVEL = {"F": "fatal", "E": "error", "W": "warning", "I": "info", "D": "debug", "V": "debug"}
_PRI_LEVEL = ("fatal", "fatal", "fatal", "error", "warning", "info", "info", "debug")

_LEVEL_WORD = re.compile(
    r"[\[(<]?(?i:fatal|panic|crit|critical|severe|error|err|warn|warning|info|notice|debug|trace|[VDIWEF])"
    r"[\])>:,]*"
)
_COMPONENT = re.compile(r"[\w.$()/\[\]<>@-]+:")
_TOKEN = re.compile(r"[^\s|]+")
_HAS_DIGIT = re.compile(r"\d")
_ASCII_DIGIT = re.compile(r"[0-9]")
_DIGIT_RUN = re.compile(r"[0-9]+")
# A line's shape: every digit as 1 (a 0 kept before x, for `0x…`). Masking treats digits only as a
# class, so lines of one shape mask alike: the shape is what the miner's first cache is keyed on.
# A line's shape is its bytes with every digit as 1 (a 0 kept before x, for `0x…`): masking treats
# digits only as a class, so lines of one shape mask alike and the miner's first cache is keyed on it.
# Hex ids and UUIDs vary in their letters too; a line whose shape misses is looked up once more with
# them as one filler of their length, which masks the same way (`<HEX>`, `<UUID>`).
_SHAPE = bytes.maketrans(b"0123456789", b"1111111111")
_SHAPE_HEX = bytes.maketrans(b"0123456789", b"0111111111")
_HEXISH = re.compile(rb"[0-9a-fA-F]{8}(?:[0-9a-fA-F]*|(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12})")
_HEX_LETTER = re.compile(rb"[a-fA-F]")
_ALNUM = frozenset(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


def _filler(found: re.Match[bytes]) -> bytes:
    run, string = found.group(), found.string
    start, end = found.span()
    before_ok = start == 0 or string[start - 1] not in _ALNUM
    after_ok = end == len(string) or string[end] not in _ALNUM
    if not (before_ok and after_ok and (b"1" in run or b"0" in run)) or _HEX_LETTER.search(run) is None:
        return run
    uuid = len(run) == 36 and run.count(b"-") == 4
    return b"aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaa1" if uuid else b"a" * (len(run) - 1) + b"1"


def _hex_shape(shape: bytes) -> bytes:
    return _HEXISH.sub(_filler, shape)


def _mask_piece(piece: str) -> str:
    """A variable's placeholder when `piece` is one whole variable, else `piece` with each shape replaced."""
    core = piece.strip(_EDGES)
    whole = _WHOLE.fullmatch(core) if core else None
    if whole is not None:
        head = piece.index(core)
        return f"{piece[:head]}<{whole.lastgroup}>{piece[head + len(core) :]}"
    return ""


def _mask_token(token: str) -> str:
    masked = _mask_piece(token)
    if masked:
        return masked
    # A compound (`lock=42,`, `host:8080`, `taskID[7]`): mask the pieces between separators alone.
    pieces = _SEPARATORS.split(token)
    for index in range(0, len(pieces), 2):
        piece = pieces[index]
        if _HAS_DIGIT.search(piece):
            masked = _mask_piece(piece)
            if not masked:
                masked = piece
                for pattern, placeholder in _SEARCHES:
                    masked = pattern.sub(placeholder, masked)
                if _ASCII_DIGIT.search(masked):  # glued to a word (`…_13`): still a number
                    masked = _DIGIT_RUN.sub("<NUM>", masked)
            pieces[index] = masked
    return "".join(pieces)


def _cached_mask_token(found: re.Match[str]) -> str:
    token = found.group()
    if token.isdigit():
        return "<NUM>"
    key = token.translate(_TOKEN_SHAPE)  # tokens whose digits differ mask alike
    masked = _TOKEN_CACHE.get(key)
    if masked is None:
        if len(_TOKEN_CACHE) >= _TOKEN_CACHE_SIZE:
            _TOKEN_CACHE.clear()
        masked = _TOKEN_CACHE[key] = _mask_token(token)
    return masked


def mask(text: str) -> str:
    """`text` with its variable parts replaced by typed placeholders, runs of one placeholder as one."""
    if _HAS_DIGIT.search(text) is None:
        if "/" in text or "@" in text or "\\" in text:
            for pattern, placeholder in _WITHOUT_DIGITS:
                text = pattern.sub(placeholder, text)
        return text
    text = _DIGIT_TOKEN.sub(_cached_mask_token, text)
    stamp = text.find("<TS>")
    if stamp >= 0:
        named = _NAMED_DATE.search(text, max(0, stamp - 24), stamp + 12)
        if named is not None:
            text = f"{text[: named.start()]}<TS>{text[named.end() :]}"
    if "<NUM> " in text:
        text = _SPOKEN_DURATION.sub("<DURATION>", text)
    if " (<NUM>" in text:
        text = _RESTATED.sub(r"\1", text)
    return _RUN.sub(r"\1", text)


def detect_severity(text: str) -> str:
    """The line's level: the leftmost level word, exception or glog/logcat/syslog level mark wins."""
    found = _SEVERITY.search(text)
    if found is None or found.lastgroup is None:
        return "unknown"
    value = found.group(found.lastgroup)
    if found.lastgroup in ("glog", "logcat"):
        return _LETTER_LEVEL[value]
    if found.lastgroup == "pri":
        return _PRI_LEVEL[int(value) % 8]
    return found.lastgroup


def _variable(token: str) -> bool:
    return "<" in token or token in ("-", "--", "|") or token.startswith("[")


def split_header(text: str) -> str:
    """The message without its header: leading times, numbers, ids, levels, `[…]` and one `component:`.

    Works best on masked text. A header is only recognised when the line starts with a variable (so a
    message such as `Error: disk full` keeps its first word); one plain word right before
    the component is taken for a host name (`<TS> myhost sshd[<NUM>]: …`).
    """
    tokens = _TOKEN.finditer(text)
    token = next(tokens, None)
    skipped = 0
    while token is not None:
        word = token.group()
        if not (_variable(word) or (skipped and _LEVEL_WORD.fullmatch(word))):
            break
        token, skipped = next(tokens, None), skipped + 1
    if token is None or not skipped:
        return text
    if _COMPONENT.fullmatch(token.group()):
        token = next(tokens, None)
    else:
        after = next(tokens, None)
        if after is not None and _COMPONENT.fullmatch(after.group()):
            token = next(tokens, None)
    return text[token.start() :] if token is not None else text


def template_id(template: str) -> str:
    return "T" + hashlib.sha1(template.encode("utf-8", "surrogatepass")).hexdigest()[:8]


@dataclass
class TemplateStats:
    """One template and what was seen of it; `per_minute` keys are UTC minutes, floored."""

    id: str
    template: str
    severity: str
    count: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    per_minute: dict[datetime, int] = field(default_factory=dict)
    exemplars: list[LogLine] = field(default_factory=list)
    # The incident window's most telling line: its most severe, then the one whose numbers lie
    # furthest outside the baseline's, then the latest.
    telling: LogLine | None = None
    telling_rank: tuple[int, float] = (-1, 0.0)
    measures: Measures | None = None  # only for templates whose lines carry meaningful numbers


@dataclass
class _Cluster:
    tokens: list[str]
    shapes: list[str]  # `tokens`, each through `_shape`
    stats: TemplateStats
    last_used: int = 0
    evicted: bool = False  # then the caches' entries that point here are stale


class TemplateMiner:
    """Online template clustering in the spirit of Drain, with bounded memory.

    At most `max_templates` templates are kept: past that, the least recently seen of the less
    frequent half are evicted (counted in `evicted`), never one at error level or seen in the incident
    window, where a rare new error lives. Two bounded caches keep the cost per line low: a line's
    shape (its digits all alike, `_SHAPE`) to its template, then a masked line to its template.
    """

    def __init__(
        self,
        max_templates: int = 5000,
        exemplars: int = 3,
        similarity: float = 0.75,
        cache_size: int = 50_000,
    ) -> None:
        if max_templates < 1 or exemplars < 1:
            raise ValueError("max_templates and exemplars must be at least 1")
        self.max_templates = max_templates
        self.exemplars = exemplars
        self.similarity = similarity
        self.cache_size = cache_size
        self.evicted = 0
        self._clusters: dict[str, _Cluster] = {}
        self._buckets: dict[tuple[int, str], list[_Cluster]] = {}
        # shape → (its template, severity, numbers); masked line → (its template, severity)
        self._shapes: dict[bytes, tuple[_Cluster, str, tuple[Slot, ...]]] = {}
        self._cache: OrderedDict[str, tuple[_Cluster, str]] = OrderedDict()
        self._tick = 0
        self._minute_start = self._minute_end = datetime.min.replace(tzinfo=UTC)  # the current minute
        self._last_ts: datetime | None = None
        self._last_aware = self._minute_start  # `_last_ts` in UTC

    def __len__(self) -> int:
        return len(self._clusters)

    def templates(self) -> list[TemplateStats]:
        return [cluster.stats for cluster in self._clusters.values()]

    def add(self, line: LogLine, window: str = "incident") -> str:
        """Count `line` (in the window labelled `window`) into its template; returns the template id."""
        self._tick += 1
        text = line.text
        raw = text.encode("utf-8", "surrogatepass")
        key = raw.translate(_SHAPE_HEX if b"0x" in raw or b"0X" in raw else _SHAPE)
        shapes = self._shapes
        hit = shapes.get(key)
        hexless = b""
        if hit is None:
            hexless = _hex_shape(key)
            hit = shapes.get(hexless)
            if hit is not None:
                shapes[key] = hit
        if hit is None or hit[0].evicted:
            masked = mask(text)
            cluster, severity = self._cluster(masked)
            places = slots(text)
            if _ASCII_DIGIT.search(masked) is None:  # else a digit survived: this shape is not enough
                if len(shapes) >= self.cache_size * 2:
                    shapes.clear()
                shapes[key] = shapes[hexless or _hex_shape(key)] = (cluster, severity, places)
        else:
            cluster, severity, places = hit
        cluster.last_used = self._tick
        self._record(cluster.stats, line, window, line.level or severity, places)
        return cluster.stats.id

    def _cluster(self, masked: str) -> tuple[_Cluster, str]:
        hit = self._cache.get(masked)
        if hit is not None and not hit[0].evicted:
            self._cache.move_to_end(masked)
            return hit
        severity = detect_severity(masked)
        cluster = self._match(masked, severity)
        self._cache[masked] = (cluster, severity)
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return cluster, severity

    def _record(
        self, stats: TemplateStats, line: LogLine, window: str, severity: str, places: tuple[Slot, ...]
    ) -> None:
        stats.count += 1
        counts = stats.counts
        counts[window] = counts.get(window, 0) + 1
        rank = _RANK[severity]
        if rank > _RANK[stats.severity]:
            stats.severity = severity
        exemplars = stats.exemplars
        if len(exemplars) < self.exemplars:
            exemplars.append(line)
        else:  # keep the first, shift the recent ones
            del exemplars[1 if self.exemplars > 1 else 0]
            exemplars.append(line)
        outside = 0.0
        if places:
            if stats.measures is None:
                stats.measures = Measures()
            outside = stats.measures.add(line.text, places, window)
        if window == "incident":
            best_rank, best_outside = stats.telling_rank
            if rank == best_rank and outside == best_outside:
                stats.telling = line
            elif rank > best_rank or (rank == best_rank and outside > best_outside):
                stats.telling, stats.telling_rank = line, (rank, outside)
        ts = line.ts
        if ts is None:
            return
        if ts is not self._last_ts:
            self._last_ts = ts
            if ts.tzinfo is None:
                ts = self._last_aware = ts.replace(tzinfo=UTC)
            else:
                self._last_aware = ts
            if not self._minute_start <= ts < self._minute_end:
                start = datetime.fromtimestamp(int(ts.timestamp()) // 60 * 60, UTC)
                self._minute_start, self._minute_end = start, start + _MINUTE
        else:
            ts = self._last_aware
        per_minute = stats.per_minute
        at = self._minute_start
        per_minute[at] = per_minute.get(at, 0) + 1
        first = stats.first_seen
        if first is None:
            stats.first_seen = stats.last_seen = ts
        elif ts > stats.last_seen:  # type: ignore[operator]
            stats.last_seen = ts
        elif ts < first:
            stats.first_seen = ts

    def _match(self, masked: str, severity: str) -> _Cluster:
        tokens = split_header(masked).split()
        shapes = [_shape(token) for token in tokens]
        bucket = self._buckets.setdefault(_bucket_key(tokens), [])
        best, best_same = None, -1
        for cluster in bucket:
            same = sum(a == b for a, b in zip(cluster.shapes, shapes, strict=True))
            if same > best_same:
                best, best_same = cluster, same
        if best is not None and best_same >= self.similarity * len(tokens):
            if best.tokens != tokens:
                best.tokens = [_merge(a, b) for a, b in zip(best.tokens, tokens, strict=True)]
                best.shapes = [_shape(token) for token in best.tokens]
                best.stats.template = " ".join(best.tokens)
            return best
        text = " ".join(tokens)
        stats = TemplateStats(id=template_id(text), template=text, severity=severity)
        while stats.id in self._clusters:  # a template that once generalised into this text
            stats.id = template_id(stats.id + text)
        cluster = _Cluster(tokens, shapes, stats, last_used=self._tick)
        if len(self._clusters) >= self.max_templates:
            self._evict()
        bucket.append(cluster)
        self._clusters[stats.id] = cluster
        return cluster

    def _evict(self) -> None:
        """Drop a batch of the least recently seen among the less frequent half of the templates that are
        neither at error level nor seen in the incident window; with none such, nothing is dropped."""
        clusters = [c for c in self._clusters.values() if _evictable(c.stats)]
        if not clusters:
            return
        median = sorted(c.stats.count for c in clusters)[len(clusters) // 2]
        rare = sorted((c for c in clusters if c.stats.count <= median), key=lambda c: c.last_used)
        batch = max(1, self.max_templates // 20, len(self._clusters) + 1 - self.max_templates)
        for cluster in rare[:batch]:
            cluster.evicted = True
            del self._clusters[cluster.stats.id]
            self._buckets[_bucket_key(cluster.tokens)].remove(cluster)
        self.evicted += min(batch, len(rare))


def _evictable(stats: TemplateStats) -> bool:
    return _RANK[stats.severity] < _RANK["error"] and not stats.counts.get("incident")


def _shape(token: str) -> str:
    """`token` with every placeholder as `<*>`: tokens of one shape differ only in their variables."""
    return _PLACEHOLDER.sub(WILDCARD, token) if "<" in token else token


def _bucket_key(tokens: list[str]) -> tuple[int, str]:
    """Token count and leading token (`<*>` when it is variable): only templates sharing it can match."""
    return len(tokens), tokens[0] if tokens and not _variable(tokens[0]) else WILDCARD


def _merge(template: str, token: str) -> str:
    if template == token:
        return template
    shape = _shape(template)
    return shape if shape == _shape(token) else WILDCARD
