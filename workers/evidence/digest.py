"""The digest: the few log templates that explain an incident, quoted verbatim and redacted, in a budget.

Findings are taken greedily in rank order (new and surging failures first) while their blocks fit the
token budget; the rendered text is then counted exactly and trimmed until it fits, so `Digest.tokens`
never exceeds the budget. Every quoted line is a redacted input line as it was, except for a visible
cut mark on very long lines and `\\xNN` escapes for control characters and undecodable bytes.
"""

from __future__ import annotations

import re
from collections import Counter, deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from workers.evidence.compare import Finding, compare, error_bursts
from workers.evidence.model import LogLine, SourceResult, TimeWindow
from workers.evidence.templates import TemplateMiner, TemplateStats, detect_severity
from workers.evidence.tokens import TokenCounter
from workers.models import LineRequest
from workers.redaction import Redactor, redact_line

MAX_QUOTE_CHARS = 500
MAX_TEMPLATE_CHARS = 200
MAX_NEWEST_CHARS = 300
QUOTE_SHARE = 0.5  # of the budget, when not every finding can be quoted
KINDS = ("new", "surging", "vanished", "steady")
_SEVERITY_RANK = {"fatal": 0, "error": 1, "warning": 2, "unknown": 3, "info": 4, "debug": 5}
_FAILURE = re.compile(
    r"(?i)\b(?:error|errors|fail\w*|panic\w*|exception|denied|refused|time[d ]?out|abort\w*|killed"
    r"|crash\w*|unreachable|severed|unavailable|terminated|corrupt\w*|cannot|can't|unable)\b"
)
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff]")
_VARIABLE_RUN = re.compile(r"<\*>(?:\s*<\*>)+")  # `<*> <*> <*>` lists as one `<*>`
_MAX_BURSTS = 3
_LISTING = "not quoted (template; <*> marks variable parts):"


def _severity(stats: TemplateStats) -> int:
    """The template's severity rank, lowered to its mildest exemplar's when its lines disagree: a
    template that gathers INFO and FATAL lines is no better evidence than its INFO lines."""
    shown = [
        _SEVERITY_RANK[s]
        for line in stats.exemplars
        if (s := line.level or detect_severity(line.text)) != "unknown"
    ]
    return max([_SEVERITY_RANK.get(stats.severity, 3), *shown])


def _tier(finding: Finding, severity: int) -> int:
    """0: new or surging failures, 1: other new or surging, 2: vanished, 3: steady failures, 4: rest."""
    failing = severity <= _SEVERITY_RANK["warning"]
    if finding.kind in ("new", "surging"):
        return 0 if failing else 1
    if finding.kind == "vanished":
        return 2
    return 3 if failing else 4


def rank_key(finding: Finding) -> tuple[int, int, bool, float]:
    """Sort key: tier, then severity, then whether the template names a failure, then score."""
    severity = _severity(finding.template)
    return (
        _tier(finding, severity),
        severity,
        _FAILURE.search(finding.template.template) is None,
        -finding.score,
    )


def _escape(char: re.Match[str]) -> str:
    code = ord(char.group())
    if 0xDC80 <= code <= 0xDCFF:  # an undecodable byte kept by the "surrogateescape" error handler
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 256 else f"\\u{code:04x}"


def _stamp(moment: datetime | None) -> str:
    return f"{moment:%m-%d %H:%M:%S}" if moment else "?"


def _window(window: TimeWindow) -> str:
    end = (
        f"{window.end:%H:%M}" if window.end.date() == window.start.date() else f"{window.end:%Y-%m-%d %H:%M}"
    )
    return f"{window.start:%Y-%m-%d %H:%M}–{end} UTC"


