"""Nothing secret is stored: after a run through the real bot, worker, Redis, Slack stand-in and LLM
test server with secrets of 38 kinds planted in every input path (Events API messages, the `/triage`
text, a search, the resolution summary, log lines, the model's answers, a `kb ingest`ed postmortem and
the postmortem drafted from the channel), a scan of every key and value in Redis (RQ's job data
inflated, base64 and JSON decoded; `tests/support/redis_scan.py`) finds no 12-character piece of any
secret. `python -m tests.integration.test_secrets_at_rest` prints the figures.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import redis

from bot.localstack import PATIENCE, LocalStack
from tests.integration.conftest import new_channel, wait_answer, wait_until
from tests.support import redis_scan
from tests.support.fake_llm import FakeLLM
from tests.support.prompt_evidence import items_of
from tests.support.secrets_gen import B62, B64URL, KINDS, Kind, _simple
from workers import retention
from workers.settings import RetentionSettings

RUN = 12
EXTRA = (
    Kind("google_oauth_access", _simple("ya29.", B64URL, 60)),
    Kind("google_oauth_client_secret", _simple("GOCSPX-", B64URL, 28)),
    Kind("vault_legacy_token", _simple("VAULT_TOKEN s.", B62, 24)),
    Kind("docker_hub_token", _simple("dckr_pat_", B64URL, 27)),
    Kind("stripe_restricted_key", _simple("rk_live_", B62, 24)),
    Kind("azure_storage_connection", _simple("AccountName=a;AccountKey=", B62, 86, "==;EndpointSuffix=x")),
)
ALL = (*KINDS, *EXTRA)
PATHS = ("events", "triage", "search", "resolve", "logs", "llm", "kb", "postmortem")


def _plant(seed: int) -> tuple[dict[str, list[tuple[str, str]]], dict[str, str]]:
    """For every path, (kind, text with a secret) for each kind; and every 12-character piece → kind."""
    rng = random.Random(seed)
    planted: dict[str, list[tuple[str, str]]] = {p: [] for p in PATHS}
    runs: dict[str, str] = {}
    for path in PATHS:
        for kind in ALL:
            text, parts = kind.make(rng)
            planted[path].append((kind.name, text))
            runs.update({p[i : i + RUN]: kind.name for p in parts for i in range(len(p) - RUN + 1)})
    return planted, runs


def _answer(planted: dict[str, list[tuple[str, str]]]) -> Any:
    """A model whose every answer carries the planted secrets: in the triage summary and in
    hypotheses citing real log lines (so grounding keeps them), and in the postmortem's prose."""
    secrets = [f"llm said {text}" for _kind, text in planted["llm"]]
    third = len(secrets) // 3

    def reply(body: dict[str, Any]) -> str:
        if "prose sections of a blameless postmortem" in body["messages"][0]["content"]:
            fields = ("summary", "impact", "detection", "trigger", "resolution")
            prose = {k: secrets[i] for i, k in enumerate(fields)}
            kinds = ("root_causes", "went_well", "went_badly")
            lists = {k: secrets[5 + 3 * i : 8 + 3 * i] for i, k in enumerate(kinds)}
            return json.dumps({**prose, **lists, "lucky": [], "action_items": [], "open_questions": []})
        logs = items_of(body, "log")
        refs = [{"kind": "log", "id": i["id"], "quote": (i.get("line") or "")[:30]} for i in logs[:2]]
        hypotheses = [
            {"statement": " ".join(secrets[k : k + 3]), "confidence": "medium", "evidence": refs}
            for k in range(third, len(secrets), 3)
        ]
        summary = {
            "what": " ".join(secrets[:third]),
            "cause": secrets[0],
            "cause_confidence": "medium",
            "next": "Check the ledger pool",
        }
        return json.dumps({"summary": summary, "hypotheses": hypotheses[:8]})

    return reply


