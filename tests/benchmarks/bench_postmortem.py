"""Benchmark: the postmortem of a 5,000-message incident channel, with `ratelimited` answers injected
into the history and thread reads, through the real bot, Redis, one worker and the Slack stand-in,
with an LLM that answers at once (a real OpenAI-compatible server on loopback).

Checks that the draft's timeline is complete (every message once, none lost, none twice, every
pinned message marked) and prints the time from the signed `/triage resolve` to the uploaded draft,
the Slack calls made and the rate-limited answers waited out. The issue's bar: ≤ 60 s here.

    python tests/benchmarks/bench_postmortem.py [--messages 5000] [--ratelimits 12]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import redis  # noqa: E402

from bot.localstack import LocalStack  # noqa: E402
from tests.support.fake_llm import FakeLLM  # noqa: E402

PROSE = {
    "summary": "The orders queue backed up for an hour.",
    "impact": "Orders were delayed.",
    "detection": "An alert.",
    "root_causes": ["consumer stuck on a poison message"],
    "resolution": "Skipped the message.",
}
USERS = ["U0ALICE", "U0BRUNO", "U0CHEN", "U0DANA"]


def _seed(stack: LocalStack, channel: str, total: int) -> tuple[set[str], set[str]]:
    """`total` messages over the last 3 hours, every 10th top-level message with two replies, every
    100th pinned; returns the texts of all and of the pinned ones."""
    ws = stack.standin.state
    for u in USERS:
        ws.add_user(u, u[3:].lower(), u[3:].title() + " Example")
    start = datetime.now(UTC) - timedelta(hours=3)
    texts: set[str] = set()
    pinned: set[str] = set()
    parent = ""
    for i in range(total):
        text = f"message {i}: consumer lag at {i * 7 % 1000} on partition {i % 12}"
        ts = f"{(start + timedelta(seconds=2 * i)).timestamp():.6f}"
        reply = i % 10 in (1, 2) and parent
        made = ws.add_message(channel, USERS[i % 4], text, ts=ts, thread_ts=parent if reply else None)
        if i % 10 == 0:
            parent = made
        if i % 100 == 0:
            ws.add_reaction(channel, made, "pushpin", "U0ALICE")
            pinned.add(text)
        texts.add(text)
    return texts, pinned


def _inject(stack: LocalStack, stop: threading.Event, count: int) -> None:
    """Rate-limit one history or replies call every 0.2 s while the job reads, `count` in all."""
    methods = ("conversations.history", "conversations.replies")
    for n in range(count):
        if stop.wait(0.2):
            return
        stack.standin.rate_limit(methods[n % 2], 1, retry_after=1)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--ratelimits", type=int, default=12)
    args = parser.parse_args()
    with FakeLLM(default=lambda _body: json.dumps(PROSE)) as llm, tempfile.TemporaryDirectory() as tmp:
        env = {"OPENAI_BASE_URL": llm.base_url, "OPENAI_API_KEY": "sk-bench", "LLM_MODEL": "gpt-4o-mini"}
        with LocalStack(Path(tmp), log_level="warning", env=env) as stack:
            channel, name = "C0BENCH01", "inc-orders-backlog"
            stack.standin.state.add_channel(channel, name)
            seeded = time.monotonic()
            texts, pinned = _seed(stack, channel, args.messages)
            print(f"seeded {len(texts)} messages ({len(pinned)} pinned) in {time.monotonic() - seeded:.1f} s")
            driver = stack.driver()
            first = stack.standin.state.messages(channel)[0]
            driver.message_event(channel, first["user"], first["text"], first["ts"])  # opens the incident
            client = redis.Redis.from_url(stack.redis_url, decode_responses=True)
            deadline = time.monotonic() + 10
            while client.get(f"ic:channel:{channel}:incident") is None and time.monotonic() < deadline:
                time.sleep(0.05)
            incident = client.get(f"ic:channel:{channel}:incident")
            assert incident, "the message event opened no incident"
            stop = threading.Event()
            injector = threading.Thread(target=_inject, args=(stack, stop, args.ratelimits), daemon=True)
            calls_before = len(stack.standin.calls)
            started = time.monotonic()
            injector.start()
            driver.slash_command(
                "resolve skipped the poison message", user_id="U0ALICE", channel_id=channel, channel_name=name
            )
            done = stack.standin.wait_for(lambda: bool(stack.standin.state.files()), timeout=300)
            elapsed = time.monotonic() - started
            stop.set()
            injector.join()
            if not done:
                print(f"no draft within 300 s; worker log:\n{stack.log('worker-0')}")
                return 1
            calls = stack.standin.calls[calls_before:]
            limited = Counter(c.method for c in calls if c.status == 429)
            draft: dict[str, Any] = json.loads(client.get(f"ic:postmortem:{incident}") or "{}")
            shown = [e["what"] for e in draft["timeline"] if e["source"] in ("message", "alert")]
            keyed = {e["what"] for e in draft["timeline"] if e["key"]}
            moments = [datetime.fromisoformat(e["at"]) for e in draft["timeline"]]
            client.close()
    dupes = len(shown) - len(set(shown))
    lost = len(texts - set(shown))
    print(f"draft mode {draft['mode']}, {draft['messages_read']} messages read")
    per_method = ", ".join(f"{m} {n}" for m, n in sorted(Counter(c.method for c in calls).items()))
    print(f"Slack calls during the job: {len(calls)} ({per_method})")
    print(f"ratelimited answers waited out: {sum(limited.values())} ({dict(limited)})")
    print(
        f"timeline: {len(shown)} messages, {lost} lost, {dupes} duplicated, "
        f"{len(pinned & keyed)} of {len(pinned)} pinned marked, in order: {moments == sorted(moments)}"
    )
    print(f"resolve → draft uploaded: {elapsed:.1f} s")
    complete = lost == 0 and dupes == 0 and pinned <= keyed and moments == sorted(moments)
    met = complete and elapsed <= 60 and sum(limited.values()) > 0
    print(f"bar: timeline complete with rate limits injected, draft ≤ 60 s: {'met' if met else 'NOT met'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
