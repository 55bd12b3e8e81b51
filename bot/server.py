"""The HTTP front: `POST /slack/events` for Bolt; `GET /healthz`, `GET /readyz` and `GET /metrics`
(Prometheus) for the platform.

Served by waitress, a production WSGI server (multi-threaded, no development-server caveats).
In Socket Mode the same health endpoints are served while Bolt talks to Slack over a websocket.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import redis
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from waitress.server import create_server

from bot.guard import guard
from workers.metrics import RedisCollector
from workers.queue import ALL_QUEUES

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIEnvironment

EVENTS_PATH = "/slack/events"
DEFAULT_MAX_BODY = 1_000_000
Probe = Callable[[], dict[str, bool]]


def _json(start_response: StartResponse, status: str, payload: dict[str, Any]) -> Iterable[bytes]:
    body = json.dumps(payload).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def readiness(client: redis.Redis, extra: Probe | None = None) -> Probe:
    """Ready when Redis answers (and, in Socket Mode, the websocket is connected)."""

    def probe() -> dict[str, bool]:
        try:
            checks = {"redis": bool(client.ping())}
        except redis.RedisError:
            checks = {"redis": False}
        return checks | (extra() if extra else {})

    return probe


def make_wsgi(
    app: App | None,
    ready: Probe,
    registry: CollectorRegistry | None = None,
    detail: Callable[[], dict[str, Any]] | None = None,
    alerts: Callable[[WSGIEnvironment, StartResponse], Iterable[bytes]] | None = None,
    *,
    signing_secret: str | None = None,
    max_body: int = DEFAULT_MAX_BODY,
) -> Callable[[WSGIEnvironment, StartResponse], Iterable[bytes]]:
    """The WSGI application; `app=None` serves only the health and metrics endpoints (Socket Mode).
    `detail` adds what `/readyz` shows without deciding readiness (the policy in force, a rejected
    edit); `alerts` serves `/alerts/…` (bot.receivers). Slack's requests pass `bot.guard` (size,
    signature, shape) before Bolt sees them."""
    bolt = None
    if app is not None:
        bolt = guard(SlackRequestHandler(app, path=EVENTS_PATH), signing_secret, max_body)

    def wsgi(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "GET")
        if path == EVENTS_PATH and method == "POST" and bolt is not None:
            return bolt(environ, start_response)
        if path.startswith("/alerts/") and alerts is not None:
            return alerts(environ, start_response)
        if path == "/healthz" and method == "GET":
            return _json(start_response, "200 OK", {"status": "ok"})
        if path == "/readyz" and method == "GET":
            checks = ready()
            ok = all(checks.values())
            more = detail() if detail else {}
            return _json(
                start_response, "200 OK" if ok else "503 Service Unavailable", {"ready": ok, **checks, **more}
            )
        if path == "/metrics" and method == "GET" and registry is not None:
            try:
                body = generate_latest(registry)
            except redis.RedisError:
                return _json(start_response, "503 Service Unavailable", {"error": "redis_unreachable"})
            start_response(
                "200 OK", [("Content-Type", CONTENT_TYPE_LATEST), ("Content-Length", str(len(body)))]
            )
            return [body]
        return _json(start_response, "404 Not Found", {"error": "not_found", "path": path})

    return wsgi


def metrics_registry(client: redis.Redis) -> CollectorRegistry:
    """Every process's counters (kept in Redis) and the queue depths, read at scrape time."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RedisCollector(client, {q: f"rq:queue:{q}" for q in ALL_QUEUES}))
    return registry


def make_server(
    wsgi: Callable[..., Iterable[bytes]],
    host: str,
    port: int,
    threads: int,
    max_body: int = DEFAULT_MAX_BODY,
) -> Any:
    """A waitress server bound now (port 0 picks a free port: see `.effective_port`); `.run()` serves.
    A body over `max_body` is refused (413) from its headers, before waitress buffers it."""
    return create_server(
        wsgi,
        host=host,
        port=port,
        threads=threads,
        ident="incident-copilot",
        clear_untrusted_proxy_headers=True,
        max_request_body_size=max_body + 1,  # waitress refuses at >=
    )
