"""Benchmark: `/triage` to the posted answer over a 100,000-line log window, with an LLM that answers
at once (a real OpenAI-compatible server on loopback), through the real bot, Redis and one worker.

Prints p50 and p95 of the time from the signed slash command to the answer edited in place, and the
worker's per-stage breakdown (assemble: Slack reads, log reading, template mining, comparison,
digest, knowledge search; report: prompts, LLM call, grounding, board; post: thread reply and answer).
The issue's bar: p50 ≤ 5 s on this machine.

    python tests/benchmarks/bench_triage_llm.py [--runs 15] [--lines 100000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from bot.localstack import LocalStack  # noqa: E402
from tests.support.fake_llm import FakeLLM  # noqa: E402
from tests.support.prompt_evidence import items_of  # noqa: E402

TEMPLATES = [
    "INFO orders-api request ok path=/orders/{i} status=200 took={ms}ms trace={hex}",
    "INFO orders-api cache hit key=cart:{i}",
    "DEBUG orders-api db query rows={n} took={ms}ms",
    "WARN orders-api slow upstream inventory took={ms}ms",
]
INCIDENT = "ERROR orders-api redis timeout after 2000ms key=cart:{i} attempt={n}"


def write_logs(path: Path, lines: int, now: datetime) -> None:
    """`lines` lines in the last 30 minutes (a tenth of them the incident's errors), and a fifth as
    many in the hour before (the baseline)."""
    with path.open("w") as out:
        for i in range(lines // 5):
            at = now - timedelta(minutes=90) + timedelta(seconds=3600 * i / (lines // 5))
            tpl = TEMPLATES[i % len(TEMPLATES)]
            out.write(
                f"{at:%Y-%m-%dT%H:%M:%S.%f}Z " + tpl.format(i=i, ms=i % 90, hex=f"{i:016x}", n=i % 9) + "\n"
            )
        for i in range(lines):
            at = now - timedelta(minutes=29) + timedelta(seconds=1700 * i / lines)
            tpl = INCIDENT if i % 10 == 0 else TEMPLATES[i % len(TEMPLATES)]
            out.write(
                f"{at:%Y-%m-%dT%H:%M:%S.%f}Z " + tpl.format(i=i, ms=i % 900, hex=f"{i:016x}", n=i % 9) + "\n"
            )


def instant_answer(body: dict[str, Any]) -> str:
    logs = items_of(body, "log")
    ids = [i["id"] for i in logs if i["change"] == "new" and i["severity"] == "error"] or [
        i["id"] for i in logs
    ]
    return json.dumps(
        {
            "summary": {
                "what": "redis timeouts",
                "cause": "redis",
                "cause_confidence": "medium",
                "next": "check",
            },
            "hypotheses": [
                {
                    "statement": "orders-api cannot reach redis",
                    "confidence": "medium",
                    "evidence": [{"kind": "log", "id": i} for i in ids[:2]],
                }
            ],
        }
    )


def answer_posted(stack: LocalStack, channel: str) -> bool:
    return any(
        m.get("bot_id") and any(b.get("type") == "header" for b in m.get("blocks") or [])
        for m in stack.standin.messages(channel)
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def stages(log: str) -> list[dict[str, float]]:
    out = []
    for line in log.splitlines():
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        if event.get("event") == "job finished" and "assemble_s" in event:
            out.append({k: float(event[k]) for k in ("assemble_s", "report_s", "post_s")})
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--lines", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-llm-") as tmp, FakeLLM(default=instant_answer) as llm:
        logs = Path(tmp) / "orders.log"
        write_logs(logs, args.lines, datetime.now(UTC))
        sources = Path(tmp) / "sources.yaml"
        sources.write_text(
            f"default_service: orders-api\nsources:\n  - name: app\n    type: files\n    paths: ['{logs}']\n"
        )
        env = {
            "EVIDENCE_SOURCES_FILE": str(sources),
            "OPENAI_BASE_URL": llm.base_url,
            "OPENAI_API_KEY": "sk-bench",
            "LLM_MODEL": "gpt-4o-mini",
            "LOG_FORMAT": "json",
        }
        with LocalStack(Path(tmp) / "stack", env=env) as stack:
            ws = stack.standin.state
            ws.add_user("U0ONCALL", "oncall", "On Call")
            driver = stack.driver()
            totals: list[float] = []
            for n in range(args.runs):
                channel = f"C0L{n:05d}"
                ws.add_channel(channel, f"inc-llm-{n}")
                ws.add_message(channel, "U0ONCALL", "orders failing, redis?", ts=f"{time.time() - 60:.6f}")
                started = time.monotonic()
                driver.slash_command("orders failing last 30m", user_id="U0ONCALL", channel_id=channel,
                                     channel_name=f"inc-llm-{n}")  # fmt: skip
                answered = stack.standin.wait_for(partial(answer_posted, stack, channel), 120)
                if not answered:
                    print(f"run {n}: no answer within 120 s; worker log:\n{stack.log('worker-0')}")
                    return 1
                totals.append(time.monotonic() - started)
            per_stage = stages((stack.workdir / "worker-0.log").read_text(errors="replace"))
            calls = len(llm.chat_requests())
    p50, p95 = statistics.median(totals), percentile(totals, 0.95)
    print(
        f"/triage → answer: {args.runs} runs, {args.lines:,} log lines in the incident window "
        f"(+{args.lines // 5:,} baseline), instant LLM ({calls} calls)"
    )
    print(f"  end to end   p50 {p50:5.2f} s   p95 {p95:5.2f} s   max {max(totals):5.2f} s")
    for key in ("assemble_s", "report_s", "post_s"):
        values = [s[key] for s in per_stage]
        if values:
            p50_s, p95_s = statistics.median(values), percentile(values, 0.95)
            print(f"  {key[:-2]:<10}   p50 {p50_s:5.2f} s   p95 {p95_s:5.2f} s")
    print(f"bar: p50 ≤ 5 s: {'met' if p50 <= 5 else 'not met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
