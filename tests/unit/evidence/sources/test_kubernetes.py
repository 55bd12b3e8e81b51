"""KubernetesSource against a stand-in Kubernetes API server on 127.0.0.1 (pods list and pod logs)."""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import kubernetes.client
import pytest
from kubernetes.config import kube_config

from workers.evidence.model import LogQuery, TimeWindow
from workers.evidence.sources.kubernetes import KubernetesSource

TOKEN = "dummy-token"
_NOW = datetime.now(UTC).replace(microsecond=0)
WINDOW = TimeWindow(_NOW - timedelta(minutes=30), _NOW - timedelta(minutes=10))
QUERY = LogQuery("checkout", WINDOW)
HANG = "hang"  # a log body that never comes


def _log(*lines: tuple[timedelta, str]) -> list[tuple[datetime, str]]:
    """Log lines at offsets from the window start."""
    return [(WINDOW.start + offset, text) for offset, text in lines]


@dataclass
class Pod:
    name: str
    labels: dict[str, str]
    log: list[tuple[datetime, str]] | int | str = field(default_factory=list)  # lines, HTTP status, or HANG
    previous_log: list[tuple[datetime, str]] = field(default_factory=list)
    restarts: int = 0
    state: dict[str, Any] = field(default_factory=lambda: {"running": {"startedAt": "2026-01-01T00:00:00Z"}})

    def manifest(self) -> dict[str, Any]:
        status: dict[str, Any] = {"name": "app", "image": "shop/app:1", "imageID": "", "ready": True}
        status |= {"restartCount": self.restarts, "state": self.state}
        if self.restarts:
            status["lastState"] = {"terminated": {"exitCode": 2, "reason": "Error"}}
        return {
            "metadata": {"name": self.name, "namespace": "shop", "labels": self.labels},
            "spec": {"containers": [{"name": "app", "image": "shop/app:1"}]},
            "status": {"phase": "Running", "containerStatuses": [status]},
        }


class _Handler(BaseHTTPRequestHandler):
    server: _ApiServer

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        params = {k: v[0] for k, v in parse_qs(url.query).items()}
        self.server.seen.append((url.path, params, self.headers.get("Authorization", "")))
        parts = url.path.strip("/").split("/")
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self._status(401, "Unauthorized")
        elif parts[:4] == ["api", "v1", "namespaces", "shop"] and parts[4:] == ["pods"]:
            self._pods(params.get("labelSelector", ""))
        elif parts[:5] == ["api", "v1", "namespaces", "shop", "pods"] and parts[6:] == ["log"]:
            self._log(parts[5], params)
        else:
            self._status(404, "NotFound")

    def _pods(self, selector: str) -> None:
        wanted = dict(term.split("=", 1) for term in selector.split(",") if term)
        items = [p.manifest() for p in self.server.pods if wanted.items() <= p.labels.items()]
        self._send(
            200, "application/json", json.dumps({"kind": "PodList", "apiVersion": "v1", "items": items})
        )

    def _log(self, name: str, params: dict[str, str]) -> None:
        assert params["timestamps"] == "true" and params["container"] == "app"
        pod = next((p for p in self.server.pods if p.name == name), None)
        if pod is None:
            self._status(404, "NotFound")
            return
        log = pod.previous_log if params.get("previous") == "true" else pod.log
        if isinstance(log, str):  # HANG
            self.server.release.wait(120)
            return
        if isinstance(log, int):
            self._status(log, {403: "Forbidden", 404: "NotFound"}[log])
            return
        since = _NOW - timedelta(seconds=int(params["sinceSeconds"]))
        text = "".join(f"{ts:%Y-%m-%dT%H:%M:%S}.123456789Z {line}\n" for ts, line in log if ts >= since)
        self._send(200, "text/plain", text)

    def _status(self, code: int, reason: str) -> None:
        body = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": reason, "code": code}
        self._send(code, "application/json", json.dumps(body))

    def _send(self, code: int, content_type: str, body: str) -> None:
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass


