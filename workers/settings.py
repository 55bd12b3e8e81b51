"""Configuration: one `Settings` object built once at start-up and passed down explicitly.

Every value comes from the environment, a `.env` file, or one file per variable in a secrets
directory (`SECRETS_DIR`, default `/run/secrets` when it exists), in that order of precedence.
The variable names are fixed by the design (operators and docs depend on them).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from workers.alerts.settings import AlertSettings
from workers.errors import ConfigError

Role = Literal["bot", "worker", "triage"]


def _section(prefix: str) -> SettingsConfigDict:
    return SettingsConfigDict(env_prefix=prefix, extra="ignore", case_sensitive=False)


class SlackSettings(BaseSettings):
    model_config = _section("SLACK_")

    bot_token: SecretStr | None = Field(None, description="bot token, xoxb-…")
    signing_secret: SecretStr | None = Field(None, description="the app's signing secret")
    app_token: SecretStr | None = Field(None, description="app-level token for Socket Mode, xapp-…")
    api_url: str = Field("https://slack.com/api/", description="Web API base URL ending in /")
    app_id: str | None = Field(
        None,
        description="the app's id (A…); interactive payloads naming another app are refused "
        "(unset: read from Slack with bots.info)",
    )

    @field_validator("bot_token")
    @classmethod
    def _bot_token_shape(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and not v.get_secret_value().startswith("xoxb-"):
            raise ValueError("must be a bot token starting with xoxb-")
        return v

    @field_validator("app_token")
    @classmethod
    def _app_token_shape(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and not v.get_secret_value().startswith("xapp-"):
            raise ValueError("must be an app-level token starting with xapp- (Socket Mode)")
        return v

    @field_validator("bot_token", "signing_secret", "app_token", mode="before")
    @classmethod
    def _blank_is_unset(cls, v: Any) -> Any:
        return None if isinstance(v, str) and not v.strip() else v

    @field_validator("api_url")
    @classmethod
    def _api_url_shape(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL such as https://slack.com/api/")
        return v if v.endswith("/") else v + "/"


class RedisSettings(BaseSettings):
    model_config = _section("REDIS_")

    url: SecretStr | None = Field(None, description="redis://, rediss:// or unix:// URL; unset: embedded")
    embedded_dir: Path = Field(
        default_factory=lambda: (
            Path(os.environ.get("XDG_STATE_HOME", Path.home() / ".local/state")) / "incident-copilot"
        ),
        description="where the embedded Redis keeps its socket and data",
    )
    at_rest_key: SecretStr | None = Field(
        default=None, description="keys the tags of values redacted in Redis (unset: SLACK_BOT_TOKEN)"
    )

    @field_validator("url", mode="before")
    @classmethod
    def _url_shape(cls, v: Any) -> Any:
        if isinstance(v, str):
            if not v.strip():
                return None
            if not v.startswith(("redis://", "rediss://", "unix://")):
                raise ValueError("must look like redis://host:6379/0, rediss://… or unix:///path/redis.sock")
        return v


class RetentionSettings(BaseSettings):
    """How long each kind of Redis key is kept after its last write, in days (see workers/retention.py).
    The audit trail is kept longest: export it (`incident-copilot audit export`) before it expires."""

    model_config = _section("RETENTION_")

    incident: float = Field(default=90, gt=0, description="the incident and any part not listed below")
    messages: float = Field(default=90, gt=0, description="channel messages kept per incident (Events API)")
    board: float = Field(default=90, gt=0, description="hypothesis board, its timeline and verdicts")
    findings: float = Field(default=90, gt=0, description="findings, log signature, milestones, triage runs")
    egress: float = Field(default=90, gt=0, description="records of what left for the LLM")
    channel: float = Field(default=90, gt=0, description="channel → incident pointers")
    postmortem: float = Field(default=365, gt=0, description="drafts (the filed record stays in the kb)")
    audit: float = Field(default=400, gt=0, description="the audit trail, per incident and global")

    @model_validator(mode="after")
    def _audit_longest(self) -> RetentionSettings:
        shorter = [k for k, v in self.model_dump().items() if k != "audit" and v > self.audit]
        if shorter:
            raise ValueError(
                f"the audit trail must be kept longest, but RETENTION_AUDIT ({self.audit:g} days) is shorter "
                f"than {', '.join('RETENTION_' + k.upper() for k in shorter)}: raise RETENTION_AUDIT"
            )
        return self


class LLMSettings(BaseSettings):
    model_config = _section("")

    api_key: SecretStr | None = Field(None, validation_alias=AliasChoices("OPENAI_API_KEY"))
    base_url: str | None = Field(None, validation_alias=AliasChoices("OPENAI_BASE_URL"))
    model: str = Field("gpt-4o-mini", validation_alias=AliasChoices("LLM_MODEL"))
    embeddings_model: str | None = Field(None, validation_alias=AliasChoices("EMBEDDINGS_MODEL"))
    api_version: str | None = Field(
        None, validation_alias=AliasChoices("OPENAI_API_VERSION"), description="set for Azure OpenAI"
    )
    timeout_s: float = Field(60.0, gt=0, le=600, validation_alias=AliasChoices("LLM_TIMEOUT_S"))
    max_retries: int = Field(3, ge=0, le=10, validation_alias=AliasChoices("LLM_MAX_RETRIES"))
    context_window: int | None = Field(
        None, ge=1024, validation_alias=AliasChoices("LLM_CONTEXT_WINDOW"), description="unset: by model"
    )
    max_output_tokens: int | None = Field(
        None, ge=128, validation_alias=AliasChoices("LLM_MAX_OUTPUT_TOKENS"), description="unset: by model"
    )
    price_input_per_mtok: float = Field(0.0, ge=0, validation_alias=AliasChoices("LLM_PRICE_INPUT_PER_MTOK"))
    price_output_per_mtok: float = Field(
        0.0, ge=0, validation_alias=AliasChoices("LLM_PRICE_OUTPUT_PER_MTOK")
    )
    budget_tokens: int = Field(40_000, ge=1000, validation_alias=AliasChoices("LLM_BUDGET_TOKENS"))
    budget_cost_usd: float = Field(0.5, ge=0, validation_alias=AliasChoices("LLM_BUDGET_COST_USD"))
    budget_seconds: float = Field(90.0, gt=0, validation_alias=AliasChoices("LLM_BUDGET_SECONDS"))
    prompts_dir: Path | None = Field(
        None, validation_alias=AliasChoices("PROMPTS_DIR"), description="unset: the packaged prompts"
    )

    @field_validator("prompts_dir")
    @classmethod
    def _prompts_dir_exists(cls, v: Path | None) -> Path | None:
        if v is not None and not v.is_dir():
            raise ValueError(f"no such directory: {v} (point it at a copy of prompts/, or unset it)")
        return v

    @field_validator("base_url")
    @classmethod
    def _base_url_shape(cls, v: str | None) -> str | None:
        if v is not None and v.strip() and not v.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL such as http://vllm:8000/v1")
        return v or None

    @property
    def configured(self) -> bool:
        """Without a key or a base URL the engine runs in evidence-only mode."""
        return self.api_key is not None or self.base_url is not None


class IncidentSettings(BaseSettings):
    model_config = _section("INCIDENT_")

    channel_pattern: str = Field("inc-*", description="glob for incident channel names")
    default_window_minutes: int = Field(30, ge=1, le=7 * 24 * 60)
    timezone: str = Field("UTC", description="IANA zone for times like 'since 10:40'")
    history_limit: int = Field(20, ge=1, le=200, description="channel messages shown in context")

    @field_validator("timezone")
    @classmethod
    def _zone_exists(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("must be an IANA time zone such as UTC or Europe/Berlin") from None
        return v


class EvidenceSettings(BaseSettings):
    model_config = _section("EVIDENCE_")

    sources_file: Path | None = Field(None, description="YAML file of log sources (see README)")
    budget_tokens: int = Field(2000, ge=200, le=200_000, description="token budget of the digest")
    baseline_minutes: int = Field(60, ge=5, le=7 * 24 * 60, description="baseline window before the incident")
    max_lines: int = Field(
        5_000_000, ge=1, le=100_000_000, description="lines read per source and window; the newest are kept"
    )
    encodings_dir: Path | None = Field(None, description="extra tiktoken encoding files, <name>.tiktoken")
    vocabulary_file: Path | None = Field(
        None, description="failure mechanisms and change events (default: the packaged vocabulary.yaml)"
    )

    @field_validator("sources_file", "encodings_dir", "vocabulary_file", mode="before")
    @classmethod
    def _blank_is_unset(cls, v: Any) -> Any:
        return None if isinstance(v, str) and not v.strip() else v

    @field_validator("sources_file", "vocabulary_file")
    @classmethod
    def _file_exists(cls, v: Path | None) -> Path | None:
        if v is not None and not v.is_file():
            raise ValueError(f"no such file: {v}")
        return v


class PostmortemSettings(BaseSettings):
    model_config = _section("POSTMORTEM_")

    pin_reaction: str = Field(
        "pushpin", pattern=r"^[a-z0-9_+-]+$", description="reaction that marks a key timeline event"
    )
    lookback_minutes: int = Field(
        240, ge=0, le=7 * 24 * 60, description="channel history read before the incident opened"
    )
    channel: str = Field("", description="where drafts go when the incident channel is archived")
    page_size: int = Field(
        200, ge=1, le=999, description="messages asked for per Slack history or thread page"
    )


class PolicySettings(BaseSettings):
    model_config = _section("")

    file: Path | None = Field(
        None,
        validation_alias=AliasChoices("POLICY_FILE"),
        description="the action policy (see policies/default.yaml); unset: every action is only suggested",
    )
    prometheus_url: str | None = Field(
        None, validation_alias=AliasChoices("PROMETHEUS_URL"), description="for the error-budget governor"
    )

    @field_validator("file")
    @classmethod
    def _policy_exists(cls, v: Path | None) -> Path | None:
        if v is not None and not v.is_file():
            raise ValueError(f"no such file: {v}")
        return v


class ExecutorSettings(BaseSettings):
    """Where approved actions run. Read by workers only: the bot never holds these credentials."""

    model_config = _section("EXECUTOR_")

    alertmanager_url: str | None = Field(default=None, description="Alertmanager for silence_alert")
    webhook_url: str | None = Field(default=None, description="runbook automation endpoint for run_runbook")
    webhook_secret: SecretStr | None = Field(default=None, description="HMAC key for the runbook webhook")
    kubernetes: str | None = Field(
        default=None, description="'in-cluster' or an API server URL, for restart, scale and rollback"
    )
    kubernetes_token: SecretStr | None = Field(default=None, description="bearer token for that API server")
    kubernetes_namespace: str = Field(default="default", description="namespace when an action names none")
    record_file: Path | None = Field(
        default=None, description="record approved actions to this JSON-lines file instead of running them"
    )

    @field_validator("webhook_secret")
    @classmethod
    def _secret_long_enough(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and len(v.get_secret_value()) < 16:
            raise ValueError("must be at least 16 characters (it signs every runbook request)")
        return v


class ServerSettings(BaseSettings):
    model_config = _section("")

    port: int = Field(3000, ge=1, le=65535, validation_alias=AliasChoices("PORT"))
    host: str = Field("0.0.0.0", validation_alias=AliasChoices("HOST"))
    threads: int = Field(32, ge=1, le=512, validation_alias=AliasChoices("BOT_THREADS"))
    max_body_bytes: int = Field(
        1_000_000, ge=10_000, le=100_000_000, validation_alias=AliasChoices("BOT_MAX_BODY_BYTES")
    )


class LogSettings(BaseSettings):
    model_config = _section("LOG_")

    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "console"] = "auto"

    @field_validator("level", "format", mode="before")
    @classmethod
    def _lower(cls, v: Any) -> Any:
        return v.lower() if isinstance(v, str) else v


class Settings(BaseModel):
    """All configuration, in sections. Build it with `Settings.load()`."""

    slack: SlackSettings
    redis: RedisSettings
    llm: LLMSettings
    incident: IncidentSettings
    evidence: EvidenceSettings
    policy: PolicySettings
    postmortem: PostmortemSettings
    executors: ExecutorSettings
    server: ServerSettings
    log: LogSettings
    alerts: AlertSettings
    retention: RetentionSettings = Field(default_factory=lambda: RetentionSettings())

    @classmethod
    def load(
        cls,
        env_file: Path | None = Path(".env"),
        secrets_dir: Path | None = None,
        overrides: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> Settings:
        """Read every section; raise one `ConfigError` naming every bad variable."""
        if secrets_dir is None:
            default = os.environ.get("SECRETS_DIR", "/run/secrets")
            secrets_dir = Path(default) if Path(default).is_dir() else None
        sources: dict[str, Any] = {}
        if env_file is not None and env_file.is_file():
            sources["_env_file"] = env_file
        if secrets_dir is not None:
            sources["_secrets_dir"] = secrets_dir
        problems: list[str] = []
        built: dict[str, BaseSettings] = {}
        for name, section in _SECTIONS.items():
            try:
                built[name] = section(**sources, **dict((overrides or {}).get(name, {})))
            except ValidationError as exc:
                problems.extend(_describe(section, exc))
        if problems:
            raise ConfigError(problems)
        return cls.model_validate(built)

    def check_for(self, role: Role) -> None:
        """Raise `ConfigError` listing what `role` needs but is missing."""
        problems: list[str] = []
        if role in ("bot", "worker") and self.slack.bot_token is None:
            problems.append("SLACK_BOT_TOKEN is missing: the bot token from OAuth & Permissions, xoxb-…")
        if role == "bot" and self.slack.app_token is None and self.slack.signing_secret is None:
            problems.append(
                "SLACK_SIGNING_SECRET is missing: needed in HTTP mode (Basic Information → Signing Secret); "
                "or set SLACK_APP_TOKEN (xapp-…) for Socket Mode"
            )
        if problems:
            raise ConfigError(problems)


_SECTIONS: dict[str, type[BaseSettings]] = {
    "slack": SlackSettings,
    "redis": RedisSettings,
    "llm": LLMSettings,
    "incident": IncidentSettings,
    "evidence": EvidenceSettings,
    "policy": PolicySettings,
    "postmortem": PostmortemSettings,
    "executors": ExecutorSettings,
    "server": ServerSettings,
    "log": LogSettings,
    "alerts": AlertSettings,
    "retention": RetentionSettings,
}


def _env_name(section: type[BaseSettings], field: str) -> str:
    info = section.model_fields.get(field)
    alias = info.validation_alias if info is not None else None
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0]).upper()
    return (str(section.model_config.get("env_prefix", "")) + field).upper()


def _describe(section: type[BaseSettings], exc: ValidationError) -> list[str]:
    lines = []
    for err in exc.errors():
        field = str(err["loc"][0]) if err["loc"] else "?"
        message = str(err["msg"]).removeprefix("Value error, ")
        lines.append(f"{_env_name(section, field)}: {message}")
    return lines
