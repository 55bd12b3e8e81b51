"""A Kubernetes API-server stand-in on loopback: Deployments (with their scale subresource) and
ReplicaSets in one namespace, answered in the Kubernetes API's JSON shapes, patches merged the way
the API server merges them for these fields. Enough for rollout restart, scale and rollback."""

from __future__ import annotations

import copy
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

_PATH = re.compile(
    r"^/apis/apps/v1/namespaces/(?P<ns>[^/]+)/(?P<kind>deployments|replicasets)(?:/(?P<name>[^/]+))?(?P<scale>/scale)?$"
)


def merge(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """JSON merge patch (RFC 7386): objects merge, None deletes, anything else replaces."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)
    return target


def deployment(name: str, namespace: str, image: str, replicas: int, revision: int) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": f"uid-{name}",
            "generation": 1,
            "annotations": {"deployment.kubernetes.io/revision": str(revision)},
            "labels": labels,
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": name, "image": image}]},
            },
        },
        "status": {"replicas": replicas, "readyReplicas": replicas, "observedGeneration": 1},
    }


def replica_set(dep: dict[str, Any], image: str, revision: int) -> dict[str, Any]:
    name = dep["metadata"]["name"]
    template = copy.deepcopy(dep["spec"]["template"])
    template["spec"]["containers"][0]["image"] = image
    template["metadata"]["labels"]["pod-template-hash"] = f"h{revision}"
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"{name}-h{revision}",
            "namespace": dep["metadata"]["namespace"],
            "labels": dict(template["metadata"]["labels"]),
            "annotations": {"deployment.kubernetes.io/revision": str(revision)},
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "name": name,
                    "uid": dep["metadata"]["uid"],
                    "controller": True,
                }
            ],
        },
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": dict(template["metadata"]["labels"])},
            "template": template,
        },
    }


class KubeAPIServer:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.deployments: dict[tuple[str, str], dict[str, Any]] = {}
        self.replicasets: dict[tuple[str, str], dict[str, Any]] = {}
        self.requests: list[tuple[str, str, str]] = []  # method, path, content type
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                api._serve(self, "GET")

            def do_PATCH(self) -> None:
                api._serve(self, "PATCH")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def add(self, name: str, namespace: str, images: list[str], replicas: int = 3) -> None:
        """A Deployment now at the last of `images`, with one ReplicaSet per image (its history)."""
        with self.lock:
            dep = deployment(name, namespace, images[-1], replicas, len(images))
            self.deployments[(namespace, name)] = dep
            for revision, image in enumerate(images, 1):
                rs = replica_set(dep, image, revision)
                self.replicasets[(namespace, rs["metadata"]["name"])] = rs

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _serve(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        url = urlsplit(handler.path)
        self.requests.append((method, url.path, handler.headers.get("Content-Type", "")))
        found = _PATH.match(url.path)
        length = int(handler.headers.get("Content-Length", 0) or 0)
        body = json.loads(handler.rfile.read(length) or b"{}") if length else {}
        with self.lock:
            status, answer = self._answer(method, found, parse_qs(url.query), body)
        data = json.dumps(answer).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _answer(
        self, method: str, found: re.Match[str] | None, query: dict[str, list[str]], body: Any
    ) -> tuple[int, dict[str, Any]]:
        if found is None:
            return _status(404, "NotFound", "the server could not find the requested resource")
        ns, kind, name, scale = found["ns"], found["kind"], found["name"], found["scale"]
        if kind == "replicasets" and name is None and method == "GET":
            wanted = dict(
                s.split("=", 1) for s in (query.get("labelSelector", [""])[0].split(",")) if "=" in s
            )
            items = [
                copy.deepcopy(rs)
                for (n, _), rs in self.replicasets.items()
                if n == ns and all(rs["metadata"]["labels"].get(k) == v for k, v in wanted.items())
            ]
            return 200, {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSetList",
                "metadata": {"resourceVersion": "1"},
                "items": items,
            }
        dep = self.deployments.get((ns, name or ""))
        if kind != "deployments" or dep is None:
            return _status(404, "NotFound", f'deployments.apps "{name}" not found')
        if method == "PATCH":
            if not isinstance(body, dict):
                return _status(415, "UnsupportedMediaType", "only merge patches are supported here")
            if scale:
                dep["spec"]["replicas"] = dep["status"]["replicas"] = int(body["spec"]["replicas"])
            else:
                before = json.dumps(dep["spec"]["template"], sort_keys=True)
                merge(dep, body)
                if json.dumps(dep["spec"]["template"], sort_keys=True) != before:
                    self._new_revision(ns, dep)
            dep["metadata"]["generation"] += 1
            dep["status"]["observedGeneration"] = dep["metadata"]["generation"]
        if scale:
            return 200, {
                "apiVersion": "autoscaling/v1",
                "kind": "Scale",
                "metadata": {"name": name, "namespace": ns},
                "spec": {"replicas": dep["spec"]["replicas"]},
                "status": {"replicas": dep["status"]["replicas"], "selector": f"app={name}"},
            }
        return 200, copy.deepcopy(dep)

    def _new_revision(self, ns: str, dep: dict[str, Any]) -> None:
        """A changed pod template makes a new revision, as the deployment controller would."""
        revisions = [
            int(rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"])
            for rs in self.replicasets.values()
        ]
        revision = max(revisions, default=0) + 1
        image = dep["spec"]["template"]["spec"]["containers"][0]["image"]
        rs = replica_set(dep, image, revision)
        rs["spec"]["template"] = copy.deepcopy(dep["spec"]["template"])
        rs["spec"]["template"]["metadata"].setdefault("labels", {})["pod-template-hash"] = f"h{revision}"
        self.replicasets[(ns, rs["metadata"]["name"])] = rs
        dep["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = str(revision)


def _status(code: int, reason: str, message: str) -> tuple[int, dict[str, Any]]:
    return code, {
        "apiVersion": "v1",
        "kind": "Status",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
