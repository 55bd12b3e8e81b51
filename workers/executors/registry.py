"""The executors a worker runs with, from its settings: one per configured backend, by action type."""

from __future__ import annotations

from kubernetes import client as k8s
from kubernetes import config as kube_config

from workers.executors.alertmanager import AlertmanagerExecutor
from workers.executors.base import Executor
from workers.executors.kubernetes import KubernetesExecutor
from workers.executors.recording import RecordingExecutor
from workers.executors.webhook import WebhookExecutor
from workers.settings import ExecutorSettings


def build_executors(settings: ExecutorSettings) -> dict[str, Executor]:
    # The recorder first, so a real backend configured next to it takes its action types.
    built: list[Executor] = [RecordingExecutor(settings.record_file)] if settings.record_file else []
    if settings.webhook_url and settings.webhook_secret is not None:
        built.append(
            WebhookExecutor(settings.webhook_url, settings.webhook_secret.get_secret_value().encode())
        )
    if settings.alertmanager_url:
        built.append(AlertmanagerExecutor(settings.alertmanager_url))
    if settings.kubernetes:
        built.append(KubernetesExecutor(_kube_client(settings), settings.kubernetes_namespace))
    return {kind: executor for executor in built for kind in executor.kinds}


def _kube_client(settings: ExecutorSettings) -> k8s.ApiClient:
    """In-cluster: the worker pod's service account. Otherwise the API server URL and bearer token."""
    configuration = k8s.Configuration()
    if settings.kubernetes == "in-cluster":
        kube_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    elif settings.kubernetes:
        configuration.host = settings.kubernetes
        if settings.kubernetes_token is not None:
            configuration.api_key = {"authorization": settings.kubernetes_token.get_secret_value()}
            configuration.api_key_prefix = {"authorization": "Bearer"}
    return k8s.ApiClient(configuration)
