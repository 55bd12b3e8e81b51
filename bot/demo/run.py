"""`incident-copilot demo`: replay a bundled incident through every real component and print the
channel as a person would see it in Slack. Nothing leaves this machine."""

from __future__ import annotations

import gzip
import json
import re
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, TextIO

from pydantic import SecretStr

from bot.localstack import LocalStack
from bot.standin.render import render_conversation
from workers.knowledge.ingest import ingest_path
from workers.knowledge.store import KnowledgeStore
from workers.redisconn import connect
from workers.settings import RedisSettings
from workers.slack import ids

ANSWER_TIMEOUT_S = 180  # a cap, not a measure: generous for a busy machine
# The bundled logs were recorded as if the incident were being triaged at this instant.
LOGS_RECORDED_AT = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
_LEADING_ISO = re.compile(rb"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3})Z")


def load_scenario() -> dict[str, Any]:
    return dict(json.loads(resources.files("bot.demo").joinpath("incident/scenario.json").read_text()))


def fill_times(text: str, now: datetime) -> str:
    """Replace `{t-N}` with the wall-clock time N minutes ago, so the replay happens 'now'."""
    out = text
    while "{t-" in out:
        start = out.index("{t-")
        end = out.index("}", start)
        minutes = int(out[start + 3 : end])
        out = out[:start] + f"{now - timedelta(minutes=minutes):%H:%M}" + out[end + 1 :]
    return out


def shift_logs(source: Traversable, logs: Path, now: datetime) -> None:
    """Copy an incident's bundled `*.log.gz` into `logs` with their timestamps moved so the incident
    is happening now."""
    shift = now - LOGS_RECORDED_AT
    logs.mkdir(parents=True)
    for item in source.iterdir():
        if not item.name.endswith(".log.gz"):
            continue
        with item.open("rb") as raw, gzip.open(raw) as src, gzip.open(logs / item.name, "wb") as dst:
            for line in src:
                if m := _LEADING_ISO.match(line):
                    at = datetime.fromisoformat(m.group(1).decode()).replace(tzinfo=UTC) + shift
                    line = at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3].encode() + b"Z" + line[m.end() :]
                dst.write(line)


def stage_logs(workdir: Path, now: datetime) -> Path:
    """Stage the bundled logs (see `shift_logs`) and write the sources file that points the worker
    at them; return that file."""
    logs = workdir / "logs"
    shift_logs(resources.files("bot.demo").joinpath("incident/logs"), logs, now)
    sources = workdir / "sources.yaml"
    sources.write_text(
        "default_service: payments-svc\n"
        "sources:\n"
        "  - name: demo-logs\n"
        "    type: files\n"
        f"    paths: ['{logs}/*.log.gz']\n"
    )
    return sources


def load_knowledge(stack: LocalStack, kbs: Iterable[Traversable] = ()) -> int:
    """Ingest the bundled past incidents (the demo's, then `kbs`) into the stack's Redis, as
    `kb ingest` would; return how many were new."""
    handle = connect(RedisSettings(url=SecretStr(stack.redis_url)))
    created = 0
    try:
        for kb in [resources.files("bot.demo").joinpath("incident/kb"), *kbs]:
            with resources.as_file(kb) as folder:
                report = ingest_path(folder)
            created += len(KnowledgeStore(handle.client).upsert(report.records).created)
        return created
    finally:
        handle.close()


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
        text = fill_times(line["text"], now)
        ts = ws.add_message(channel["id"], line["user"], text, ts=f"{at.timestamp():.6f}")
        driver.message_event(channel["id"], line["user"], text, ts)
    triage = scenario["triage"]
    answer = driver.slash_command(
        fill_times(triage["text"], now),
        user_id=triage["user"],
        channel_id=channel["id"],
        channel_name=channel["name"],
    )
    if answer.status != 200:
        raise RuntimeError(f"/triage was answered with HTTP {answer.status}: {answer.body}")
    return channel["id"], answer.elapsed


