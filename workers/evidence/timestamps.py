"""Dating log lines as they are written: the timestamp format is detected once per source, from a sample.

Each format is one regular expression with named groups (`y`/`yy` year, `mon` month number or `mname`
month name, `d`, `H`, `M`, `S`, `f` fraction, `z` zone, `ampm`, or `epoch`). A source's lines may
carry a prefix before the time (a pod or container name, a file name, `<PRI>1 `, `- 1117838570 `):
the format is searched for within the first characters of a line, no further than the sample showed.
Formats without a year (RFC 3164 syslog, klog, logcat, Proxifier) take the reference time's year
(the file's modification time, or the window's end), the year before when that would put the line
more than a day after the reference. Zoneless times are UTC.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

_MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTH_OF = {name: number for number, name in enumerate(_MONTH_NAMES, 1)}
_MONTH_RE = "(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*"
_DAY_RE = "(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*"
_CLOCK = r"(?P<H>\d{1,2}):(?P<M>\d{2}):(?P<S>\d{2})"
_FRACTION = r"(?:[.,](?P<f>\d{1,9}))?"
_ZONE = r"(?:\s?(?P<z>Z|[+-]\d{2}:?\d{2}|UTC|GMT)(?![\w:]))?"
_EPOCH_LOW, _EPOCH_HIGH = 946_684_800, 4_102_444_800  # 2000-01-01 … 2100-01-01, in seconds
SEARCH_SLACK = 24  # characters past the furthest start the sample showed
_SAMPLE_REACH = 200  # how far into a sample line a time is looked for


@dataclass(frozen=True)
class TimeFormat:
    name: str
    pattern: re.Pattern[str]
    yearless: bool = False


def _fmt(name: str, source: str, *, yearless: bool = False) -> TimeFormat:
    return TimeFormat(name, re.compile(source), yearless)


# In order of preference when two formats date the same share of a sample at the same place.
FORMATS: tuple[TimeFormat, ...] = (
    _fmt(
        "iso8601",
        r"(?<![\d.])(?P<y>\d{4})[-/.](?P<mon>\d{1,2})[-/.](?P<d>\d{1,2})[T _-]"
        r"(?P<H>\d{1,2})[:.](?P<M>\d{2})[:.](?P<S>\d{2})" + _FRACTION + _ZONE,
    ),
    _fmt("epoch", r"(?<![\w.:/-])(?P<epoch>\d{10}(?:\d{3})?)(?:\.(?P<f>\d{1,9}))?(?![\w:/-])"),
    _fmt(
        "syslog",
        rf"(?<![\w])(?:{_DAY_RE},?\s+)?(?P<mname>{_MONTH_RE})\s+(?P<d>\d{{1,2}}),?\s+(?:(?P<y>\d{{4}})\s+)?"
        + _CLOCK
        + _FRACTION
        + r"(?:\s?(?P<ampm>[AP]M))?(?:\s+(?P<y2>\d{4})\b)?"
        + _ZONE,
        yearless=True,  # unless the line gives a year
    ),
    _fmt(
        "common-log",
        rf"(?P<d>\d{{1,2}})/(?P<mname>{_MONTH_RE})/(?P<y>\d{{4}}):{_CLOCK}{_FRACTION}"
        r"(?:\s(?P<z>[+-]\d{4}))?",
    ),
    _fmt("log4j-date", rf"(?<!\d)(?P<d>\d{{1,2}}) (?P<mname>{_MONTH_RE}) (?P<y>\d{{4}}) {_CLOCK}{_FRACTION}"),
    _fmt("klog", rf"(?<![\w])[IWEF](?P<mon>\d{{2}})(?P<d>\d{{2}}) {_CLOCK}{_FRACTION}", yearless=True),
    _fmt(
        "compact",  # HDFS: 081109 203615
        r"(?<![\d.])(?P<yy>\d{2})(?P<mon>[01]\d)(?P<d>[0-3]\d) (?P<H>[0-2]\d)(?P<M>[0-5]\d)(?P<S>[0-5]\d)"
        r"(?:\.(?P<f>\d{1,9}))?(?![\d.])",
    ),
    _fmt("yy/mm/dd", rf"(?<![\d/])(?P<yy>\d{{2}})/(?P<mon>\d{{2}})/(?P<d>\d{{2}}) {_CLOCK}{_FRACTION}"),
    _fmt(  # HealthApp: 20171223-22:16:0:119
        "yyyymmdd-clock",
        r"(?<!\d)(?P<y>\d{4})(?P<mon>\d{2})(?P<d>\d{2})-(?P<H>\d{1,2}):(?P<M>\d{1,2}):(?P<S>\d{1,2})"
        r"(?:[:.](?P<f>\d{1,9}))?",
    ),
    _fmt("mm-dd", rf"(?<![\d-])(?P<mon>\d{{2}})-(?P<d>\d{{2}}) {_CLOCK}{_FRACTION}", yearless=True),
    _fmt("mm.dd", rf"(?<![\d.])(?P<mon>\d{{2}})\.(?P<d>\d{{2}}) {_CLOCK}{_FRACTION}", yearless=True),
)
FORMAT_BY_NAME = {f.name: f for f in FORMATS}


def _zone(text: str | None) -> timezone:
    if not text or text in ("Z", "UTC", "GMT"):
        return UTC
    digits = text[1:].replace(":", "")
    offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:] or 0))
    return timezone(-offset if text[0] == "-" else offset)


def _micros(fraction: str | None) -> int:
    return int(fraction[:6].ljust(6, "0")) if fraction else 0


def _year(groups: dict[str, str | None], reference: datetime) -> tuple[int, bool]:
    """The year the line gives (and True), else the reference's (and False)."""
    if groups.get("y"):
        return int(groups["y"] or 0), True
    if groups.get("y2"):
        return int(groups["y2"] or 0), True
    if groups.get("yy"):
        return 2000 + int(groups["yy"] or 0), True
    return reference.year, False


