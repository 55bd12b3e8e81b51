"""Doctor checks for Slack (token, granted scopes, signing secret) and Redis (reachable, auth,
persistence, memory policy) and the workers serving each queue."""

from __future__ import annotations

import contextlib
import re

import redis
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.doctor import Finding, failed
from bot.manifest import scopes as manifest_scopes
from workers.liveness import workers_by_queue
from workers.settings import Settings

SIGNING_SECRET = re.compile(r"^[0-9a-f]{32}$")  # what Slack issues: 32 lowercase hex digits
TIMEOUT_S = 10


def check_slack(settings: Settings) -> list[Finding]:
    s = settings.slack
    out: list[Finding] = []
    if s.signing_secret is None:
        if s.app_token is None:
            out.append(
                Finding(
                    "slack.signing_secret",
                    "fail",
                    "SLACK_SIGNING_SECRET is not set (HTTP mode needs it)",
                    "copy it from the app's Basic Information page, or use Socket Mode",
                )
            )
    elif not SIGNING_SECRET.match(s.signing_secret.get_secret_value()):
        out.append(
            Finding(
                "slack.signing_secret",
                "fail",
                "SLACK_SIGNING_SECRET does not look like Slack's (32 hex digits)",
                "copy the Signing Secret from the app's Basic Information page (not a client secret)",
            )
        )
    else:
        out.append(Finding("slack.signing_secret", "ok", "32 hex digits, as Slack issues them"))
    if s.bot_token is None:
        return [
            *out,
            Finding(
                "slack.token",
                "fail",
                "SLACK_BOT_TOKEN is not set",
                "install the app; copy its Bot User OAuth Token (xoxb-…)",
            ),
        ]
    client = WebClient(token=s.bot_token.get_secret_value(), base_url=s.api_url, timeout=TIMEOUT_S)
    try:
        answer = client.auth_test()
    except SlackApiError as exc:
        error = exc.response.get("error", "?")
        return [
            *out,
            Finding(
                "slack.token",
                "fail",
                f"Slack refused the bot token: {error}",
                "reinstall the app and copy the new Bot User OAuth Token into SLACK_BOT_TOKEN",
            ),
        ]
    except (SlackClientError, OSError) as exc:
        return [
            *out,
            Finding(
                "slack.token",
                "fail",
                f"cannot reach Slack at {s.api_url}: {exc}",
                "check SLACK_API_URL and that this host may reach it (proxy, NetworkPolicy)",
            ),
        ]
    out.append(Finding("slack.token", "ok", f"bot {answer.get('user')} in {answer.get('team')}"))
    header = next((v for k, v in answer.headers.items() if k.lower() == "x-oauth-scopes"), None)
    if header is None:
        out.append(Finding("slack.scopes", "warn", "Slack did not say which scopes the token has"))
        return out
    granted = {x.strip() for x in str(header).split(",") if x.strip()}
    missing = sorted(set(manifest_scopes()) - granted)
    if missing:
        out.append(
            Finding(
                "slack.scopes",
                "fail",
                f"the token lacks scopes the bot uses: {', '.join(missing)}",
                "add them under OAuth & Permissions (or recreate the app from `incident-copilot manifest`) "
                "and reinstall the app",
            )
        )
    else:
        out.append(Finding("slack.scopes", "ok", f"every scope in the manifest is granted ({len(granted)})"))
    return out


def check_redis(client: redis.Redis, url_shown: str) -> list[Finding]:
    try:
        client.ping()
    except redis.AuthenticationError as exc:
        return failed(
            "redis",
            f"{url_shown} refused us: {exc}",
            "put the password in REDIS_URL: redis://:PASSWORD@host:6379/0 (or user:PASSWORD)",
        )
    except redis.RedisError as exc:
        return failed(
            "redis",
            f"cannot reach {url_shown}: {exc}",
            "check REDIS_URL and that the server runs and this host may reach it",
        )
    out = [Finding("redis", "ok", f"{url_shown} answers")]
    try:
        config = {
            **client.config_get("appendonly"),
            **client.config_get("save"),
            **client.config_get("maxmemory"),
            **client.config_get("maxmemory-policy"),
        }
    except redis.RedisError as exc:
        return [
            *out,
            Finding(
                "redis.config",
                "skip",
                f"cannot read CONFIG ({exc}); check persistence and maxmemory-policy by hand",
            ),
        ]
    conf = {_text(k): _text(v) for k, v in config.items()}
    if conf.get("appendonly") != "yes" and not conf.get("save"):
        out.append(
            Finding(
                "redis.persistence",
                "warn",
                "neither AOF nor snapshots: a restart loses queued jobs, incidents and the audit trail",
                "set appendonly yes",
            )
        )
    else:
        out.append(
            Finding(
                "redis.persistence",
                "ok",
                f"appendonly {conf.get('appendonly')}, save {conf.get('save') or 'off'}",
            )
        )
    policy, limit = conf.get("maxmemory-policy", ""), int(conf.get("maxmemory") or 0)
    if limit and policy != "noeviction":
        out.append(
            Finding(
                "redis.memory",
                "fail",
                f"maxmemory-policy {policy}: when full, Redis evicts queued jobs and proposals",
                "set maxmemory-policy noeviction",
            )
        )
    elif not limit:
        out.append(
            Finding(
                "redis.memory",
                "warn",
                "no maxmemory: Redis may grow until the host runs out",
                "set maxmemory (with maxmemory-policy noeviction)",
            )
        )
    else:
        out.append(Finding("redis.memory", "ok", f"maxmemory {limit} bytes, noeviction"))
    return out


def check_workers(client: redis.Redis) -> list[Finding]:
    try:
        counts = workers_by_queue(client)
    except redis.RedisError as exc:
        return [Finding("workers", "skip", f"cannot list workers: {exc}")]
    missing = [q for q, n in counts.items() if n == 0]
    served = ", ".join(f"{q} {n}" for q, n in counts.items())
    if missing:
        return failed(
            "workers",
            f"no live worker serves {', '.join(missing)} ({served})",
            "start `incident-copilot worker` (all queues) with the same settings",
        )
    return [Finding("workers", "ok", f"live workers per queue: {served}")]


def _text(value: object) -> str:
    with contextlib.suppress(AttributeError):
        return str(value.decode())  # type: ignore[attr-defined]
    return str(value)
