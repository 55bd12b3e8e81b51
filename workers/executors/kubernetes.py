"""Deployments through the official Kubernetes client: rollout restart, scale, and roll back to the
previous revision, each verified by reading the Deployment back. The target is the Deployment's
name; the namespace comes from the action's `namespace` parameter, else the configured default.

Undo: a scale goes back to the replicas it had; a rollback rolls forward to the revision it
replaced; a restart has none (the pods are already new)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import urllib3
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from workers.errors import ExecutorError
from workers.executors.base import ActionRequest, Outcome, Plan, Verification

RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
REVISION = "deployment.kubernetes.io/revision"


class KubernetesExecutor:
    kinds = frozenset({"restart", "scale", "rollback"})

    def __init__(
        self, api: k8s.ApiClient, namespace: str = "default", clock: Callable[[], float] = time.time
    ) -> None:
        self.apps = k8s.AppsV1Api(api)
        self.namespace = namespace
        self.clock = clock

    def _ns(self, action: ActionRequest) -> str:
        return action.params.get("namespace") or self.namespace

    def _call(self, what: str, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except ApiException as exc:
            raise ExecutorError(f"Kubernetes refused to {what}: HTTP {exc.status} {exc.reason}") from exc
        except (OSError, urllib3.exceptions.HTTPError) as exc:
            raise ExecutorError(
                f"Kubernetes API unreachable ({type(exc).__name__}) while trying to {what}"
            ) from exc

    def _deployment(self, action: ActionRequest) -> Any:
        ns = self._ns(action)
        return self._call(
            f"read deployment {ns}/{action.target}",
            lambda: self.apps.read_namespaced_deployment(action.target, ns),
        )

    # -- what each action would do, and does -------------------------------------------------------

    def _scale_to(self, action: ActionRequest, current: int) -> int:
        params = action.params
        try:
            if "replicas" in params:
                wanted = int(params["replicas"])
            else:
                wanted = current + int(params.get("replica_change", "0"))
        except ValueError as exc:
            raise ExecutorError(f"replicas must be a whole number: {exc}") from exc
        if wanted < 0:
            raise ExecutorError(f"cannot scale {action.target} to {wanted} replicas")
        if wanted == current:
            raise ExecutorError(f"{action.target} already has {current} replicas: nothing to change")
        cap = params.get("max_replica_change")
        if cap is not None and abs(wanted - current) > int(cap):
            raise ExecutorError(f"{current} → {wanted} replicas exceeds the blast-radius cap of {cap}")
        return wanted

    def _history(self, action: ActionRequest, dep: Any) -> dict[int, Any]:
        """The Deployment's ReplicaSets by revision: its rollout history."""
        ns = self._ns(action)
        labels = dep.spec.selector.match_labels or {}
        selector = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
        listed = self._call(
            f"list the replica sets of {ns}/{action.target}",
            lambda: self.apps.list_namespaced_replica_set(ns, label_selector=selector),
        )
        return {
            int((rs.metadata.annotations or {}).get(REVISION, "0")): rs
            for rs in listed.items
            if any(
                o.kind == "Deployment" and o.name == action.target for o in rs.metadata.owner_references or []
            )
        }

    def _previous(self, action: ActionRequest, dep: Any) -> tuple[int, int, Any]:
        """(current revision, previous revision, the previous ReplicaSet's pod template)."""
        current = int((dep.metadata.annotations or {}).get(REVISION, "0"))
        history = self._history(action, dep)
        older = [r for r in history if r < current]
        where = f"{self._ns(action)}/{action.target}"
        if "revision" in action.params:  # the revision the approvers saw, never a later guess
            try:
                wanted = int(action.params["revision"])
            except ValueError as exc:
                raise ExecutorError(f"revision must be a whole number: {exc}") from exc
            if wanted not in older:
                raise ExecutorError(f"{where} has no revision {wanted} before {current} to roll back to")
            older = [wanted]
        if not older:
            raise ExecutorError(f"{where} has no revision before {current} to roll back to")
        previous = max(older)
        return current, previous, history[previous].spec.template

    def dry_run(self, action: ActionRequest) -> Plan:
        dep = self._deployment(action)
        where = f"deployment {self._ns(action)}/{action.target}"
        if action.action == "restart":
            return Plan([f"rollout restart {where}: new pods for its {dep.spec.replicas} replicas"])
        if action.action == "scale":
            wanted = self._scale_to(action, dep.spec.replicas)
            return Plan([f"scale {where} from {dep.spec.replicas} to {wanted} replicas"])
        current, previous, template = self._previous(action, dep)
        images = ", ".join(c.image for c in template.spec.containers)
        return Plan([f"roll back {where} from revision {current} to {previous} ({images})"])

    def execute(self, action: ActionRequest) -> Outcome:
        ns, name = self._ns(action), action.target
        dep = self._deployment(action)
        if action.action == "restart":
            stamp = datetime.fromtimestamp(self.clock(), tz=UTC).isoformat(timespec="seconds")
            restart = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}}
            self._call(
                f"restart {ns}/{name}", lambda: self.apps.patch_namespaced_deployment(name, ns, restart)
            )
            return Outcome(True, f"rollout restart of {ns}/{name} at {stamp}", undo_token="")
        if action.action == "scale":
            before = int(dep.spec.replicas or 0)
            wanted = self._scale_to(action, before)
            scale = {"spec": {"replicas": wanted}}
            self._call(
                f"scale {ns}/{name}", lambda: self.apps.patch_namespaced_deployment_scale(name, ns, scale)
            )
            return Outcome(
                True,
                f"scaled {ns}/{name} from {before} to {wanted} replicas",
                undo_token=f"replicas:{before}",
            )
        if action.action == "rollback":
            current, previous, template = self._previous(action, dep)
            self._set_template(ns, name, template)
            images = ", ".join(c.image for c in template.spec.containers)
            detail = f"rolled {ns}/{name} back from revision {current} to {previous} ({images})"
            return Outcome(True, detail, undo_token=f"revision:{current}")
        raise ExecutorError(f"the Kubernetes executor does not run {action.action}")

    def _set_template(self, ns: str, name: str, template: Any) -> None:
        raw = self.apps.api_client.sanitize_for_serialization(template)
        raw.get("metadata", {}).get("labels", {}).pop("pod-template-hash", None)
        body = {"spec": {"template": raw}}
        self._call(
            f"update the pod template of {ns}/{name}",
            lambda: self.apps.patch_namespaced_deployment(name, ns, body),
        )

    def verify(self, action: ActionRequest, outcome: Outcome) -> Verification:
        dep = self._deployment(action)
        if action.action == "restart":
            stamp = (dep.spec.template.metadata.annotations or {}).get(RESTARTED_AT, "")
            return Verification(
                bool(stamp) and stamp in outcome.detail, f"pod template restartedAt {stamp or 'missing'}"
            )
        if action.action == "scale":
            wanted = int(outcome.detail.rsplit(" to ", 1)[1].split()[0])
            return Verification(
                dep.spec.replicas == wanted, f"{dep.spec.replicas} replicas wanted, {wanted} asked"
            )
        images = ", ".join(c.image for c in dep.spec.template.spec.containers)
        expected = outcome.detail.rsplit("(", 1)[-1].rstrip(")")
        return Verification(images == expected, f"pod template now runs {images}")

    def undo(self, action: ActionRequest, outcome: Outcome) -> Outcome | None:
        kind, _, value = outcome.undo_token.partition(":")
        ns, name = self._ns(action), action.target
        if kind == "replicas":
            body = {"spec": {"replicas": int(value)}}
            self._call(
                f"scale {ns}/{name} back", lambda: self.apps.patch_namespaced_deployment_scale(name, ns, body)
            )
            return Outcome(True, f"scaled {ns}/{name} back to {value} replicas")
        if kind == "revision":
            target = self._history(action, self._deployment(action)).get(int(value))
            if target is None:
                raise ExecutorError(f"revision {value} of {ns}/{name} is gone; roll forward by hand")
            self._set_template(ns, name, target.spec.template)
            return Outcome(True, f"rolled {ns}/{name} forward to the template of revision {value}")
        return None
