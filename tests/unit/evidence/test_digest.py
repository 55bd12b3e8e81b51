from datetime import UTC, datetime, timedelta

import pytest

from workers.evidence.compare import Finding
from workers.evidence.digest import MAX_QUOTE_CHARS, Digest, build_digest, digest_logs
from workers.evidence.model import LogLine, SourceResult, TimeWindow
from workers.evidence.templates import TemplateStats
from workers.evidence.tokens import TokenCounter
from workers.redaction import ConsistentRedactor

T0 = datetime(2025, 3, 1, 14, 0, tzinfo=UTC)
INCIDENT = TimeWindow(T0, T0 + timedelta(hours=1))
BASELINE = TimeWindow(T0 - timedelta(hours=1), T0)
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
SEVERITIES = ["fatal", "error", "warning", "info", "debug", "unknown"]
KINDS = ["new", "surging", "vanished", "steady"]


@pytest.fixture(scope="module")
def counter() -> TokenCounter:
    return TokenCounter.for_model("gpt-4")


def _finding(n: int, *, kind: str = "new", severity: str = "error", text: str | None = None) -> Finding:
    line = (
        text
        or f"2025-03-01T14:{n % 60:02d}:00Z {severity.upper()} worker-{n} payment {n} failed: token={JWT}"
    )
    stats = TemplateStats(
        id=f"T{n}",
        template=f"<*> {severity.upper()} worker-<*> payment <*> failed: token=<*>",
        severity=severity,
        count=10 + n,
        counts={"incident": 10 + n, "baseline": 0 if kind == "new" else 2},
        first_seen=T0,
        last_seen=T0 + timedelta(minutes=n % 60),
        per_minute={T0: 10 + n},
        exemplars=[LogLine(line, T0, "files")],
    )
    ratio = None if kind == "new" else 5.0
    return Finding(template=stats, kind=kind, ratio=ratio, score=float(n))  # type: ignore[arg-type]


def _findings(count: int) -> list[Finding]:
    return [
        _finding(n, kind=KINDS[n % len(KINDS)], severity=SEVERITIES[n % len(SEVERITIES)])
        for n in range(count)
    ]


def _build(
    findings: list[Finding],
    counter: TokenCounter,
    budget: int,
    *,
    sources: list[SourceResult] | None = None,
    bursts: list[tuple[datetime, int]] | None = None,
) -> Digest:
    return build_digest(
        findings,
        bursts or [],
        sources or [],
        budget_tokens=budget,
        counter=counter,
        redactor=ConsistentRedactor(),
        incident=INCIDENT,
        baseline=BASELINE,
    )


@pytest.mark.parametrize("budget", [200, 350, 500, 800, 1200, 2000, 3000, 5000, 8000])
def test_budget_is_never_exceeded_and_tokens_are_exact(counter: TokenCounter, budget: int) -> None:
    digest = _build(_findings(300), counter, budget)
    text = digest.render()
    assert digest.tokens == counter.count(text) <= budget
    assert len(digest.entries) + sum(digest.cut.values()) == 300
    assert digest.entries, "some evidence fits every budget"
    # a tighter budget would not have room for the next finding: the budget is used, not wasted
    assert digest.tokens > budget * 0.8 or not digest.cut


def test_new_and_surging_failures_come_first(counter: TokenCounter) -> None:
    findings = [
        _finding(1, kind="steady", severity="error"),
        _finding(2, kind="new", severity="info"),
        _finding(3, kind="surging", severity="error"),
        _finding(4, kind="vanished", severity="info"),
        _finding(5, kind="new", severity="fatal"),
    ]
    digest = _build(findings, counter, 8000)
    assert [e.template_id for e in digest.entries] == ["T5", "T3", "T2", "T4", "T1"]


def test_quotes_are_verbatim_redacted_lines(counter: TokenCounter) -> None:
    redactor = ConsistentRedactor()
    findings = _findings(40)
    digest = _build(findings, counter, 8000)
    inputs = [redactor.redact(f.template.exemplars[0].text) for f in findings]
    quotes = [line[4:] for line in digest.render().splitlines() if line.startswith("  > ")]
    assert len(quotes) == 40
    for quote in quotes:
        assert quote in inputs
    assert JWT not in digest.render() and "[REDACTED:jwt#1]" in digest.render()


def test_long_exemplar_is_cut_visibly(counter: TokenCounter) -> None:
    long_line = "ERROR upstream said: " + "x" * 2000
    digest = _build([_finding(1, text=long_line)], counter, 2000)
    (entry,) = digest.entries
    assert entry.cut_chars == len(long_line) - MAX_QUOTE_CHARS
    assert entry.exemplar == long_line[:MAX_QUOTE_CHARS]
    assert f"  > {long_line[:MAX_QUOTE_CHARS]}…[+{entry.cut_chars} chars]" in digest.render()


def test_cut_findings_are_counted_by_kind(counter: TokenCounter) -> None:
    digest = _build(_findings(200), counter, 600)
    assert digest.cut and set(digest.cut) <= set(KINDS)
    footer = digest.render().splitlines()[-1]
    assert footer.startswith(f"{sum(digest.cut.values())} more templates cut: ")
    for kind, n in digest.cut.items():
        assert f"{n} {kind}" in footer


def test_listing_follows_quotes_when_not_all_fit(counter: TokenCounter) -> None:
    digest = _build(_findings(200), counter, 2000)
    quoted = [e for e in digest.entries if e.exemplar is not None]
    listed = [e for e in digest.entries if e.exemplar is None]
    assert quoted and listed
    assert digest.entries == quoted + listed
    assert all(JWT not in e.template for e in listed)


