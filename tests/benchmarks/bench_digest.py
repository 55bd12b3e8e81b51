"""Benchmark of the evidence digest: alert recall and precision on Loghub BGL_2k, what it flags on a quiet
log (Thunderbird_2k), secrets surviving redaction, redaction false positives, and bad input.

    python tests/benchmarks/bench_digest.py [--data PATH] [--budget 2000]

Loghub data is read at run time from `--data` (default /work/shared/data) and never copied; parts
that need it are skipped with a message when it is absent. No network is used.
"""

from __future__ import annotations

import argparse
import base64
import csv
import random
import string
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from workers.evidence.compare import compare, error_bursts
from workers.evidence.digest import Digest, build_digest, digest_logs
from workers.evidence.model import LogLine, TimeWindow
from workers.evidence.templates import TemplateMiner
from workers.evidence.tokens import TokenCounter
from workers.redaction import ConsistentRedactor, Redactor

T0 = datetime(2025, 3, 1, 14, 0, tzinfo=UTC)


def _digest_with_ids(lines: list[LogLine], budget: int, counter: TokenCounter) -> tuple[Digest, list[str]]:
    """`digest_logs` without a baseline, keeping each line's template id for scoring."""
    miner = TemplateMiner()
    ids = [miner.add(line, "incident") for line in lines]
    stamps = [line.ts for line in lines if line.ts]
    incident = TimeWindow(min(stamps), max(stamps))
    empty_before = TimeWindow(incident.start - (incident.end - incident.start), incident.start)
    findings = compare(miner, incident, empty_before)
    digest = build_digest(
        findings,
        error_bursts(miner, incident),
        [],
        budget_tokens=budget,
        counter=counter,
        redactor=ConsistentRedactor(),
        incident=incident,
        baseline=None,
    )
    return digest, ids


def _loghub_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8", errors="surrogateescape").splitlines()


def bench_bgl(data: Path, budget: int, counter: TokenCounter) -> None:
    folder = data / "loghub/2k/BGL"
    if not folder.is_dir():
        print(f"BGL_2k: skipped, {folder} not found")
        return
    raw = _loghub_lines(folder / "BGL_2k.log")
    with (folder / "BGL_2k.log_structured.csv").open(encoding="utf-8") as f:
        truth = [(row["Label"] != "-", row["EventId"], row["Level"]) for row in csv.DictReader(f)]
    assert len(truth) == len(raw)
    # The alert tag is the first field: it is ground truth, so the digest never sees it.
    lines = []
    for text in raw:
        body = text.split(" ", 1)[1]
        lines.append(LogLine(body, datetime.fromtimestamp(int(body.split(" ", 1)[0]), UTC), "BGL_2k"))
    started = time.perf_counter()
    digest, ids = _digest_with_ids(lines, budget, counter)
    elapsed = time.perf_counter() - started

    alert_only = {e for _, e, _ in truth} - {e for alert, e, _ in truth if not alert}
    in_digest = {entry.template_id for entry in digest.entries}
    covered = [i for i, tid in enumerate(ids) if tid in in_digest]
    represented = {truth[i][1] for i in covered}
    alerts = [i for i, (alert, _, _) in enumerate(truth) if alert]
    precision = sum(truth[i][0] for i in covered) / len(covered) if covered else 0.0
    severity_kept = [i for i, (_, _, level) in enumerate(truth) if level != "INFO"]
    filter_precision = sum(truth[i][0] for i in severity_kept) / len(severity_kept)
    filter_recall = sum(truth[i][0] for i in severity_kept) / len(alerts)
    quoted = sum(e.exemplar is not None for e in digest.entries)

    print(f"BGL_2k: {len(lines)} lines, {len(alerts)} alert lines, {len(alert_only)} alert-only templates")
    print("  baseline: none (the 2k lines are a sample spread over seven months, with alerts throughout,")
    print("  so no part of the file is an alert-free baseline); every template counts as new;")
    print("  the alert tag (first field) is removed before mining")
    print(
        f"  digest: {digest.tokens}/{budget} tokens, {quoted} quoted + {len(digest.entries) - quoted} listed"
        f" templates, {sum(digest.cut.values())} cut, built in {elapsed:.2f} s"
    )
    print(f"  alert-only template recall: {len(alert_only & represented) / len(alert_only):.3f}")
    print(f"  alert line recall: {sum(truth[i][1] in represented for i in alerts) / len(alerts):.3f}")
    print(f"  precision (alert share of the {len(covered)} lines its templates cover): {precision:.3f}")
    print(f"  severity filter baseline: recall {filter_recall:.3f}, precision {filter_precision:.3f}")
    verdict = len(alert_only & represented) == len(alert_only) and precision > filter_precision
    print(f"  bar (template recall 1.0, precision > {filter_precision:.3f}): {'PASS' if verdict else 'FAIL'}")


