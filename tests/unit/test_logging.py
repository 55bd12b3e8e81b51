import io
import json
import logging

import structlog

from workers.logconfig import configure_logging, unit_of_work
from workers.settings import Settings

BOT_TOKEN = "xoxb-1111-2222-abcdefghijkl"
SIGNING = "8f742231b10e8888abcd99yyyzzz85a5"


def _settings(monkeypatch) -> Settings:
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING)
    monkeypatch.setenv("LOG_FORMAT", "json")
    return Settings.load(env_file=None)


def _lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_tokens_and_secrets_never_reach_a_log_line(monkeypatch) -> None:
    stream = io.StringIO()
    configure_logging(_settings(monkeypatch), stream=stream)
    log = structlog.get_logger("test")
    log.info("calling slack", token=BOT_TOKEN, headers={"Authorization": f"Bearer {BOT_TOKEN}"})
    log.info(f"signing with {SIGNING}", url="postgres://app:hunter2secret@db:5432/x")
    log.warning("user pasted a key", text="AKIAIOSFODNN7EXAMPLE and sk-proj-abcdefghijklmnopqrstuv")
    logging.getLogger("slack_sdk").warning("stdlib logger leaked %s", BOT_TOKEN)
    out = stream.getvalue()
    lines = _lines(stream)
    assert len(lines) == 4
    for secret in (
        BOT_TOKEN,
        SIGNING,
        "hunter2secret",
        "AKIAIOSFODNN7EXAMPLE",
        "sk-proj-abcdefghijklmnopqrstuv",
    ):
        assert secret not in out
    assert "[REDACTED:" in lines[0]["token"]
    assert lines[1]["url"] == "postgres://app:[REDACTED:url_password]@db:5432/x"
    assert lines[3]["logger"] == "slack_sdk"


def test_one_canonical_line_per_unit_with_bound_context(monkeypatch) -> None:
    stream = io.StringIO()
    configure_logging(_settings(monkeypatch), stream=stream)
    with unit_of_work("command handled", run_id="r-1", channel="C1") as line:
        structlog.get_logger("inner").info("step")
        line["outcome"] = "enqueued"
    structlog.get_logger("after").info("outside")
    inner, canonical, outside = _lines(stream)
    assert inner["run_id"] == "r-1" and inner["channel"] == "C1"
    assert canonical["event"] == "command handled" and canonical["outcome"] == "enqueued"
    assert canonical["duration_ms"] >= 0
    assert "run_id" not in outside
