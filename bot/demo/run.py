"""`incident-copilot demo`: replay a bundled incident through every real component and print the
channel as a person would see it in Slack. Nothing leaves this machine."""

from __future__ import annotations

import json
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any, TextIO

from bot.localstack import LocalStack
from bot.standin.render import render_conversation

ANSWER_TIMEOUT_S = 20


def load_scenario() -> dict[str, Any]:
    return dict(json.loads(resources.files("bot.demo").joinpath("incident/scenario.json").read_text()))


def _fill(text: str, now: datetime) -> str:
    """Replace `{t-N}` with the wall-clock time N minutes ago, so the replay happens 'now'."""
    out = text
    while "{t-" in out:
        start = out.index("{t-")
        end = out.index("}", start)
        minutes = int(out[start + 3 : end])
        out = out[:start] + f"{now - timedelta(minutes=minutes):%H:%M}" + out[end + 1 :]
    return out


def replay(stack: LocalStack, scenario: dict[str, Any], now: datetime) -> tuple[str, float]:
    """Seed the workspace, deliver the conversation as Events API callbacks, run `/triage`.
    Returns the channel id and the HTTP time of the slash command."""
    ws = stack.standin.state
    channel = scenario["channel"]
    for user in scenario["users"]:
        ws.add_user(user["id"], user["name"], user["real_name"])
    ws.add_channel(channel["id"], channel["name"])
    driver = stack.driver()
    for line in scenario["conversation"]:
        at = now - timedelta(minutes=line["minutes_ago"])
        text = _fill(line["text"], now)
        ts = ws.add_message(channel["id"], line["user"], text, ts=f"{at.timestamp():.6f}")
        driver.message_event(channel["id"], line["user"], text, ts)
    triage = scenario["triage"]
    answer = driver.slash_command(
        _fill(triage["text"], now),
        user_id=triage["user"],
        channel_id=channel["id"],
        channel_name=channel["name"],
    )
    if answer.status != 200:
        raise RuntimeError(f"/triage was answered with HTTP {answer.status}: {answer.body}")
    return channel["id"], answer.elapsed


def _answered(stack: LocalStack, channel: str) -> bool:
    return any(
        m.get("bot_id") and any(b.get("type") == "header" for b in m.get("blocks") or [])
        for m in stack.standin.messages(channel)
    )


def run_demo(out: TextIO = sys.stdout) -> int:
    started = time.monotonic()
    scenario = load_scenario()
    with tempfile.TemporaryDirectory(prefix="incident-copilot-demo-") as tmp:
        workdir = Path(tmp)
        print("Starting an embedded Redis, the Slack stand-in, the bot (HTTP) and one worker…", file=out)
        with LocalStack(workdir, log_level="warning") as stack:
            channel, ack_s = replay(stack, scenario, datetime.now(UTC))
            if not stack.standin.wait_for(lambda: _answered(stack, channel), ANSWER_TIMEOUT_S):
                print(render_conversation(stack.standin, channel), file=out)
                print(
                    f"No answer within {ANSWER_TIMEOUT_S} s. Worker log:\n{stack.log('worker-0')}", file=out
                )
                return 1
            answered_s = time.monotonic() - started
            print(f"\n#{scenario['channel']['name']}, as the on-call engineer sees it:\n", file=out)
            print(render_conversation(stack.standin, channel), file=out)
            calls = len(stack.standin.calls)
        print(
            f"\n/triage acknowledged in {ack_s * 1000:.0f} ms; answer in place {answered_s:.1f} s "
            f"after start; {calls} Slack API calls. Everything stopped.",
            file=out,
        )
    return 0