def to_datetime(found: re.Match[str], reference: datetime, *, fraction: bool = True) -> datetime | None:
    """The moment a format's match names, in UTC (to the second without `fraction`); None when it names
    no real moment."""
    groups = found.groupdict()
    if not fraction:
        groups["f"] = None
    if groups.get("epoch"):
        seconds = int(groups["epoch"] or 0)
        if seconds >= 10**12:  # millis
            seconds, millis = divmod(seconds, 1000)
            extra = millis * 1000
        else:
            extra = _micros(groups.get("f"))
        if not _EPOCH_LOW <= seconds < _EPOCH_HIGH:
            return None
        return datetime.fromtimestamp(seconds, UTC) + timedelta(microseconds=extra)
    month = _MONTH_OF.get((groups.get("mname") or "")[:3].lower()) or int(groups.get("mon") or 0)
    hour = int(groups["H"] or 0)
    if groups.get("ampm"):
        hour = hour % 12 + (12 if groups["ampm"] == "PM" else 0)
    year, given = _year(groups, reference)
    try:
        moment = datetime(
            year,
            month,
            int(groups["d"] or 0),
            hour,
            int(groups["M"] or 0),
            int(groups["S"] or 0),
            _micros(groups.get("f")),
            _zone(groups.get("z")),
        ).astimezone(UTC)
    except ValueError:
        return None
    if not given and moment > reference + timedelta(days=1):
        moment = moment.replace(year=year - 1) if not (month == 2 and moment.day == 29) else moment
    return moment


@dataclass
class Detected:
    """The format that dates most of a sample, and how far into a line its time starts at most."""

    format: TimeFormat | None
    reach: int = 0
    share: float = 0.0  # of the sample's lines


def detect(sample: Sequence[str], reference: datetime) -> Detected:
    """The format that dates the largest share of `sample`, earliest in the line on a tie."""
    lines = [line for line in sample if line.strip()]
    best = Detected(None)
    best_key: tuple[float, float] = (0.0, 0.0)
    for fmt in FORMATS:
        starts = []
        for line in lines:
            found = fmt.pattern.search(line, 0, _SAMPLE_REACH)
            if found is not None and to_datetime(found, reference) is not None:
                starts.append(found.start())
        if not starts:
            continue
        share = len(starts) / len(lines)
        key = (share, -sum(starts) / len(starts))
        if key > best_key:
            best, best_key = Detected(fmt, max(starts), share), key
    return best