def bench_thunderbird(data: Path, budget: int, counter: TokenCounter) -> None:
    path = data / "loghub/2k/Thunderbird/Thunderbird_2k.log"
    if not path.is_file():
        print(f"Thunderbird_2k: skipped, {path} not found")
        return
    lines = []
    for text in _loghub_lines(path):
        fields = text.split(" ", 2)
        stamp = int(fields[1]) if len(fields) > 1 and fields[1].isdigit() else 0
        lines.append(LogLine(text.split(" ", 1)[1], datetime.fromtimestamp(stamp, UTC), "Thunderbird_2k"))
    digest, _ = _digest_with_ids(lines, budget, counter)
    print(
        f"Thunderbird_2k (no alerts): {digest.tokens}/{budget} tokens, {len(digest.entries)} entries; top 8:"
    )
    for number, entry in enumerate(digest.entries[:8], 1):
        shown = entry.exemplar if entry.exemplar is not None else entry.template
        print(f"  #{number} {entry.severity:7} ×{entry.incident_count:<4} {shown[:110]}")


def _rand(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _secret(rng: random.Random, kind: str) -> tuple[str, str]:
    """(text to embed, the secret part that must not survive)."""
    alnum = string.ascii_letters + string.digits
    b64 = alnum + "+/"
    if kind == "aws_access_key":
        s = "AKIA" + _rand(rng, string.ascii_uppercase + string.digits, 16)
        return s, s
    if kind == "aws_secret_key":
        s = _rand(rng, b64, 40)
        return f"aws_secret_access_key={s}", s
    if kind == "gcp_api_key":
        s = "AIza" + _rand(rng, alnum + "_-", 35)
        return f"https://maps.googleapis.com/maps/api/geocode/json?key={s}", s
    if kind == "azure_key":
        s = base64.b64encode(rng.randbytes(64)).decode()
        return (
            f"DefaultEndpointsProtocol=https;AccountName=prodlogs;AccountKey={s};EndpointSuffix=core.windows.net",
            s,
        )
    if kind == "slack_token":
        s = f"xoxb-{rng.randrange(10**11, 10**12)}-{rng.randrange(10**12, 10**13)}-{_rand(rng, alnum, 24)}"
        return s, s
    if kind == "slack_webhook":
        s = _rand(rng, alnum, 24)
        return f"https://hooks.slack.com/services/T{_rand(rng, alnum, 8)}/B{_rand(rng, alnum, 8)}/{s}", s
    if kind == "github_token":
        s = rng.choice(["ghp_", "gho_", "ghs_"]) + _rand(rng, alnum, 36)
        return s, s
    if kind == "openai_key":
        s = "sk-proj-" + _rand(rng, alnum + "_-", 48)
        return s, s
    if kind == "anthropic_key":
        s = "sk-ant-api03-" + _rand(rng, alnum + "_-", 80)
        return s, s
    if kind == "stripe_key":
        s = rng.choice(["sk_live_", "rk_live_"]) + _rand(rng, alnum, 24)
        return s, s
    if kind == "jwt":
        payload, signature = (
            base64.urlsafe_b64encode(rng.randbytes(n)).decode().rstrip("=") for n in (30, 32)
        )
        s = f"eyJhbGciOiJIUzI1NiJ9.eyJ{payload}.{signature}"
        return f"Authorization: Bearer {s}", s
    if kind == "private_key":
        body = [base64.b64encode(rng.randbytes(48)).decode() for _ in range(4)]
        s = "\n".join(["-----BEGIN PRIVATE KEY-----", *body, "-----END PRIVATE KEY-----"])
        return f"loaded signing key {s}", body[1]
    if kind == "db_url":
        s = _rand(rng, alnum + "!*-", 14)
        scheme = rng.choice(["postgres", "mysql", "mongodb", "redis", "amqp"])
        return f"{scheme}://svc_app:{s}@db-{rng.randrange(9)}.internal:5432/orders", s
    if kind == "ado_password":
        s = _rand(rng, alnum + "!#-", 16)
        return f"Server=tcp:sql.internal,1433;Database=orders;User ID=app;Password={s};Encrypt=True", s
    if kind == "basic_auth":
        s = base64.b64encode(f"svc:{_rand(rng, alnum, 12)}".encode()).decode()
        return f"Authorization: Basic {s}", s
    s = _rand(rng, alnum, 32)  # generic_api_key
    return f'api_key="{s}"', s


KINDS = [
    "aws_access_key",
    "aws_secret_key",
    "gcp_api_key",
    "azure_key",
    "slack_token",
    "slack_webhook",
    "github_token",
    "openai_key",
    "anthropic_key",
    "stripe_key",
    "jwt",
    "private_key",
    "db_url",
    "ado_password",
    "basic_auth",
    "generic_api_key",
]
CONTEXTS = [
    "2025-03-01T14:{m:02d}:07Z ERROR payments-api request failed: upstream rejected {s}",
    "2025-03-01T14:{m:02d}:11Z WARN worker-7 retrying job 81723 with config {s}",
    "2025-03-01T14:{m:02d}:19Z INFO deploy-bot env dump: {s} region=eu-west-1",
    "Mar  1 14:{m:02d}:23 ip-10-0-3-17 app[4211]: FATAL cannot connect using {s}",
    '{{"ts":"2025-03-01T14:{m:02d}:31Z","level":"error","msg":"client error","detail":"{s}"}}',
]


def bench_redaction(data: Path, counter: TokenCounter) -> None:
    rng = random.Random(20250301)
    planted: list[tuple[str, str]] = []
    lines = []
    for n in range(320):
        kind = KINDS[n % len(KINDS)]
        text, secret = _secret(rng, kind)
        context = CONTEXTS[n % len(CONTEXTS)].format(m=n % 60, s=text)
        planted.append((kind, secret))
        lines.append(LogLine(context, T0 + timedelta(minutes=n % 60)))
    incident = TimeWindow(T0, T0 + timedelta(hours=1))
    per_line = sum(
        secret in Redactor().redact(line.text) for (_, secret), line in zip(planted, lines, strict=True)
    )
    survivors: dict[int, int] = {}
    for budget in (2000, 8000, 50000):
        text = digest_logs(
            lines, budget_tokens=budget, counter=counter, redactor=ConsistentRedactor(), incident=incident
        ).render()
        survivors[budget] = sum(secret in text for _, secret in planted)
    print(f"Redaction: {len(planted)} generated secrets of {len(KINDS)} kinds in {len(CONTEXTS)} line shapes")
    print("  survivors in digests (budgets 2000/8000/50000): " + "/".join(map(str, survivors.values())))
    print(f"  survivors when each line is redacted on its own: {per_line}")

    loghub = sorted((data / "loghub/2k").glob("*/*_2k.log"))
    if not loghub:
        print("  false positives on Loghub: skipped, data not found")
        return
    changed, total, by_system = 0, 0, Counter[str]()
    redactor = Redactor()
    for path in loghub:
        for text in _loghub_lines(path):
            total += 1
            if redactor.redact(text) != text:
                changed += 1
                by_system[path.parent.name] += 1
    detail = ", ".join(f"{name} {n}" for name, n in by_system.most_common())
    print(
        f"  false positives on {len(loghub)} Loghub 2k logs: {changed}/{total} lines changed "
        f"({changed / total:.4%}); {detail or 'none'}; masked: {redactor.counts}"
    )


def bench_bad_input(counter: TokenCounter) -> None:
    rng = random.Random(7)
    incident = TimeWindow(T0, T0 + timedelta(hours=1))
    garbage = rng.randbytes(64 * 1024)
    cases = {
        "binary garbage": [
            LogLine(chunk.decode("utf-8", "surrogateescape"), T0) for chunk in garbage.split(b"\n") if chunk
        ],
        "1 MB single line": [LogLine("ERROR " + _rand(rng, string.ascii_letters + " ", 1_000_000), T0)],
        "invalid UTF-8": [
            LogLine(b"ERROR caf\xc3 \xff\xfe broken \xed\xa0\x80 bytes %d".decode("utf-8", errors) % n, T0)
            for n in range(50)
            for errors in ("replace", "surrogateescape")
        ],
        "empty input": [],
    }
    print("Bad input (budget 1000):")
    for name, lines in cases.items():
        try:
            digest = digest_logs(
                lines, budget_tokens=1000, counter=counter, redactor=ConsistentRedactor(), incident=incident
            )
        except Exception as exc:
            print(f"  {name}: CRASH {type(exc).__name__}: {exc}")
            continue
        cut = [e.cut_chars for e in digest.entries if e.cut_chars]
        print(
            f"  {name}: ok, {digest.tokens} tokens, {len(digest.entries)} entries, notes {digest.notes}"
            + (f", exemplar cut by {cut[0]} chars" if cut else "")
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    parser.add_argument("--budget", type=int, default=2000)
    args = parser.parse_args()
    counter = TokenCounter.for_model("gpt-4")
    if not args.data.is_dir():
        print(f"note: {args.data} not found; Loghub parts are skipped")
    bench_bgl(args.data, args.budget, counter)
    bench_thunderbird(args.data, args.budget, counter)
    bench_redaction(args.data, counter)
    bench_bad_input(counter)
    return 0


if __name__ == "__main__":
    sys.exit(main())
