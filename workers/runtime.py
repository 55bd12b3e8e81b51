"""The composition root: builds every dependency once per process and hands it down.

RQ calls job functions by name, so the worker installs its `Runtime` before it starts and the
job entry points (and nothing else) look it up with `current()`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import redis
from slack_sdk import WebClient

from workers.atrest import storage_redactor
from workers.errors import ConfigError
from workers.evidence.config import SourcesFile, load_sources
from workers.evidence.tokens import TokenCounter, TokenizerUnavailable
from workers.executors.base import Executor
from workers.executors.registry import build_executors
from workers.incidents import IncidentStore
from workers.knowledge.service import KnowledgeDeps
from workers.llm.client import LLMClient
from workers.llm.prompts import PromptLoader
from workers.policy.governor import Governor
from workers.policy.ladder import Ladder
from workers.policy.source import PolicySource
from workers.redisconn import RedisHandle, connect
from workers.settings import Settings
from workers.slack.client import BOT_DEADLINE_S, WORKER_DEADLINE_S, make_client
from workers.startup import require_redis
from workers.triage.board import Board
from workers.triage.engine import Engine
from workers.triage.vocabulary import use_vocabulary


@dataclass(frozen=True)
class EvidenceDeps:
    """What the worker needs to pull and digest logs; absent when no sources file is configured."""

    sources: SourcesFile
    counter: TokenCounter

    @classmethod
    def build(cls, settings: Settings) -> EvidenceDeps | None:
        """Load the sources file and the tokenizer now, so a mistake stops the worker at start-up."""
        path = settings.evidence.sources_file
        if path is None:
            return None
        try:
            counter = TokenCounter.for_configured_model(settings.llm.model, settings.evidence.encodings_dir)
        except TokenizerUnavailable as exc:
            raise ConfigError([f"LLM_MODEL / EVIDENCE_ENCODINGS_DIR: {exc}"]) from exc
        return cls(sources=load_sources(path), counter=counter)


def build_engine(settings: Settings) -> Engine:
    """The triage engine; its prompts and vocabulary are checked now, so a broken file stops start-up."""
    use_vocabulary(settings.evidence.vocabulary_file)
    prompts = PromptLoader(settings.llm.prompts_dir)
    if problems := prompts.check():
        raise ConfigError([f"PROMPTS_DIR: {p}" for p in problems])
    if not settings.llm.configured:
        return Engine(llm=None, prompts=prompts)
    try:
        counter = TokenCounter.for_configured_model(settings.llm.model, settings.evidence.encodings_dir)
    except TokenizerUnavailable as exc:
        raise ConfigError([f"LLM_MODEL / EVIDENCE_ENCODINGS_DIR: {exc}"]) from exc
    llm = LLMClient(settings.llm, counter)
    return Engine(llm=llm, prompts=prompts, endpoint=llm.where + "chat/completions")


def build_ladder(
    settings: Settings, process: str, client: redis.Redis, executable: frozenset[str] = frozenset()
) -> Ladder:
    """The policy ladder on the policy file as it reads now; a malformed file stops start-up with the
    line at fault, a malformed edit later is rejected while the last good version stays."""
    if settings.policy.file is None:
        return Ladder(None, None)
    source = PolicySource(settings.policy.file, process, client)
    return Ladder(source, Governor(source.current, settings.policy.prometheus_url), executable)


@dataclass
class Runtime:
    settings: Settings
    redis: RedisHandle
    slack: WebClient
    incidents: IncidentStore
    knowledge: KnowledgeDeps
    engine: Engine
    board: Board
    ladder: Ladder
    evidence: EvidenceDeps | None = None
    executors: dict[str, Executor] = field(default_factory=dict)  # workers only

    @classmethod
    def build(cls, settings: Settings, *, worker: bool = False) -> Runtime:
        """The bot's runtime, or with `worker` a worker's: log sources and the executors (whose
        credentials only workers hold) too."""
        evidence = EvidenceDeps.build(settings) if worker else None
        executors = build_executors(settings.executors) if worker else {}
        engine = build_engine(settings)
        handle = connect(settings.redis, storage_redactor(settings))
        try:
            require_redis(handle.client, settings.redis)
            ladder = build_ladder(
                settings, "worker" if worker else "bot", handle.client, frozenset(executors)
            )
        except BaseException:
            handle.close()  # an embedded Redis must not outlive a refused start-up
            raise
        return cls(
            settings=settings,
            redis=handle,
            slack=make_client(settings.slack, WORKER_DEADLINE_S if worker else BOT_DEADLINE_S),
            incidents=IncidentStore(handle.client, settings.incident.channel_pattern),
            knowledge=KnowledgeDeps.build(handle.client, settings.llm),
            engine=engine,
            board=Board(handle.client),
            ladder=ladder,
            evidence=evidence,
            executors=executors,
        )

    def close(self) -> None:
        self.redis.close()


_installed: Runtime | None = None


def install(runtime: Runtime) -> None:
    global _installed
    _installed = runtime


def current() -> Runtime:
    if _installed is None:
        raise RuntimeError("no Runtime installed: jobs run inside `incident-copilot worker`")
    return _installed
