"""The executors a worker runs with, from its settings: one per configured backend, by action type."""

from __future__ import annotations

from workers.executors.alertmanager import AlertmanagerExecutor
from workers.executors.base import Executor
from workers.executors.webhook import WebhookExecutor
from workers.settings import ExecutorSettings


def build_executors(settings: ExecutorSettings) -> dict[str, Executor]:
    built: list[Executor] = []
    if settings.webhook_url and settings.webhook_secret is not None:
        built.append(
            WebhookExecutor(settings.webhook_url, settings.webhook_secret.get_secret_value().encode())
        )
    if settings.alertmanager_url:
        built.append(AlertmanagerExecutor(settings.alertmanager_url))
    return {kind: executor for executor in built for kind in executor.kinds}