class _ApiServer(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.pods: list[Pod] = []
        self.seen: list[tuple[str, dict[str, str], str]] = []
        self.release = threading.Event()
        self.errors: list[BaseException | None] = []

    def handle_error(self, request: Any, client_address: Any) -> None:
        self.errors.append(sys.exc_info()[1])  # a failed assertion in the stand-in fails the test

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def log_requests(self) -> list[tuple[str, str]]:
        return [
            (path.split("/")[6], params.get("previous", ""))
            for path, params, _ in self.seen
            if "/log" in path
        ]


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def api_server() -> Iterator[_ApiServer]:
    server = _ApiServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield server
    server.release.set()
    server.shutdown()
    server.server_close()
    thread.join()
    assert server.errors == []


def _client(host: str) -> kubernetes.client.ApiClient:
    config = kubernetes.client.Configuration(host=host)
    config.api_key = {"authorization": TOKEN}
    config.api_key_prefix = {"authorization": "Bearer"}
    config.retries = 0
    return kubernetes.client.ApiClient(config)


@pytest.fixture
def api_client(api_server: _ApiServer) -> Iterator[kubernetes.client.ApiClient]:
    with _client(api_server.url) as client:
        yield client


APP = {"app": "checkout"}


@pytest.mark.asyncio
async def test_reads_window_and_the_crashed_containers_previous_log(
    api_server: _ApiServer, api_client: kubernetes.client.ApiClient
) -> None:
    api_server.pods = [
        Pod(
            "web-0",
            APP,
            log=_log(
                (timedelta(seconds=-5), "before the window"),
                (timedelta(minutes=1), "GET /cart 200"),
                (timedelta(minutes=2), "GET /pay 504 upstream timeout"),
                (timedelta(minutes=25), "after the window"),
            ),
        ),
        Pod(
            "web-1",
            APP,
            restarts=4,
            state={"waiting": {"reason": "CrashLoopBackOff"}},
            log=_log((timedelta(minutes=5), "starting checkout")),
            previous_log=_log((timedelta(minutes=4), "panic: nil pointer dereference in PayHandler")),
        ),
        Pod("web-2", APP, log=403),
        # Never started, so there is no log to ask for.
        Pod("web-3", APP, state={"waiting": {"reason": "ContainerCreating"}}),
        Pod("other-0", {"app": "search"}, log=_log((timedelta(minutes=1), "not ours"))),
    ]
    source = KubernetesSource("k8s", "shop", "app={service}", api_client=api_client)

    result = await source.fetch(QUERY)

    assert result.status == "partial"
    assert result.note == "pod web-2/app: HTTP 403 Forbidden"
    assert [line.text for line in result.lines] == [
        "GET /cart 200",
        "GET /pay 504 upstream timeout",
        "panic: nil pointer dereference in PayHandler",
        "starting checkout",
    ]
    panic = result.lines[2]
    assert panic.labels == {"pod": "web-1", "container": "app", "namespace": "shop", "previous": "true"}
    assert panic.ts == WINDOW.start + timedelta(minutes=4, microseconds=123456)
    assert result.lines[0].labels == {"pod": "web-0", "container": "app", "namespace": "shop"}
    assert {line.source for line in result.lines} == {"k8s"}
    assert sorted(api_server.log_requests()) == [
        ("web-0", "false"), ("web-1", "false"), ("web-1", "true"), ("web-2", "false")
    ]  # fmt: skip
    assert "namespace=shop selector=app=checkout containers=app" in result.query
    assert WINDOW.start.isoformat() in result.query and WINDOW.end.isoformat() in result.query
    assert result.gap() == f"k8s: pod web-2/app: HTTP 403 Forbidden, window {WINDOW.label()}"


@pytest.mark.asyncio
async def test_failing_and_hanging_pods_become_notes_per_pod(
    api_server: _ApiServer, api_client: kubernetes.client.ApiClient
) -> None:
    api_server.pods = [Pod("gone-0", APP, log=404), Pod("slow-0", APP, log=HANG)]
    source = KubernetesSource("k8s", "shop", "app={service}", api_client=api_client, timeout_s=5)

    result = await source.fetch(QUERY)

    assert (result.status, result.lines) == ("error", [])
    assert result.note == "pod gone-0/app: HTTP 404 Not Found; pod slow-0/app: timeout after 5 s"
    assert result.elapsed_s < 60  # cut by its timeout, not by the server's 120 s hang


@pytest.mark.asyncio
async def test_api_server_down_is_an_error_note() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with _client(f"http://127.0.0.1:{port}") as client:
        started = time.monotonic()
        result = await KubernetesSource("k8s", "shop", "app={service}", api_client=client).fetch(QUERY)

    assert (result.status, result.lines) == ("error", [])
    assert result.note == "listing pods: cannot connect to the API server"
    assert time.monotonic() - started < 60  # no waiting out retries and timeouts


@pytest.mark.asyncio
async def test_own_client_from_host_and_token_sends_the_bearer_token(api_server: _ApiServer) -> None:
    api_server.pods = [Pod("web-0", APP, log=_log((timedelta(minutes=1), "hello")))]

    result = await KubernetesSource("k8s", "shop", "app={service}", host=api_server.url, token=TOKEN).fetch(
        QUERY
    )
    refused = await KubernetesSource("k8s", "shop", "app={service}", host=api_server.url, token="bad").fetch(
        QUERY
    )

    assert (result.status, [line.text for line in result.lines]) == ("ok", ["hello"])
    assert {auth for *_, auth in api_server.seen} == {f"Bearer {TOKEN}", "Bearer bad"}
    assert (refused.status, refused.note) == ("error", "listing pods: HTTP 401 Unauthorized")


@pytest.mark.asyncio
async def test_caps_pods_and_lines_keeping_crashed_pods_first(
    api_server: _ApiServer, api_client: kubernetes.client.ApiClient
) -> None:
    api_server.pods = [
        Pod("a-healthy", APP, log=_log((timedelta(minutes=1), "fine"))),
        Pod(
            "b-crashing",
            APP,
            restarts=1,
            log=_log((timedelta(minutes=2), "retrying db"), (timedelta(minutes=3), "retrying db")),
            previous_log=_log((timedelta(minutes=1), "fatal: db unreachable")),
        ),
    ]
    source = KubernetesSource("k8s", "shop", "app={service}", api_client=api_client, max_pods=1)

    result = await source.fetch(LogQuery("checkout", WINDOW, max_lines=2))

    assert result.status == "partial"
    assert result.note == "read 1 of 2 pods; capped at 2 lines"
    assert [line.text for line in result.lines] == ["fatal: db unreachable", "retrying db"]


@pytest.mark.asyncio
async def test_no_matching_pods_is_empty(
    api_server: _ApiServer, api_client: kubernetes.client.ApiClient
) -> None:
    api_server.pods = [Pod("other-0", {"app": "search"})]

    result = await KubernetesSource("k8s", "shop", "app={service}", api_client=api_client).fetch(QUERY)

    assert (result.status, result.note, result.lines) == ("empty", "no pods match app=checkout", [])
    assert api_server.seen[0][1]["labelSelector"] == "app=checkout"


def _kubeconfig(path: Path, server: str) -> str:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "local", "cluster": {"server": server}}],
        "users": [{"name": "oncall", "user": {"token": TOKEN}}],
        "contexts": [{"name": "local", "context": {"cluster": "local", "user": "oncall"}}],
        "current-context": "local",
    }
    path.write_text(json.dumps(config))  # JSON is YAML
    return str(path)


@pytest.mark.asyncio
async def test_outside_a_cluster_the_kubeconfig_is_used(
    api_server: _ApiServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    api_server.pods = [Pod("web-0", APP, log=_log((timedelta(minutes=1), "from kubeconfig")))]
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setattr(
        kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", _kubeconfig(tmp_path / "kc", api_server.url)
    )

    result = await KubernetesSource("k8s", "shop", "app={service}").fetch(QUERY)

    assert (result.status, [line.text for line in result.lines]) == ("ok", ["from kubeconfig"])


@pytest.mark.asyncio
async def test_no_cluster_configuration_is_an_error_note(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(tmp_path / "missing"))

    result = await KubernetesSource("k8s", "shop", "app={service}").fetch(QUERY)

    assert (result.status, result.lines) == ("error", [])
    assert result.note.startswith("no cluster configuration: ")
    assert result.query.startswith("namespace=shop selector=app=checkout containers=all")