def _answer(stack: LocalStack, channel: str) -> dict[str, Any] | None:
    return next(
        (
            m
            for m in stack.standin.messages(channel)
            if m.get("bot_id") and any(b.get("type") == "header" for b in m.get("blocks") or [])
        ),
        None,
    )


def _uploaded(stack: LocalStack) -> str:
    files = stack.standin.state.files()
    content = stack.standin.state.file_content(files[-1]["id"]) if files else None
    return content.decode() if content else ""


def resolve(stack: LocalStack, scenario: dict[str, Any], answer: dict[str, Any]) -> str:
    """Support the top hypothesis as the scenario's responder would, resolve the incident, and return
    the postmortem draft the bot uploads ("" if none came)."""
    driver = stack.driver()
    channel = scenario["channel"]
    votes = [
        e["value"]
        for b in answer.get("blocks") or []
        if b.get("type") == "actions"
        for e in b.get("elements", [])
        if e.get("action_id") == ids.HYP_SUPPORT
    ]
    if votes:
        driver.block_action(
            ids.HYP_SUPPORT,
            votes[0],
            user_id=scenario["support"]["user"],
            channel_id=channel["id"],
            message_ts=answer["ts"],
        )
    driver.slash_command(
        f"resolve {scenario['resolve']['text']}",
        user_id=scenario["resolve"]["user"],
        channel_id=channel["id"],
        channel_name=channel["name"],
    )
    stack.standin.wait_for(lambda: bool(_uploaded(stack)), ANSWER_TIMEOUT_S)
    return _uploaded(stack)


SHOWN_METRICS = (
    "incident_copilot_commands_total",
    "incident_copilot_jobs_total",
    "incident_copilot_decisions_total",
)


def scrape(base_url: str) -> str:
    """The counters an operator would graph first, as Prometheus serves them."""
    with urllib.request.urlopen(f"{base_url}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    return "\n".join(f"  {line}" for line in text.splitlines() if line.startswith(SHOWN_METRICS))


def run_demo(out: TextIO = sys.stdout) -> int:
    started = time.monotonic()
    scenario = load_scenario()
    with tempfile.TemporaryDirectory(prefix="incident-copilot-demo-") as tmp:
        workdir = Path(tmp)
        print("Starting an embedded Redis, the Slack stand-in, the bot (HTTP) and one worker…", file=out)
        now = datetime.now(UTC)
        sources = stage_logs(workdir, now)
        with LocalStack(workdir, log_level="warning", env={"EVIDENCE_SOURCES_FILE": str(sources)}) as stack:
            past = load_knowledge(stack)
            print(f"Knowledge base: {past} past incidents ingested.", file=out)
            channel, ack_s = replay(stack, scenario, now)
            if not stack.standin.wait_for(lambda: _answer(stack, channel) is not None, ANSWER_TIMEOUT_S):
                print(render_conversation(stack.standin, channel), file=out)
                print(
                    f"No answer within {ANSWER_TIMEOUT_S} s. Worker log:\n{stack.log('worker-0')}", file=out
                )
                return 1
            answered_s = time.monotonic() - started
            print(f"\n#{scenario['channel']['name']}, as the on-call engineer sees it:\n", file=out)
            print(render_conversation(stack.standin, channel), file=out)
            answer = _answer(stack, channel)
            assert answer is not None
            draft = resolve(stack, scenario, answer)
            print(
                "\nAfter a Support click and `/triage resolve`, the postmortem draft the bot uploads:\n",
                file=out,
            )
            print(draft or f"No draft arrived. Worker log:\n{stack.log('worker-0')}", file=out)
            calls = len(stack.standin.calls)
            print(f"\nThe bot's own /metrics after the run:\n{scrape(stack.base_url)}", file=out)
        print(
            f"\n/triage acknowledged in {ack_s * 1000:.0f} ms; answer in place {answered_s:.1f} s "
            f"after start; {calls} Slack API calls. Everything stopped.",
            file=out,
        )
    return 0