@dataclass
class Dater:
    """Dates one source's lines with its detected format; a cache keeps the cost per line low.

    Lines the format does not date are tried against the other formats when they look like a new
    record (not indented), so a file that mixes two formats is still dated; continuation lines
    (indented, or matching none) take the previous line's time. `counts` says how each line went.
    """

    detected: Detected
    reference: datetime
    counts: dict[str, int] = field(default_factory=dict)
    _cache: dict[str, datetime | None] = field(default_factory=dict)  # whole time text → moment
    _bases: dict[str, datetime | None] = field(default_factory=dict)  # time text without its fraction
    _previous: datetime | None = None
    _fractions: dict[str, timedelta] = field(default_factory=dict)  # fraction text → its length of time

    def __post_init__(self) -> None:
        fmt = self.detected.format
        self._pattern = fmt.pattern if fmt else None
        self._limit = self.detected.reach + SEARCH_SLACK + 40
        self._name = fmt.name if fmt else ""

    def date(self, text: str) -> datetime | None:
        """`text`'s time, or the previous line's when it has none (counted as a continuation)."""
        found = self._pattern.search(text, 0, self._limit) if self._pattern is not None else None
        name = self._name
        if found is None:
            found, name = self._other(text)
            if found is None:
                self.counts["undated"] = self.counts.get("undated", 0) + 1
                return self._previous
        moment = self._compute(found)
        if moment is None:
            self.counts["undated"] = self.counts.get("undated", 0) + 1
            return self._previous
        self.counts[name] = self.counts.get(name, 0) + 1
        self._previous = moment
        return moment

    def record(self, moment: datetime) -> None:
        """A structured record's own time: counted as dated, and the time its continuations take."""
        self.counts["record"] = self.counts.get("record", 0) + 1
        self._previous = moment

    def _compute(self, found: re.Match[str]) -> datetime | None:
        """The match's moment, from caches: a time without a fraction whole; one with a fraction (a
        different text on nearly every line) as its part to the second, with the fraction added."""
        cut, resume = found.span("f")
        if cut < 0 or ("epoch" in found.re.groupindex and len(found.group("epoch") or "") > 10):  # millis
            key = found.group()
            if key in self._cache:
                return self._cache[key]
            if len(self._cache) > 50_000:
                self._cache.clear()
            moment = self._cache[key] = to_datetime(found, self.reference)
            return moment
        string = found.string
        start, end = found.span()
        base_key = string[start:cut] + string[resume:end]
        if base_key in self._bases:
            base = self._bases[base_key]
        else:
            if len(self._bases) > 50_000:
                self._bases.clear()
            base = self._bases[base_key] = to_datetime(found, self.reference, fraction=False)
        if base is None:
            return None
        fraction = string[cut:resume]
        step = self._fractions.get(fraction)
        if step is None:
            if len(self._fractions) > 50_000:
                self._fractions.clear()
            step = self._fractions[fraction] = timedelta(microseconds=_micros(fraction))
        return base + step

    def _other(self, text: str) -> tuple[re.Match[str] | None, str]:
        if not text or text[0] in " \t" or text.startswith(("at ", "Caused by", "...", "Traceback")):
            return None, ""
        for fmt in FORMATS:
            if fmt.pattern is self._pattern:
                continue
            found = fmt.pattern.search(text, 0, _SAMPLE_REACH // 2)
            if found is not None and to_datetime(found, self.reference) is not None:
                return found, fmt.name
        return None, ""

    def summary(self) -> str:
        """e.g. `99.8% dated (iso8601), 0.2% continuation`; empty before any line."""
        total = sum(self.counts.values())
        if not total:
            return ""
        dated = sorted(((n, k) for k, n in self.counts.items() if k != "undated"), reverse=True)
        share = sum(n for n, _ in dated) / total
        names = ", ".join(k for _, k in dated) or "no format"
        text = f"{share:.1%} dated ({names})"
        undated = self.counts.get("undated", 0)
        if undated:
            text += f", {undated / total:.1%} without a time of their own"
        return text

    def undated_only(self) -> bool:
        """Lines were read and none had a time that could be read."""
        return set(self.counts) == {"undated"}
