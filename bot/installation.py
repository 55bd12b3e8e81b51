"""Installation checks on every interactive payload and slash command: the team, the enterprise and
the app it names must be the ones this bot is installed as (team and enterprise from `auth.test`,
the app from SLACK_APP_ID, else from `bots.info` on the bot `auth.test` names).

A signed payload from anywhere else (a Slack Connect partner's workspace, a second installation of
the app, someone holding a leaked signing secret) is acknowledged and not acted on: no listener
runs, nothing is posted to the response URL it carries, and the refusal is audited with what the
payload claimed. When the installation cannot be read (Slack unreachable), payloads are refused too.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis
import structlog
from slack_bolt import App, BoltResponse
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.deps import BotDeps
from workers import audit

log = structlog.get_logger(__name__)
INTERACTIVE = frozenset(
    {"block_actions", "view_submission", "view_closed", "shortcut", "message_action", "block_suggestion"}
)


@dataclass(frozen=True)
class Installed:
    team_id: str
    enterprise_id: str  # "" outside Enterprise Grid
    app_id: str


class Installation:
    """What this bot is installed as, read once from Slack (a failed read is retried next time)."""

    def __init__(self, client: WebClient, app_id: str | None) -> None:
        self.client = client
        self.app_id = app_id
        self._installed: Installed | None = None
        self._lock = threading.Lock()

    def installed(self) -> Installed:
        with self._lock:
            if self._installed is None:
                auth = self.client.auth_test()
                app_id = self.app_id or str(
                    (self.client.bots_info(bot=str(auth.get("bot_id", ""))).get("bot") or {}).get(
                        "app_id", ""
                    )
                )
                self._installed = Installed(
                    str(auth.get("team_id") or ""), str(auth.get("enterprise_id") or ""), app_id
                )
            return self._installed

    def refusal(self, body: dict[str, Any]) -> str:
        """Why the payload is not from this installation; "" when it is."""
        try:
            mine = self.installed()
        except SlackApiError as exc:
            return f"the installation could not be read from Slack ({exc.response.get('error')})"
        claimed = claims(body)
        if not mine.team_id or not mine.app_id:
            return "the installation's team or app id is unknown (set SLACK_APP_ID)"
        if foreign := sorted(t for t in claimed["teams"] if t != mine.team_id):
            return f"team {', '.join(foreign) or 'none'} is not the installed team {mine.team_id}"
        if claimed["enterprise"] != mine.enterprise_id:
            return f"enterprise {claimed['enterprise'] or 'none'} is not {mine.enterprise_id or 'none'}"
        if claimed["app"] != mine.app_id:
            return f"app {claimed['app'] or 'none'} is not the installed app {mine.app_id}"
        return ""


def claims(body: dict[str, Any]) -> dict[str, Any]:
    """The team(s), enterprise and app an interactive payload or a slash command says it is from."""
    team = body.get("team")
    user = body.get("user")
    enterprise = body.get("enterprise")
    grid = enterprise.get("id") if isinstance(enterprise, dict) else None
    teams = {
        str(t)
        for t in (
            team.get("id") if isinstance(team, dict) else None,
            user.get("team_id") if isinstance(user, dict) else None,
            body.get("team_id"),
        )
        if t
    }
    return {
        "teams": teams or {""},
        "enterprise": str(grid or body.get("enterprise_id") or ""),
        "app": str(body.get("api_app_id") or ""),
    }


def checked(body: dict[str, Any]) -> bool:
    """Interactive payloads and slash commands; events and Slack's own handshakes are not."""
    return body.get("type") in INTERACTIVE or "command" in body


def register(app: App, deps: BotDeps, installation: Installation) -> None:
    @app.middleware
    def from_this_installation(body: dict[str, Any], next: Callable[[], Any]) -> Any:
        if not checked(body) or not (reason := installation.refusal(body)):
            return next()
        who = body.get("user")
        user = (who.get("id") if isinstance(who, dict) else None) or body.get("user_id", "")
        values = [str(a.get("value", ""))[:80] for a in body.get("actions") or [] if isinstance(a, dict)]
        log.warning("payload refused: not from this installation", reason=reason, user=user)
        try:
            audit.record(
                deps.redis,
                "",
                "payload_refused",
                by=str(user)[:40],
                reason=reason,
                claimed={k: sorted(v) if isinstance(v, set) else v for k, v in claims(body).items()},
                proposal=values[0] if values else "",
                payload=str(body.get("type") or body.get("command") or "")[:40],
            )
        except redis.RedisError as exc:
            log.error("payload refusal not audited", error=str(exc))
        return BoltResponse(status=200, body="")