@dataclass(frozen=True)
class Entry:
    """One template in the digest: quoted with one redacted exemplar line, or only listed."""

    template_id: str
    kind: str
    severity: str
    incident_count: int
    baseline_count: int | None  # None without a baseline
    ratio: float | None
    first_seen: datetime | None
    last_seen: datetime | None
    template: str  # redacted, shortened for the listing
    exemplar: str | None  # redacted, escaped where unprintable, cut past MAX_QUOTE_CHARS; None: listed
    cut_chars: int = 0  # characters cut from the end of the exemplar
    measures: tuple[str, ...] = ()  # meaningful numbers that moved, e.g. "latency: baseline 95ms–130ms; …"

    def render(self, number: int) -> str:
        baseline = f" (baseline {self.baseline_count})" if self.baseline_count is not None else ""
        ratio = f" ratio {self.ratio:.1f}×" if self.ratio is not None else ""
        head = f"#{number} {self.kind} {self.severity} ×{self.incident_count}{baseline}{ratio}"
        if self.exemplar is None:
            return f"{head} [{self.template_id}] {self.template}"
        lines = self.exemplar.split("\n")
        if self.cut_chars:
            lines[-1] += f"…[+{self.cut_chars} chars]"
        seen = f"{_stamp(self.first_seen)} → {_stamp(self.last_seen)}"
        return "\n".join(
            [
                f"{head} {seen} [{self.template_id}]",
                *(f"  > {line}" for line in lines),
                *(f"  ~ {measure}" for measure in self.measures),
            ]
        )


