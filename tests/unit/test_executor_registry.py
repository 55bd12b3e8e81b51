"""Which executors a worker gets from its settings, and a runbook secret too short to sign with."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from workers.executors.alertmanager import AlertmanagerExecutor
from workers.executors.kubernetes import KubernetesExecutor
from workers.executors.registry import build_executors
from workers.executors.webhook import WebhookExecutor
from workers.settings import ExecutorSettings


def test_nothing_configured_means_no_executor() -> None:
    assert build_executors(ExecutorSettings()) == {}


def test_each_configured_backend_serves_its_action_types() -> None:
    settings = ExecutorSettings(
        webhook_url="https://rundeck.example/api/hook",
        webhook_secret="0123456789abcdef0123",  # type: ignore[arg-type]
        alertmanager_url="http://alertmanager:9093",
        kubernetes="https://kubernetes.default.svc",
        kubernetes_token="token-123",  # type: ignore[arg-type]
    )
    built = build_executors(settings)
    assert sorted(built) == ["restart", "rollback", "run_runbook", "scale", "silence_alert"]
    assert isinstance(built["run_runbook"], WebhookExecutor)
    assert isinstance(built["silence_alert"], AlertmanagerExecutor)
    kube = built["rollback"]
    assert isinstance(kube, KubernetesExecutor) and built["scale"] is kube
    config = kube.apps.api_client.configuration
    assert config.host == "https://kubernetes.default.svc" and config.get_api_key_with_prefix(
        "authorization"
    ) == ("Bearer token-123")


def test_a_short_webhook_secret_is_refused() -> None:
    with pytest.raises(ValidationError, match="at least 16 characters"):
        ExecutorSettings(webhook_url="https://x", webhook_secret="short")  # type: ignore[arg-type]
