"""The Kubernetes executor through the official client against an API-server stand-in on loopback:
restart, scale and rollback with their dry runs, verification and undo; clear errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kubernetes import client as k8s

from tests.support.kube_apiserver import KubeAPIServer
from workers.errors import ExecutorError
from workers.executors.base import ActionRequest
from workers.executors.kubernetes import RESTARTED_AT, KubernetesExecutor

IMAGES = ["shop/checkout:1.0", "shop/checkout:1.1", "shop/checkout:1.2"]


@pytest.fixture
def server() -> Iterator[KubeAPIServer]:
    api = KubeAPIServer()
    api.add("checkout-api", "shop", IMAGES, replicas=3)
    yield api
    api.stop()


@pytest.fixture
def executor(server: KubeAPIServer) -> Iterator[KubernetesExecutor]:
    with k8s.ApiClient(k8s.Configuration(host=server.url)) as api:
        yield KubernetesExecutor(api, "shop", clock=lambda: 1_790_000_000.0)


def _deployment(server: KubeAPIServer) -> dict:  # type: ignore[type-arg]
    return server.deployments[("shop", "checkout-api")]


def test_restart_patches_the_pod_template_and_is_verified(
    server: KubeAPIServer, executor: KubernetesExecutor
) -> None:
    action = ActionRequest("restart", "checkout-api")
    assert executor.dry_run(action).lines == [
        "rollout restart deployment shop/checkout-api: new pods for its 3 replicas"
    ]
    assert not [r for r in server.requests if r[0] == "PATCH"]  # the dry run changed nothing
    outcome = executor.execute(action)
    stamp = _deployment(server)["spec"]["template"]["metadata"]["annotations"][RESTARTED_AT]
    assert outcome.ok and stamp == "2026-09-21T14:13:20+00:00" and stamp in outcome.detail
    assert executor.verify(action, outcome).ok and executor.undo(action, outcome) is None
    assert (
        "PATCH",
        "/apis/apps/v1/namespaces/shop/deployments/checkout-api",
        "application/strategic-merge-patch+json",
    ) in server.requests


def test_scale_within_the_cap_is_verified_and_undone(
    server: KubeAPIServer, executor: KubernetesExecutor
) -> None:
    action = ActionRequest("scale", "checkout-api", {"replicas": "5", "max_replica_change": "3"})
    assert executor.dry_run(action).lines == ["scale deployment shop/checkout-api from 3 to 5 replicas"]
    outcome = executor.execute(action)
    assert outcome.ok and _deployment(server)["spec"]["replicas"] == 5 and outcome.undo_token == "replicas:3"
    assert executor.verify(action, outcome).ok
    undone = executor.undo(action, outcome)
    assert undone is not None and undone.ok and _deployment(server)["spec"]["replicas"] == 3
    assert not executor.verify(action, outcome).ok  # it is no longer at 5


def test_scale_past_the_blast_radius_cap_is_refused(
    server: KubeAPIServer, executor: KubernetesExecutor
) -> None:
    action = ActionRequest("scale", "checkout-api", {"replica_change": "-3", "max_replica_change": "2"})
    with pytest.raises(ExecutorError, match=r"3 → 0 replicas exceeds the blast-radius cap of 2"):
        executor.execute(action)
    assert _deployment(server)["spec"]["replicas"] == 3


def test_rollback_goes_to_the_previous_revision_and_undo_rolls_forward(
    server: KubeAPIServer, executor: KubernetesExecutor
) -> None:
    action = ActionRequest("rollback", "checkout-api")
    assert executor.dry_run(action).lines == [
        "roll back deployment shop/checkout-api from revision 3 to 2 (shop/checkout:1.1)"
    ]
    outcome = executor.execute(action)
    image = _deployment(server)["spec"]["template"]["spec"]["containers"][0]["image"]
    assert outcome.ok and image == "shop/checkout:1.1" and outcome.undo_token == "revision:3"
    assert "pod-template-hash" not in _deployment(server)["spec"]["template"]["metadata"]["labels"]
    assert executor.verify(action, outcome).ok
    undone = executor.undo(action, outcome)
    assert undone is not None and undone.ok
    assert _deployment(server)["spec"]["template"]["spec"]["containers"][0]["image"] == "shop/checkout:1.2"


def test_missing_deployment_first_revision_and_unreachable_api_are_clear_errors(
    server: KubeAPIServer,
) -> None:
    server.add("fresh-api", "shop", ["shop/fresh:1.0"])
    with k8s.ApiClient(k8s.Configuration(host=server.url)) as api:
        executor = KubernetesExecutor(api, "shop")
        with pytest.raises(ExecutorError, match=r"refused to read deployment shop/nope: HTTP 404"):
            executor.execute(ActionRequest("restart", "nope"))
        with pytest.raises(ExecutorError, match="has no revision before 1 to roll back to"):
            executor.execute(ActionRequest("rollback", "fresh-api"))
    dead = k8s.Configuration(host="http://127.0.0.1:9")
    dead.retries = 0
    with k8s.ApiClient(dead) as api, pytest.raises(ExecutorError, match="Kubernetes API unreachable"):
        KubernetesExecutor(api, "shop").execute(ActionRequest("restart", "checkout-api"))