@dataclass
class Digest:
    """What the LLM and the engineer read; `tokens` is the exact count of `render()`."""

    incident: TimeWindow
    baseline: TimeWindow | None
    budget_tokens: int
    encoding: str
    exact: bool
    sources: list[str] = field(default_factory=list)
    gaps: list[str] = field(default_factory=list)
    bursts: list[tuple[datetime, int]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    newest: list[str] = field(default_factory=list)  # the window's newest lines, when asked for them
    entries: list[Entry] = field(default_factory=list)  # quoted first, then listed, each in rank order
    cut: dict[str, int] = field(default_factory=dict)  # findings left out, by kind
    tokens: int = 0

    def render(self) -> str:
        blocks = [self._header()]
        for number, entry in enumerate(self.entries, 1):
            if entry.exemplar is None and (number == 1 or self.entries[number - 2].exemplar is not None):
                blocks.append(_LISTING)
            blocks.append(entry.render(number))
        return "\n".join(blocks + self._footer())

    def _header(self) -> str:
        baseline = _window(self.baseline) if self.baseline else "none (every template counts as new)"
        lines = [f"Log evidence — incident {_window(self.incident)}; baseline {baseline}"]
        if self.sources:
            lines.append("sources: " + "; ".join(self.sources))
        lines += [f"gap: {gap}" for gap in self.gaps]
        if self.bursts:
            peaks = sorted(sorted(self.bursts, key=lambda b: -b[1])[:_MAX_BURSTS])
            lines.append("error peaks/min: " + ", ".join(f"{at:%m-%d %H:%M} ×{n}" for at, n in peaks))
        lines += [f"note: {note}" for note in self.notes]
        if self.newest:
            lines.append(f"the newest {len(self.newest)} lines of the window, as asked:")
            lines += [f"  > {line}" for line in self.newest]
        approx = "" if self.exact else ", approximate"
        lines.append(
            f"budget {self.budget_tokens} tokens ({self.encoding}{approx}); > quotes a redacted line"
        )
        return "\n".join(lines)

    def _footer(self) -> list[str]:
        total = sum(self.cut.values())
        if not total:
            return []
        kinds = ", ".join(f"{self.cut[k]} {k}" for k in KINDS if self.cut.get(k))
        return [f"{total} more templates cut: {kinds}"]


def _printable(text: str) -> str:
    return _UNPRINTABLE.sub(_escape, text)


def _entry(finding: Finding, redactor: Redactor, *, quoted: bool, has_baseline: bool) -> Entry:
    stats = finding.template
    exemplar, cut = None, 0
    measures: tuple[str, ...] = ()
    if quoted:
        line = telling_line(stats)
        text = line.text + (f"\n{line.detail}" if line.detail else "")
        text = redactor.redact(text)  # before cutting, so that no secret is cut past recognition
        exemplar, cut = _printable(text[:MAX_QUOTE_CHARS]), max(0, len(text) - MAX_QUOTE_CHARS)
        if stats.measures is not None:
            measures = tuple(_printable(redactor.redact(m)) for m in stats.measures.describe())
    template = _printable(_VARIABLE_RUN.sub("<*>", redactor.redact(stats.template)))
    if len(template) > MAX_TEMPLATE_CHARS:
        template = template[:MAX_TEMPLATE_CHARS] + "…"
    return Entry(
        template_id=stats.id,
        kind=finding.kind,
        severity=stats.severity,
        incident_count=stats.counts.get("incident", 0),
        baseline_count=stats.counts.get("baseline", 0) if has_baseline else None,
        ratio=finding.ratio,
        first_seen=stats.first_seen,
        last_seen=stats.last_seen,
        template=template,
        exemplar=exemplar,
        cut_chars=cut,
        measures=measures,
    )


def telling_line(stats: TemplateStats) -> LogLine:
    """The line to quote: the incident window's most telling one, else the latest seen."""
    if stats.telling is not None:
        return stats.telling
    return stats.exemplars[-1] if stats.exemplars else LogLine("")


class _Candidates:
    """Ranked findings as entries, built (and redacted) only when first needed, with their token cost."""

    def __init__(self, findings: list[Finding], redactor: Redactor, counter: TokenCounter, baseline: bool):
        self.ranked = sorted(findings, key=rank_key)
        self._redactor, self._counter, self._baseline = redactor, counter, baseline
        self._built: dict[tuple[int, bool], tuple[Entry, int]] = {}

    def get(self, index: int, *, quoted: bool) -> tuple[Entry, int]:
        if (index, quoted) not in self._built:
            entry = _entry(self.ranked[index], self._redactor, quoted=quoted, has_baseline=self._baseline)
            # Numbered as if nothing before it was cut; the exact count of the whole text settles it.
            cost = self._counter.count("\n" + entry.render(index + 1))
            self._built[index, quoted] = entry, cost
        return self._built[index, quoted]


def _described(result: SourceResult) -> str:
    dating = f" ({result.dating})" if result.dating else ""
    return f"{result.source} {result.status} {result.line_count()} lines{dating}"


def _fill(digest: Digest, candidates: _Candidates, counter: TokenCounter, share: float) -> None:
    """Quote in rank order up to `share` of the budget, then list the rest while they fit."""
    most = len(candidates.ranked)
    worst_footer = f"{most} more templates cut: " + ", ".join(f"{most} {k}" for k in KINDS)
    used = counter.count(f"{digest.render()}\n{_LISTING}\n{worst_footer}")
    quoting = True
    cut: Counter[str] = Counter()
    for index, finding in enumerate(candidates.ranked):
        entry, cost = candidates.get(index, quoted=quoting)
        if quoting and used + cost > share * digest.budget_tokens:
            quoting = False
            entry, cost = candidates.get(index, quoted=False)
        if used + cost <= digest.budget_tokens:
            digest.entries.append(entry)
            used += cost
        else:
            cut[finding.kind] += 1
    digest.cut = dict(cut)


def build_digest(
    findings: list[Finding],
    bursts: Sequence[tuple[datetime, int]],
    sources: Sequence[SourceResult],
    *,
    budget_tokens: int,
    counter: TokenCounter,
    redactor: Redactor,
    incident: TimeWindow,
    baseline: TimeWindow | None,
    notes: Sequence[str] = (),
    newest: Sequence[str] = (),
) -> Digest:
    """The best-ranked findings that fit `budget_tokens`; raises ValueError if not even the header fits.

    Every finding is quoted if all fit; otherwise the best are quoted within QUOTE_SHARE of the
    budget and the next are listed by template, which costs far less, until the budget is spent.
    """
    candidates = _Candidates(findings, redactor, counter, baseline is not None)

    def attempt(share: float) -> Digest:
        digest = Digest(
            incident=incident,
            baseline=baseline,
            budget_tokens=budget_tokens,
            encoding=counter.encoding_name,
            exact=counter.exact,
            sources=[redactor.redact(_described(r)) for r in sources],
            gaps=[redactor.redact(gap) for r in sources if (gap := r.gap())],
            bursts=list(bursts),
            notes=list(notes),
            newest=list(newest),
        )
        _fill(digest, candidates, counter, share)
        return digest

    digest = attempt(1.0)
    if digest.cut:
        digest = attempt(QUOTE_SHARE)
    digest.tokens = counter.count(digest.render())
    while digest.tokens > budget_tokens and digest.entries:
        dropped = digest.entries.pop()
        digest.cut[dropped.kind] = digest.cut.get(dropped.kind, 0) + 1
        digest.tokens = counter.count(digest.render())
    if digest.tokens > budget_tokens:
        raise ValueError(f"a budget of {budget_tokens} tokens cannot hold the header ({digest.tokens})")
    return digest


def digest_logs(
    incident_lines: Iterable[LogLine],
    baseline_lines: Iterable[LogLine] = (),
    *,
    budget_tokens: int,
    counter: TokenCounter,
    redactor: Redactor,
    incident: TimeWindow,
    baseline: TimeWindow | None = None,
    sources: Sequence[SourceResult] = (),
    request: LineRequest | None = None,
    notes: Sequence[str] = (),
) -> Digest:
    """Mine, compare and digest raw lines; without a `baseline` window every template counts as new.

    `request` narrows the incident to its newest lines ("last 10 lines", which are then also quoted
    as they are) or the findings to errors and warnings ("errors only").
    """
    request = request or LineRequest()
    # Redacted as they enter, before anything (templates, numbers, counts, quotes) is derived from them.
    incident_lines = _redacted(incident_lines, redactor)
    baseline_lines = _redacted(baseline_lines, redactor)
    newest: deque[LogLine] | None = None
    if request.tail:
        newest = deque(incident_lines, maxlen=request.tail)
        incident_lines = newest
    miner = TemplateMiner()
    counts: Counter[str] = Counter()
    # The baseline first, so that an incident line's numbers are compared with the baseline's.
    for window, lines in (("baseline", baseline_lines), ("incident", incident_lines)):
        add, added, blank = miner.add, 0, 0
        for line in lines:
            if window == "baseline" and baseline is None:
                raise ValueError("baseline lines were given without a baseline window")
            if line.text and not line.text.isspace():
                add(line, window)
                added += 1
            else:
                blank += 1
        counts[window] += added
        counts["blank"] += blank
    # Without a baseline, compare against the empty window just before the incident.
    against = baseline or TimeWindow(incident.start - (incident.end - incident.start), incident.start)
    findings = compare(miner, incident, against)
    notes = [
        *notes,
        f"{counts['incident']} incident and {counts['baseline']} baseline lines, {len(findings)} templates",
    ]
    if request.errors_only:
        kept = [f for f in findings if _severity(f.template) <= _SEVERITY_RANK["warning"]]
        notes.append(f"errors only, as asked: {len(findings) - len(kept)} other templates left out")
        findings = kept
    if counts["blank"]:
        notes.append(f"{counts['blank']} blank lines skipped")
    if not counts["incident"]:
        notes.append("no log lines in the incident window")
    digest = build_digest(
        findings,
        error_bursts(miner, incident),
        sources,
        budget_tokens=budget_tokens,
        counter=counter,
        redactor=redactor,
        incident=incident,
        baseline=baseline,
        notes=notes,
        newest=[_quote(line, redactor) for line in newest or ()],
    )
    return digest


def _redacted(lines: Iterable[LogLine], redactor: Redactor) -> Iterator[LogLine]:
    """Each line redacted; one the redactor's screen passes over is left as it is, without a call."""
    screen = redactor.may_hold_secret
    for line in lines:
        yield redact_line(line, redactor) if line.labels or line.detail or screen(line.text) else line


def _quote(line: LogLine, redactor: Redactor) -> str:
    stamp = f"{line.ts:%m-%d %H:%M:%S} " if line.ts else ""
    text = redactor.redact(line.text)
    return _printable(stamp + text[:MAX_NEWEST_CHARS] + ("…" if len(text) > MAX_NEWEST_CHARS else ""))
