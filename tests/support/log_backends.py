"""Loopback stand-ins for the HTTP log backends a worker reads: Loki's `query_range`, Elasticsearch's
`_search` and the Kubernetes API server's pod list and pod logs, each answering from one `Feed`.

They speak the subset of each API the log sources use, in its JSON shapes, and filter by the window
the request asks for, so a source reading them goes through its whole real code path.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

# (start, end) -> the (time, text) lines of the stream in [start, end), oldest first.
Feed = Callable[[datetime, datetime], list[tuple[datetime, str]]]


def _ns(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000) * 1000


def _from_ns(ns: int) -> datetime:
    return datetime.fromtimestamp(ns / 1e9, tz=UTC)


class _Handler(BaseHTTPRequestHandler):
    server: _Backend

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        params = {k: v[0] for k, v in parse_qs(url.query).items()}
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with self.server.lock:
            self.server.requests += 1
        status, content_type, payload = self.server.answer(url.path, params, body)
        data = payload.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass


class _Backend(ThreadingHTTPServer):
    """Serves in a daemon thread from `start()` to `stop()`; `requests` counts what it answered."""

    daemon_threads = True

    def __init__(self, feed: Feed) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.feed = feed
        self.requests = 0
        self.lock = threading.Lock()
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def answer(self, path: str, params: dict[str, str], body: bytes) -> tuple[int, str, str]:
        raise NotImplementedError

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class LokiStandIn(_Backend):
    """`GET /loki/api/v1/query_range`: one stream, `direction=forward`, at most `limit` entries."""

    def __init__(self, feed: Feed, labels: dict[str, str] | None = None) -> None:
        super().__init__(feed)
        self.labels = labels or {"app": "standin"}

    def answer(self, path: str, params: dict[str, str], body: bytes) -> tuple[int, str, str]:
        if path != "/loki/api/v1/query_range":
            return 404, "text/plain", "404 page not found"
        start, end = _from_ns(int(params["start"])), _from_ns(int(params["end"]))
        lines = self.feed(start, end)[: int(params.get("limit", "100"))]
        values = [[str(_ns(at)), text] for at, text in lines]
        result = [{"stream": self.labels, "values": values}] if values else []
        payload = {"status": "success", "data": {"resultType": "streams", "result": result}}
        return 200, "application/json", json.dumps(payload)


class ElasticsearchStandIn(_Backend):
    """`POST /{index}/_search` with a `range` filter on `@timestamp`, sorted, paged by `search_after`."""

    def answer(self, path: str, params: dict[str, str], body: bytes) -> tuple[int, str, str]:
        if not path.endswith("/_search"):
            return 404, "application/json", json.dumps({"error": {"type": "not_found"}, "status": 404})
        request = json.loads(body)
        window = next(f["range"] for f in request["query"]["bool"]["filter"] if "range" in f)["@timestamp"]
        start, end = (datetime.fromisoformat(window[k].replace("Z", "+00:00")) for k in ("gte", "lt"))
        after = request.get("search_after")
        hits = [
            {"_source": {"@timestamp": at.isoformat(), "message": text}, "sort": [_ns(at) // 1_000_000, i]}
            for i, (at, text) in enumerate(self.feed(start, end))
        ]
        if after is not None:
            hits = [h for h in hits if h["sort"] > after]
        payload = {
            "timed_out": False,
            "_shards": {"total": 1, "successful": 1, "failed": 0},
            "hits": {"hits": hits[: int(request.get("size", 10))]},
        }
        return 200, "application/json", json.dumps(payload)


class KubernetesLogsStandIn(_Backend):
    """The pod list of one namespace (every pod running, one container `app`) and each pod's log,
    with the `timestamps=true` prefix and `sinceSeconds` applied, as the API server answers them."""

    def __init__(self, feed: Feed, namespace: str, pods: list[str], labels: dict[str, str]) -> None:
        super().__init__(feed)
        self.namespace = namespace
        self.pods = pods
        self.pod_labels = labels

    def answer(self, path: str, params: dict[str, str], body: bytes) -> tuple[int, str, str]:
        parts = path.strip("/").split("/")
        if parts[:4] != ["api", "v1", "namespaces", self.namespace] or parts[4:5] != ["pods"]:
            return 404, "application/json", json.dumps({"kind": "Status", "code": 404, "reason": "NotFound"})
        if len(parts) == 5:
            return (
                200,
                "application/json",
                json.dumps({"kind": "PodList", "apiVersion": "v1", "items": self._pods()}),
            )
        if parts[6:] == ["log"] and parts[5] in self.pods and params.get("previous") != "true":
            now = datetime.now(UTC)
            since = now - timedelta(seconds=int(params.get("sinceSeconds", "3600")))
            text = "".join(f"{at:%Y-%m-%dT%H:%M:%S.%f}000Z {line}\n" for at, line in self.feed(since, now))
            return 200, "text/plain", text
        return 404, "application/json", json.dumps({"kind": "Status", "code": 404, "reason": "NotFound"})

    def _pods(self) -> list[dict[str, Any]]:
        status = {"name": "app", "image": "app:1", "imageID": "", "ready": True, "restartCount": 0}
        status["state"] = {"running": {"startedAt": "2026-01-01T00:00:00Z"}}
        return [
            {
                "metadata": {"name": name, "namespace": self.namespace, "labels": self.pod_labels},
                "spec": {"containers": [{"name": "app", "image": "app:1"}]},
                "status": {"phase": "Running", "containerStatuses": [status]},
            }
            for name in self.pods
        ]

    def kubeconfig(self, token: str) -> str:
        """A kubeconfig (YAML is a superset of JSON) whose current context is this server."""
        return json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "standin", "cluster": {"server": self.url}}],
                "users": [{"name": "standin", "user": {"token": token}}],
                "contexts": [{"name": "standin", "context": {"cluster": "standin", "user": "standin"}}],
                "current-context": "standin",
            }
        )