def test_gaps_and_sources_are_rendered(counter: TokenCounter) -> None:
    sources = [
        SourceResult("loki", "error", '{app="x"}', INCIDENT, note="timeout after 10 s"),
        SourceResult("files", "partial", "/var/log/*.log", INCIDENT, note="capped at 200000 lines"),
        SourceResult("es", "ok", "{}", INCIDENT, lines=[LogLine("x")]),
    ]
    digest = _build(
        _findings(5), counter, 2000, sources=sources, bursts=[(T0, 40), (T0 + timedelta(minutes=1), 90)]
    )
    text = digest.render()
    assert digest.gaps == [
        "loki: timeout after 10 s, window 14:00–15:00",
        "files: capped at 200000 lines, window 14:00–15:00",
    ]
    for gap in digest.gaps:
        assert f"gap: {gap}" in text
    assert "es ok 1 lines" in text and "14:01 ×90" in text


def test_digest_logs_end_to_end(counter: TokenCounter) -> None:
    baseline = [
        LogLine(f"INFO request {i} served in {i % 50} ms", T0 - timedelta(minutes=59 - i % 59))
        for i in range(300)
    ]
    incident = [
        LogLine(f"INFO request {i} served in {i % 50} ms", T0 + timedelta(minutes=i % 59)) for i in range(300)
    ]
    incident += [
        LogLine(f"ERROR db pool exhausted, password=hunter{i} waiters={i}", T0 + timedelta(minutes=30))
        for i in range(50)
    ]
    digest = digest_logs(
        incident,
        baseline,
        budget_tokens=1000,
        counter=counter,
        redactor=ConsistentRedactor(),
        incident=INCIDENT,
        baseline=BASELINE,
    )
    assert digest.tokens <= 1000
    first = digest.entries[0]
    assert first.kind in ("new", "surging") and first.severity == "error"
    assert first.exemplar is not None and "pool exhausted" in first.exemplar
    assert "hunter" not in digest.render()


@pytest.mark.parametrize(
    "lines",
    [
        [],
        [LogLine("")],
        [LogLine("\x00\x01\xff\ufffd" * 50 + "\udcff\udc80", T0)],
        [LogLine("E" * 1_000_000, T0)],
        [LogLine(bytes(range(256)).decode("latin-1") * 10, T0)],
    ],
    ids=["empty", "blank", "binary", "one-megabyte-line", "all-bytes"],
)
def test_bad_input_gives_a_digest_with_a_note(counter: TokenCounter, lines: list[LogLine]) -> None:
    digest = digest_logs(
        lines, budget_tokens=500, counter=counter, redactor=ConsistentRedactor(), incident=INCIDENT
    )
    text = digest.render()
    assert digest.tokens == counter.count(text) <= 500
    assert digest.notes and "baseline none" in text
    assert "\x00" not in text and "\udcff" not in text
    if not [line for line in lines if line.text.strip()]:
        assert any("no log lines" in note for note in digest.notes)


def _lines(texts: list[str], start: datetime) -> list[LogLine]:
    return [LogLine(text, start + timedelta(seconds=10 * i), "app") for i, text in enumerate(texts)]


def test_the_quoted_line_is_the_incident_windows_telling_one(counter: TokenCounter) -> None:
    baseline = _lines(
        [f"GET /pay status=200 latency={90 + i % 40}ms" for i in range(200)], T0 - timedelta(hours=1)
    )
    incident = _lines(
        [f"GET /pay status={504 if i > 80 else 200} latency={100 + 40 * i}ms" for i in range(100)]
        + ["GET /pay status=200 latency=95ms"],
        T0,
    )
    digest = digest_logs(
        incident,
        baseline,
        budget_tokens=1000,
        counter=counter,
        redactor=ConsistentRedactor(),
        incident=INCIDENT,
        baseline=BASELINE,
    )
    entry = next(e for e in digest.entries if e.exemplar)
    assert entry.exemplar is not None and "status=504 latency=4060ms" in entry.exemplar
    assert entry.measures == (
        "latency: baseline 90ms–129ms; incident 100ms → 95ms (max 4060ms)",
        "status: baseline 200; incident 200 → 200 (max 504)",
    )
    assert "  ~ latency: baseline 90ms–129ms" in digest.render()


def test_structured_fields_are_quoted_and_set_the_severity(counter: TokenCounter) -> None:
    lines = [LogLine("job aborted", T0, "app", level="error", detail="err.message: disk quota exceeded")]
    digest = digest_logs(
        lines, budget_tokens=500, counter=counter, redactor=ConsistentRedactor(), incident=INCIDENT
    )
    (entry,) = digest.entries
    assert (entry.severity, entry.exemplar) == ("error", "job aborted\nerr.message: disk quota exceeded")


def test_the_newest_lines_and_errors_only_as_asked(counter: TokenCounter) -> None:
    from workers.models import LineRequest

    lines = _lines([f"INFO tick {i}" for i in range(50)] + ["ERROR disk full on /data", "INFO tock"], T0)
    digest = digest_logs(
        lines,
        budget_tokens=800,
        counter=counter,
        redactor=ConsistentRedactor(),
        incident=INCIDENT,
        request=LineRequest(tail=3, errors_only=True),
    )
    text = digest.render()
    assert "the newest 3 lines of the window, as asked:" in text
    assert [line.split(" ", 2)[2] for line in digest.newest] == [
        "INFO tick 49",
        "ERROR disk full on /data",
        "INFO tock",
    ]
    assert [e.severity for e in digest.entries] == ["error"]
    assert any(note.startswith("errors only, as asked: 2 other templates left out") for note in digest.notes)