def _postmortem_file(directory: Path, planted: list[tuple[str, str]]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    texts = [t for _k, t in planted]
    third = len(texts) // 3
    body = "\n".join(
        [
            "---",
            "id: INC-2025-0042",
            f"title: ledger outage kb said {texts[0]}",
            "service: ledger",
            "---",
            "# Ledger outage",
            "## Summary",
            "kb said " + " ".join(texts[:third]),
            "## Root cause",
            "kb said " + " ".join(texts[third : 2 * third]),
            "## Resolution",
            *(f"- kb said {t}" for t in texts[2 * third :]),
        ]
    )
    path = directory / "INC-2025-0042.md"
    path.write_text(body + "\n")
    return directory


def run(workdir: Path, seed: int = 15) -> dict[str, Any]:
    """The whole run; returns what the scan found (and the figures to print)."""
    planted, runs = _plant(seed)
    logs = workdir / "ledger.log"
    now = datetime.now(UTC)
    base, incident = now - timedelta(minutes=80), now - timedelta(minutes=15)
    lines = [f"{base + timedelta(seconds=30 * i):%Y-%m-%dT%H:%M:%S}Z INFO ok {i}" for i in range(60)]
    lines += [
        f"{incident + timedelta(seconds=i):%Y-%m-%dT%H:%M:%S}Z ERROR ledger logs said {text}"
        for i, (_kind, text) in enumerate(planted["logs"])
    ]
    workdir.mkdir(parents=True, exist_ok=True)
    logs.write_text("\n".join(lines) + "\n")
    sources = workdir / "sources.yaml"
    sources.write_text(
        f"default_service: ledger\nsources:\n  - {{name: app, type: files, paths: ['{logs}']}}\n"
    )
    with FakeLLM(default=_answer(planted)) as llm:
        env = {
            "OPENAI_BASE_URL": llm.base_url,
            "OPENAI_API_KEY": "sk-test-key-for-the-fake-server",
            "LLM_MODEL": "gpt-4o-mini",
            "EVIDENCE_SOURCES_FILE": str(sources),
        }
        with LocalStack(workdir / "stack", env=env) as stack:
            return _drive(stack, planted, runs, workdir)


def _drive(
    stack: LocalStack, planted: dict[str, list[tuple[str, str]]], runs: dict[str, str], workdir: Path
) -> dict[str, Any]:
    ws = stack.standin.state
    ws.add_user("U0ALICE", "alice", "Alice Moreau")
    driver = stack.driver()
    channel, name = new_channel(stack, prefix="inc-ledger")
    start = time.time() - 600
    for i, (_kind, text) in enumerate(planted["events"]):
        said = f"events said {text}"
        ts = ws.add_message(channel, "U0ALICE", said, ts=f"{start + i:.6f}")
        assert driver.message_event(channel, "U0ALICE", said, ts).status == 200
    kb = _postmortem_file(workdir / "kb", planted["kb"])
    ingest = subprocess.run(
        [sys.executable, "-m", "bot.cli", "--env-file", os.devnull, "kb", "ingest", str(kb)],
        env=stack.env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert ingest.returncode == 0, ingest.stderr
    triage_text = "ledger down triage said " + " ".join(t for _k, t in planted["triage"])
    resp = driver.slash_command(triage_text, user_id="U0ALICE", channel_id=channel, channel_name=name)
    assert resp.status == 200
    wait_answer(stack, channel, timeout=PATIENCE)
    command = {"user_id": "U0ALICE", "channel_id": channel, "channel_name": name}
    search = "search search said " + " ".join(t for _k, t in planted["search"])
    assert driver.slash_command(search, **command).status == 200
    # A search is not stored: its one output is the reply that echoes the query, checked here too.
    assert ws.wait_for(lambda: "search said" in str(ws.response_posts()), timeout=PATIENCE)
    echoed = [("search reply", str(m)) for m in ws.response_posts() if "search said" in str(m)]
    summary = "resolve resolve said " + " ".join(t for _k, t in planted["resolve"])
    assert driver.slash_command(summary, **command).status == 200
    for i, (_kind, text) in enumerate(planted["postmortem"]):  # read by the postmortem job from history
        ws.add_message(channel, "U0ALICE", f"postmortem said {text}", ts=f"{start + 300 + i:.6f}")
    client = redis.Redis.from_url(stack.redis_url)
    try:
        assert wait_until(lambda: bool(client.keys("ic:postmortem:*")), timeout=120, interval=0.5), "no draft"
        assert wait_until(lambda: _idle(client), timeout=120, interval=0.5), "jobs still queued"
        types: Counter[str] = Counter()
        texts = list(redis_scan.stored(client, types))
        found = redis_scan.survivors(iter(texts + echoed), runs, RUN)
        witnesses = {p: sum(f"{p} said " in t for _k, t in texts + echoed) for p in PATHS}
        retention.sweep(client, RetentionSettings())
        unkept = retention.unkept(client)  # every key this run wrote has a retention rule
        # The scan itself catches a secret stored around the guard (this client writes raw).
        client.set("raw-control", planted["kb"][0][1])
        control = redis_scan.survivors(redis_scan.stored(client), runs, RUN)
    finally:
        client.close()
    return {
        "kinds": len(ALL),
        "planted": sum(len(v) for v in planted.values()),
        "keys": sum(types.values()),
        "types": dict(types),
        "values": len(texts),
        "survivors": found,
        "witnesses": witnesses,
        "control": control,
        "unkept": unkept,
    }


def _idle(client: redis.Redis) -> bool:
    queued = sum(int(client.llen(f"rq:queue:{q}")) for q in ("triage", "postmortem", "actions"))
    started = sum(int(client.zcard(f"rq:wip:{q}")) for q in ("triage", "postmortem", "actions"))
    return queued == 0 and started == 0


def test_no_secret_of_any_kind_is_stored_anywhere_in_redis(tmp_path: Path) -> None:
    result = run(tmp_path)
    assert result["kinds"] >= 25
    assert result["control"], "the scan must find a secret written around the guard"
    assert not result["survivors"], f"stored unredacted: {result['survivors']}"
    assert not result["unkept"], f"keys no retention rule bounds: {result['unkept']}"
    # Each path wrote redacted text into Redis (so each was exercised, not skipped).
    for path in PATHS:
        assert result["witnesses"][path], f"nothing from {path} was stored: {result['witnesses']}"


def main() -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.monotonic()
        result = run(Path(tmp))
    print(f"kinds of secret: {result['kinds']}; secrets planted: {result['planted']} over {len(PATHS)} paths")
    print(f"keys scanned: {result['keys']} {result['types']}; values: {result['values']}")
    by_path = ", ".join(f"{p} {n}" for p, n in result["witnesses"].items())
    print(f"values holding text of each path (search: its reply): {by_path}")
    print(f"survivors: {len(result['survivors'])} {result['survivors'] or ''}")
    print(f"control (a secret written around the guard) found: {bool(result['control'])}")
    print(f"keys no retention rule bounds: {result['unkept'] or 0}")
    print(f"run took {time.monotonic() - t0:.1f} s")


if __name__ == "__main__":
    main()
