"""The alert receivers' settings: secrets and limits (`ALERTS_*`). Deny by default: a receiver
whose secret is not configured is disabled and says so."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class AlertSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ALERTS_", extra="ignore", case_sensitive=False)

    config_file: Path | None = Field(
        default=None, description="YAML grouping rules, routes, rate limits and generic mappings (see README)"
    )
    alertmanager_token: SecretStr | None = Field(
        default=None, description="bearer token Alertmanager sends (http_config.authorization)"
    )
    alertmanager_username: str | None = Field(
        default=None, description="basic auth user (http_config.basic_auth)"
    )
    alertmanager_password: SecretStr | None = Field(default=None, description="basic auth password")
    pagerduty_secrets: SecretStr | None = Field(
        default=None,
        description="PagerDuty V3 webhook subscription secret(s), comma-separated while rotating",
    )
    generic_token: SecretStr | None = Field(
        default=None, description="bearer token for /alerts/generic/<name>"
    )
    max_body_bytes: int = Field(
        default=1_048_576, ge=1024, le=16 * 1_048_576, description="larger bodies get 413"
    )

    @field_validator(
        "config_file",
        "alertmanager_token",
        "alertmanager_username",
        "alertmanager_password",
        "pagerduty_secrets",
        "generic_token",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, v: Any) -> Any:
        return None if isinstance(v, str) and not v.strip() else v

    @field_validator("config_file")
    @classmethod
    def _file_exists(cls, v: Path | None) -> Path | None:
        if v is not None and not v.is_file():
            raise ValueError(f"no such file: {v}")
        return v

    @field_validator("alertmanager_token", "pagerduty_secrets", "generic_token", "alertmanager_password")
    @classmethod
    def _long_enough(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and any(len(s.strip()) < 16 for s in v.get_secret_value().split(",")):
            raise ValueError("must be at least 16 characters (it is all that keeps forged alerts out)")
        return v

    def pagerduty_keys(self) -> list[bytes]:
        raw = self.pagerduty_secrets.get_secret_value() if self.pagerduty_secrets else ""
        return [s.strip().encode() for s in raw.split(",") if s.strip()]
