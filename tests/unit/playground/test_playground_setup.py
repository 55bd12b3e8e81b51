"""What the playground hands the bot and worker: the user's LLM settings (the stack drops inherited
ones), and one log source per bundled incident, each incident's service mapped to its own."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.playground.incidents import bundled, triage_hint, write_sources
from bot.playground.run import llm_env
from workers.evidence.config import load_sources
from workers.settings import LLMSettings


def test_an_unconfigured_llm_passes_nothing_and_a_configured_one_passes_its_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_VERSION", "LLM_MODEL"):
        monkeypatch.delenv(name, raising=False)
    assert llm_env(LLMSettings()) == {}
    monkeypatch.setenv("OPENAI_BASE_URL", "http://vllm.local:8000/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-local")
    monkeypatch.setenv("LLM_MODEL", "qwen")
    assert llm_env(LLMSettings()) == {
        "OPENAI_BASE_URL": "http://vllm.local:8000/v1",
        "OPENAI_API_KEY": "sk-local",
        "LLM_MODEL": "qwen",
    }


def test_each_incident_gets_its_logs_as_happening_now_and_its_service_its_source(tmp_path: Path) -> None:
    incidents = bundled()
    assert [i.name for i in incidents] == ["checkout-latency", "email-backlog", "search-oom"]
    assert len({i.channel_id for i in incidents}) == 3 and all(i.kb is not None for i in incidents[1:])
    now = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    sources = load_sources(write_sources(incidents, tmp_path, now))
    assert sources.default_service == "payments-svc"
    assert sources.service_in("search-api pods OOMKilled") == "search-api"
    assert [s.name for s in sources.for_service("notification-worker")] == ["email-backlog"]
    staged = sorted(p.relative_to(tmp_path).as_posix() for p in (tmp_path / "logs").rglob("*.log.gz"))
    assert staged == [
        "logs/checkout-latency/checkout-api.log.gz",
        "logs/checkout-latency/payments-svc.log.gz",
        "logs/email-backlog/notification-worker.log.gz",
        "logs/search-oom/search-api.log.gz",
    ]
    with gzip.open(tmp_path / "logs/search-oom/search-api.log.gz", "rt") as staged_log:
        last = staged_log.read().splitlines()[-1]
    assert last.startswith("2026-03-01T09:29:")  # recorded up to 12:00, moved to end just before `now`
    assert triage_hint(incidents[2], now) == "/triage search-api pods OOMKilled and p99 spikes since 08:56"
