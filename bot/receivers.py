"""Alert receivers on the bot's HTTP server: `POST /alerts/alertmanager` (bearer or basic auth, as
Alertmanager's `http_config` sends it), `POST /alerts/pagerduty` (V3 webhooks, `X-PagerDuty-Signature`)
and `POST /alerts/generic/<name>` (bearer; the body mapped by the alerts file).

Thin on purpose: check the size and the credentials, parse, append to the alert inbox and queue the
drain job; everything else runs in a worker. Deny by default: a receiver without a configured secret
answers 404 saying so. Refusals are counted by receiver and reason.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import redis

from workers import metrics
from workers.alerts import auth, inbox, parse
from workers.alerts.config import AlertRules
from workers.alerts.model import Alert
from workers.alerts.settings import AlertSettings
from workers.errors import AlertPayloadError
from workers.logconfig import unit_of_work

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIEnvironment

PREFIX = "/alerts/"
WsgiApp = Callable[["WSGIEnvironment", "StartResponse"], Iterable[bytes]]


class Refused(Exception):
    def __init__(
        self, status: str, reason: str, detail: str, headers: tuple[tuple[str, str], ...] = ()
    ) -> None:
        super().__init__(detail)
        self.status, self.reason, self.detail, self.headers = status, reason, detail, headers


def _answer(
    start_response: StartResponse,
    status: str,
    payload: dict[str, Any],
    headers: Iterable[tuple[str, str]] = (),
) -> Iterable[bytes]:
    body = json.dumps(payload).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(body))), *headers]
    )
    return [body]


def _body(environ: WSGIEnvironment, limit: int) -> bytes:
    try:
        declared = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise Refused("400 Bad Request", "bad_length", "Content-Length is not a number") from None
    if declared > limit:
        raise Refused(
            "413 Content Too Large", "too_large", f"the body is over {limit} bytes (ALERTS_MAX_BODY_BYTES)"
        )
    raw: bytes = environ["wsgi.input"].read(declared) if declared else environ["wsgi.input"].read(limit + 1)
    if len(raw) > limit:
        raise Refused(
            "413 Content Too Large", "too_large", f"the body is over {limit} bytes (ALERTS_MAX_BODY_BYTES)"
        )
    return raw


def _unauthenticated(what: str) -> Refused:
    return Refused(
        "401 Unauthorized",
        "unauthenticated",
        f"missing or wrong {what}",
        (("WWW-Authenticate", 'Bearer realm="alerts"'),),
    )


class Receivers:
    def __init__(self, settings: AlertSettings, rules: AlertRules, client: redis.Redis) -> None:
        self.settings, self.rules, self.client = settings, rules, client

    def status(self) -> dict[str, str]:
        """Each receiver: enabled, or disabled with the setting that enables it (shown on /readyz)."""
        s = self.settings
        basic = s.alertmanager_username and s.alertmanager_password
        out = {
            "alertmanager": "enabled" if s.alertmanager_token or basic
            else "disabled: set ALERTS_ALERTMANAGER_TOKEN or ALERTS_ALERTMANAGER_USERNAME and _PASSWORD",
            "pagerduty": "enabled" if s.pagerduty_keys() else "disabled: set ALERTS_PAGERDUTY_SECRETS",
        }  # fmt: skip
        for name in self.rules.generic:
            out[f"generic/{name}"] = "enabled" if s.generic_token else "disabled: set ALERTS_GENERIC_TOKEN"
        return out

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        receiver = environ.get("PATH_INFO", "").removeprefix(PREFIX)
        with unit_of_work("alerts received", receiver=receiver) as line:
            try:
                if environ.get("REQUEST_METHOD") != "POST":
                    raise Refused(
                        "405 Method Not Allowed", "method", "alerts are POSTed", (("Allow", "POST"),)
                    )
                alerts = self._receive(receiver, environ)
                inbox.record(self.client, alerts)
            except Refused as exc:
                line.update(outcome="refused", reason=exc.reason)
                metrics.inc(self.client, "alerts_refused", receiver=receiver[:40], reason=exc.reason)
                return _answer(
                    start_response, exc.status, {"error": exc.reason, "detail": exc.detail}, exc.headers
                )
            except redis.RedisError:
                line.update(outcome="redis_down")
                return _answer(
                    start_response,
                    "503 Service Unavailable",
                    {"error": "redis_unreachable", "detail": "retry later"},
                    (("Retry-After", "5"),),
                )
            for alert in alerts:
                metrics.inc(self.client, "alerts_received", source=alert.source)
            line.update(outcome="accepted", alerts=len(alerts))
            return _answer(start_response, "202 Accepted", {"accepted": len(alerts)})

    def _receive(self, receiver: str, environ: WSGIEnvironment) -> list[Alert]:
        enabled = self.status().get(receiver)
        if enabled is None:
            raise Refused(
                "404 Not Found",
                "unknown_receiver",
                f"no receiver {receiver!r}; see {', '.join(self.status())}",
            )
        if enabled != "enabled":
            raise Refused("404 Not Found", "disabled", f"the {receiver} receiver is {enabled}")
        raw = _body(environ, self.settings.max_body_bytes)
        authorization = environ.get("HTTP_AUTHORIZATION", "")
        s, now = self.settings, datetime.now(UTC)
        try:
            if receiver == "alertmanager":
                bearer = auth.bearer_ok(authorization, s.alertmanager_token)
                if not (
                    bearer or auth.basic_ok(authorization, s.alertmanager_username, s.alertmanager_password)
                ):
                    raise _unauthenticated("Authorization (bearer token or basic auth)")
                return parse.alertmanager(parse.body_json(raw), now)
            if receiver == "pagerduty":
                if not auth.pagerduty_ok(
                    environ.get("HTTP_X_PAGERDUTY_SIGNATURE", ""), raw, s.pagerduty_keys()
                ):
                    raise Refused(
                        "401 Unauthorized", "bad_signature", "X-PagerDuty-Signature does not match the body"
                    )
                return parse.pagerduty(parse.body_json(raw), now)
            name = receiver.removeprefix("generic/")
            if not auth.bearer_ok(authorization, s.generic_token):
                raise _unauthenticated("Authorization: Bearer token")
            return parse.generic(name, self.rules.generic[name], parse.body_json(raw), now)
        except AlertPayloadError as exc:
            raise Refused("400 Bad Request", "bad_payload", str(exc)) from None
