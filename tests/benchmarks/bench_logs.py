"""Benchmark: reading logs as they are written (dating, structured fields, the telling line, speed).

    python tests/benchmarks/bench_logs.py [--data PATH] [--sizes 1000000,3000000] [--big-gb 1] [--skip-speed]

1. Dating: every Loghub-2k system (`--data`, default ../shared/data, copied to a temporary folder
   whose files get a fixed modification time, 2025-12-31, for the year of year-less formats) and
   generated formats (syslog without year, klog, pod-prefixed ISO, Apache common log, Python logging,
   epoch seconds, logfmt, Docker json-file, CRI). Dated correctly: the share of lines whose time
   equals the truth (the structured CSV's time columns; the generator's times), at the truth's
   resolution. Window: the middle half of each file's time span, read through `FileSource`; the
   lines read must be exactly those the truth puts inside.
2. Structured records: generated JSON, nested JSON, bunyan and logfmt incidents whose level is only in
   a field and whose cause is only in an error or stack field: the cause words in the digest, and
   the failing template at error severity.
3. The telling line: generated templates whose numbers go bad (latency, status, heap, lag): the
   quoted line carries the bad value and the digest shows the measure's range.
4. Speed and memory: several files of varied lines (Loghub messages with every number and hex id
   redrawn, so no two lines are alike; four header formats), read and digested end to end in a fresh
   process, beside drain3 with the same masks on the same lines in another; then a 100,000-line
   window; then a big file whose window is its last hour, beside a file a tenth of its size.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.benchmarks import loggen  # noqa: E402
from workers import native  # noqa: E402
from workers.evidence.digest import Digest, digest_logs  # noqa: E402
from workers.evidence.model import LogLine, LogQuery, TimeWindow  # noqa: E402
from workers.evidence.sources.files import FileSource  # noqa: E402
from workers.evidence.tokens import TokenCounter  # noqa: E402
from workers.redaction import ConsistentRedactor  # noqa: E402

EVERYTHING = TimeWindow(datetime(1970, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
REFERENCE = datetime(2025, 12, 31, 23, 59, tzinfo=UTC)  # the files' modification time
DATING_BAR = 0.99
SPEED_BAR, DRAIN_BAR, RSS_BAR_MB, WINDOW_BAR_S = 100_000, 10.0, 300, 2.0


def _month(name: str) -> int:
    return loggen.MONTHS.index(name[:3]) + 1


def _clock(text: str) -> tuple[int, int, int, int]:
    """`HH:MM:SS[.,:]fff` as hour, minute, second, microseconds."""
    parts = re.split(r"[:.,]", text)
    micros = int(parts[3].ljust(6, "0")[:6]) if len(parts) > 3 else 0
    return int(parts[0]), int(parts[1]), int(parts[2]), micros


def _at(year: int, month: int, day: int, clock: str) -> datetime:
    hour, minute, second, micros = _clock(clock)
    return datetime(year, month, day, hour, minute, second, micros, tzinfo=UTC)


def _epoch(value: str) -> datetime:
    return datetime.fromtimestamp(int(value), UTC)


Y = REFERENCE.year
TRUTH = {
    "Android": lambda r: _at(Y, int(r["Date"][:2]), int(r["Date"][3:]), r["Time"]),
    "Apache": lambda r: datetime.strptime(r["Time"], "%a %b %d %H:%M:%S %Y").replace(tzinfo=UTC),
    "BGL": lambda r: _epoch(r["Timestamp"]),
    "HDFS": lambda r: _at(
        2000 + int(r["Date"][:2]),
        int(r["Date"][2:4]),
        int(r["Date"][4:]),
        ":".join((r["Time"].zfill(6)[:2], r["Time"].zfill(6)[2:4], r["Time"].zfill(6)[4:])),
    ),
    "HPC": lambda r: _epoch(r["Time"]),
    "HealthApp": lambda r: _at(int(r["Time"][:4]), int(r["Time"][4:6]), int(r["Time"][6:8]), r["Time"][9:]),
    "Linux": lambda r: _at(Y, _month(r["Month"]), int(r["Date"]), r["Time"]),
    "Mac": lambda r: _at(Y, _month(r["Month"]), int(r["Date"]), r["Time"]),
    "OpenSSH": lambda r: _at(Y, _month(r["Date"]), int(r["Day"]), r["Time"]),
    "OpenStack": lambda r: _at(*map(int, r["Date"].split("-")), r["Time"]),  # type: ignore[misc]
    "Proxifier": lambda r: _at(Y, int(r["Time"][:2]), int(r["Time"][3:5]), r["Time"][6:]),
    "Spark": lambda r: _at(2000 + int(r["Date"][:2]), int(r["Date"][3:5]), int(r["Date"][6:]), r["Time"]),
    "Thunderbird": lambda r: _epoch(r["Timestamp"]),
    "Windows": lambda r: _at(*map(int, r["Date"].split("-")), r["Time"]),  # type: ignore[misc]
    "Zookeeper": lambda r: _at(*map(int, r["Date"].split("-")), r["Time"]),  # type: ignore[misc]
}


def fetch(paths: list[str], window: TimeWindow, max_lines: int = 10**9) -> list[LogLine]:
    async def run() -> list[LogLine]:
        result = await FileSource("bench", paths).fetch(LogQuery("", window, max_lines))
        return list(result.iter_lines())

    return asyncio.run(run())


def check_dating(name: str, path: Path, truth: list[datetime], texts: list[str]) -> tuple[float, bool]:
    """(share dated correctly, whether the middle-half window gave exactly the true lines)."""
    lines = fetch([str(path)], EVERYTHING)
    correct = sum(line.ts == true for line, true in zip(lines, truth, strict=False)) / len(truth)
    ordered = sorted(truth)
    window = TimeWindow(ordered[len(ordered) // 4], ordered[3 * len(ordered) // 4])
    inside = fetch([str(path)], window)
    expected = Counter(t for t, true in zip(texts, truth, strict=True) if window.start <= true < window.end)
    return correct, Counter(line.text for line in inside) == expected


def dating_section(data: Path, work: Path) -> bool:
    print("\n1. Dating (share of lines dated correctly; window = middle half of the span)")
    print(f"{'source':<24} {'lines':>6} {'dated':>7} {'window':>7}  detected")
    met = True
    rows: list[tuple[str, Path, list[datetime], list[str]]] = []
    loghub = data / "loghub" / "2k"
    if loghub.is_dir():
        for system in sorted(TRUTH):
            source = loghub / system / f"{system}_2k.log"
            structured = next((loghub / system).glob("*_structured.csv"))
            with structured.open(newline="", encoding="utf-8") as handle:
                truth = [TRUTH[system](row) for row in csv.DictReader(handle)]
            copy = work / f"{system}.log"
            shutil.copyfile(source, copy)
            os.utime(copy, (REFERENCE.timestamp(), REFERENCE.timestamp()))
            texts = copy.read_text(encoding="utf-8").splitlines()
            rows.append((f"Loghub {system}", copy, truth, texts))
    else:
        print(f"  (no Loghub data under {data}: generated formats only)")
    start = datetime(2025, 11, 3, 8, 0, tzinfo=UTC)
    for made in loggen.all_formats(3000, 19, start):
        path = work / (re.sub(r"\W+", "_", made.name) + ".log")
        path.write_text("\n".join(made.lines) + "\n", encoding="utf-8")
        os.utime(path, (REFERENCE.timestamp(), REFERENCE.timestamp()))
        texts = [line.text for line in fetch([str(path)], EVERYTHING)]  # the message a record holds
        rows.append((made.name, path, made.times, texts))
    for name, path, truth, texts in rows:
        share, exact = check_dating(name, path, truth, texts)
        detected = _detected(path)
        print(f"{name:<24} {len(truth):>6} {share:>7.4f} {'exact' if exact else 'WRONG':>7}  {detected}")
        met = met and share >= DATING_BAR and exact
    return met


def _detected(path: Path) -> str:
    async def run() -> str:
        result = await FileSource("bench", [str(path)]).fetch(LogQuery("", EVERYTHING, 10**9))
        for _ in result.iter_lines():
            pass
        return result.dating.split(" ", 1)[1] if result.dating else "-"

    return asyncio.run(run())


def digest_of(baseline: list[str], incident: list[str], work: Path, name: str) -> Digest:
    base, inc = work / f"{name}-baseline.log", work / f"{name}-incident.log"
    base.write_text("\n".join(baseline) + "\n", encoding="utf-8")
    inc.write_text("\n".join(incident) + "\n", encoding="utf-8")
    base_lines, inc_lines = fetch([str(base)], EVERYTHING), fetch([str(inc)], EVERYTHING)
    stamps = [line.ts for line in inc_lines if line.ts] or [datetime.now(UTC)]
    base_stamps = [line.ts for line in base_lines if line.ts] or [datetime.now(UTC)]
    incident = TimeWindow(min(stamps), max(stamps) + timedelta(seconds=1))
    baseline = TimeWindow(min(base_stamps), max(base_stamps) + timedelta(seconds=1))
    return digest_logs(
        inc_lines,
        base_lines,
        budget_tokens=3000,
        counter=TokenCounter.for_configured_model("gpt-4o", None),
        redactor=ConsistentRedactor(),
        incident=incident,
        baseline=baseline,
    )


def structured_section(work: Path) -> bool:
    print("\n2. Structured records: cause only in an error/stack field, level only in a field")
    cases = loggen.structured(40, 7)
    words = severity = 0
    for index, case in enumerate(cases):
        digest = digest_of(case.baseline, case.incident, work, f"structured{index}")
        text = digest.render()
        words += case.cause_words in text
        severity += any(e.severity == "error" and e.kind == "new" for e in digest.entries)
    print(
        f"cause words in the digest {words}/{len(cases)}; failing template at error {severity}/{len(cases)}"
    )
    return words == severity == len(cases)


def telling_section(work: Path) -> bool:
    print("\n3. The telling line: numbers that go bad")
    cases = loggen.degrading(12, 11)
    quoted = ranged = 0
    for index, case in enumerate(cases):
        digest = digest_of(case.baseline, case.incident, work, f"degrading{index}")
        entry = next(e for e in digest.entries if e.exemplar is not None)
        quoted += case.bad_value in entry.exemplar
        ranged += any(m.startswith(case.measure + ":") for m in entry.measures)
        if index < 3:
            print(f"  {case.name}: > {entry.exemplar}\n    ~ " + "\n    ~ ".join(entry.measures))
    print(
        f"bad value in the quoted line {quoted}/{len(cases)}; the measure's range shown {ranged}/{len(cases)}"
    )
    return quoted == ranged == len(cases)


# Speed: varied lines in four header formats.
_DIGITS = re.compile(r"\d+")
_HEXRUN = re.compile(r"(?<![0-9A-Za-z])(?=[0-9a-f]*[a-f])(?=[0-9a-f]*\d)[0-9a-f]{8,}(?![0-9A-Za-z])")
HEADERS = (
    lambda t: f"{t:%Y-%m-%dT%H:%M:%S}.{t.microsecond // 1000:03d}Z ",
    lambda t: f"{loggen.MONTHS[t.month - 1]} {t.day:>2} {t:%H:%M:%S} node-7 svc[4242]: ",
    lambda t: f"I{t:%m%d %H:%M:%S}.{t.microsecond:06d}    1 main.go:88] ",
    lambda t: f"{t:%Y-%m-%d %H:%M:%S},{t.microsecond // 1000:03d} WARN [pool-1] ",
)


def contents(data: Path) -> list[str]:
    found = []
    for structured in sorted((data / "loghub" / "2k").glob("*/*_structured.csv")):
        with structured.open(newline="", encoding="utf-8") as handle:
            found += [row["Content"] for row in csv.DictReader(handle)]
    if not found:  # no Loghub data: the generator's own messages
        rng = random.Random(1)
        found = [loggen._message(rng) for _ in range(5000)]
    return found


def write_varied(data: Path, work: Path, count: int) -> list[Path]:
    rng = random.Random(count)
    messages = contents(data)

    def redraw(found: re.Match[str]) -> str:
        size = len(found.group())
        return str(rng.randrange(10 ** (size - 1) if size > 1 else 0, 10**size))

    def rehex(found: re.Match[str]) -> str:
        return "".join(rng.choice("0123456789abcdef") for _ in found.group())

    paths = []
    start = datetime(2025, 12, 31, 8, 0, tzinfo=UTC)
    per_file = count // len(HEADERS)
    for index, header in enumerate(HEADERS):
        path = work / f"varied-{count}-{index}.log"
        moment = start
        with path.open("w", encoding="utf-8") as out:
            for _ in range(per_file):
                moment += timedelta(microseconds=rng.randrange(1, 8000))
                body = _HEXRUN.sub(rehex, _DIGITS.sub(redraw, rng.choice(messages)))
                out.write(header(moment) + body + "\n")
        os.utime(path, (REFERENCE.timestamp(), REFERENCE.timestamp()))
        paths.append(path)
    return paths


def worker(kind: str, paths: list[str], window: str) -> None:
    """One measured run in this process; prints JSON with lines, wall and CPU seconds, peak RSS. The
    tokenizer is loaded before the clock starts, as a worker has it loaded before its first job."""
    counter = TokenCounter.for_configured_model("gpt-4o", None)
    started, cpu = time.perf_counter(), time.process_time()
    if kind == "ours":
        chosen = (
            EVERYTHING if window == "all" else TimeWindow(*map(datetime.fromisoformat, window.split("/")))
        )

        async def run() -> int:
            result = await FileSource("bench", paths).fetch(LogQuery("", chosen, 10**9))
            digest_logs(
                result.iter_lines(),
                budget_tokens=2000,
                counter=counter,
                redactor=ConsistentRedactor(),
                incident=chosen,
                sources=[result],
            )
            return result.line_count()

        lines = asyncio.run(run())
    else:
        import logging

        from drain3 import TemplateMiner as Drain
        from drain3.masking import MaskingInstruction
        from drain3.template_miner_config import TemplateMinerConfig

        from workers.evidence.templates import MASK_PATTERNS

        logging.disable(logging.CRITICAL)
        config = TemplateMinerConfig()
        config.masking_instructions = [MaskingInstruction(s, p.strip("<>")) for p, s in MASK_PATTERNS]
        drain = Drain(config=config)
        lines = 0
        for path in paths:
            with open(path, encoding="utf-8") as handle:
                for text in handle:
                    drain.add_log_message(text.rstrip("\n"))
                    lines += 1
    print(
        json.dumps(
            {
                "lines": lines,
                "wall": time.perf_counter() - started,
                "cpu": time.process_time() - cpu,
                "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "compiled": len(native.compiled()),
            }
        )
    )


def measure(kind: str, paths: list[Path], window: str = "all") -> dict[str, float]:
    command = [sys.executable, __file__, "--worker", kind, "--window", window, *map(str, paths)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _rate(run: dict[str, float]) -> str:
    return f"{run['lines'] / run['cpu']:>9,.0f} lines/s per core ({run['lines'] / run['wall']:,.0f}/s wall)"


def speed_section(data: Path, work: Path, sizes: list[int], big_gb: float) -> bool:
    print("\n4. Speed and memory: varied lines, read and digested end to end (fresh process each)")
    met = True
    for size in sizes:
        paths = write_varied(data, work, size)
        megabytes = sum(p.stat().st_size for p in paths) / 1e6
        ours = measure("ours", paths)
        print(
            f"{size:>10,} lines ({megabytes:,.0f} MB)  ours   {_rate(ours)}  peak RSS {ours['rss_mb']:.0f} MB"
        )
        if size == sizes[0]:
            built = f"{ours['compiled']:.0f} of {len(native.COMPILED)} modules compiled (setup.py)"
            print(f"{'':>10}  log pipeline: {built if ours['compiled'] else 'plain Python'}")
        met = met and ours["rss_mb"] <= RSS_BAR_MB
        if size == sizes[0]:
            drain = measure("drain3", paths)
            ratio = (ours["lines"] / ours["cpu"]) / (drain["lines"] / drain["cpu"])
            print(f"{'':>10}  {'':>10}        drain3 {_rate(drain)}  peak RSS {drain['rss_mb']:.0f} MB")
            print(f"{'':>10}  ratio {ratio:.1f}× drain3 (CPU time)")
            met = met and ours["lines"] / ours["cpu"] >= SPEED_BAR and ratio >= DRAIN_BAR
            window = _newest_window(paths, 100_000)
            windowed = measure("ours", paths, window)
            print(
                f"{'':>10}  a {windowed['lines']:,.0f}-line window of it: {windowed['wall']:.2f} s wall, "
                f"{windowed['cpu']:.2f} s CPU"
            )
            met = met and windowed["wall"] <= WINDOW_BAR_S
        for path in paths:
            path.unlink()
    if big_gb > 0:
        met = seek_section(work, big_gb) and met
    return met


def _newest_window(paths: list[Path], lines: int) -> str:
    """A window holding about `lines` of the newest lines of the files (read from the ISO file)."""
    iso = paths[0]
    with iso.open(encoding="utf-8") as handle:
        stamps = [line[:23] for line in handle]
    share = lines // len(paths)
    start = datetime.fromisoformat(stamps[-share] + "+00:00")
    end = datetime.fromisoformat(stamps[-1] + "+00:00") + timedelta(seconds=1)
    return f"{start.isoformat()}/{end.isoformat()}"


def write_big(path: Path, gigabytes: float) -> datetime:
    """ISO-dated lines up to `gigabytes`, a second apart per block of lines; returns the last time."""
    rng = random.Random(3)
    block = [loggen._message(rng) for _ in range(2000)]
    moment = datetime(2025, 1, 1, tzinfo=UTC)
    written, target = 0, int(gigabytes * 1e9)
    with path.open("w", encoding="utf-8") as out:
        while written < target:
            moment += timedelta(seconds=1)
            stamp = f"{moment:%Y-%m-%dT%H:%M:%S}Z "
            text = "".join(f"{stamp}{body}\n" for body in rng.sample(block, 25))
            out.write(text)
            written += len(text)
    return moment


def seek_section(work: Path, gigabytes: float) -> bool:
    print(f"\n   Seek: the last hour of a {gigabytes:g} GB file, beside a file a tenth of its size")
    timings = []
    for size in (gigabytes / 10, gigabytes):
        path = work / f"big-{size:g}.log"
        last = write_big(path, size)
        window = f"{(last - timedelta(hours=1)).isoformat()}/{(last + timedelta(seconds=1)).isoformat()}"
        run = measure("ours", [path], window)
        timings.append(run["wall"])
        gigabytes_read = path.stat().st_size / 1e9
        print(f"   {gigabytes_read:6.2f} GB: {run['lines']:,.0f} lines in the hour, {run['wall']:.2f} s wall")
        path.unlink()
    print(f"   ratio big/small {timings[1] / timings[0]:.2f} (a scan would be about 10)")
    return timings[1] / timings[0] < 2


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--sizes", default="1000000,3000000", help="line counts for speed and memory")
    parser.add_argument("--big-gb", type=float, default=1.0, help="size of the seek test's file (0: skip)")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--worker", choices=("ours", "drain3"), help=argparse.SUPPRESS)
    parser.add_argument("--window", default="all", help=argparse.SUPPRESS)
    parser.add_argument("paths", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.paths, args.window)
        return 0
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        bars = {
            "dating ≥ 0.99 and exact windows": dating_section(args.data, work),
            "structured fields 100%": structured_section(work),
            "telling line and range 100%": telling_section(work),
        }
        if not args.skip_speed:
            sizes = [int(s) for s in args.sizes.split(",")]
            bars["speed, memory, window, seek"] = speed_section(args.data, work, sizes, args.big_gb)
    print("\nBARS: " + "; ".join(f"{name}: {'MET' if ok else 'NOT MET'}" for name, ok in bars.items()))
    return 0 if all(bars.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
