"""Cross-cutting concerns for every Slack request: dependency injection and the global error handler."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

import structlog
from slack_bolt import App, BoltContext
from slack_bolt.context.respond import Respond

from bot.deps import BotDeps
from bot.listeners.replies import ephemeral_if_possible
from workers.errors import UserInputError
from workers.slack.neutral import neutralize

log = structlog.get_logger(__name__)


def new_run_id() -> str:
    return "r-" + secrets.token_hex(5)


def register(app: App, deps: BotDeps) -> None:
    @app.middleware
    def inject(context: BoltContext, next: Callable[[], Any]) -> Any:
        context["deps"] = deps
        context["run_id"] = new_run_id()
        return next()

    @app.error
    def on_error(
        error: Exception, context: BoltContext, respond: Respond | None, body: dict[str, Any]
    ) -> None:
        """Typed user errors become an ephemeral message; anything else is logged with a run id and the
        user sees only that id, never a stack trace."""
        run_id = context.get("run_id") or new_run_id()
        if isinstance(error, UserInputError):
            text = f":warning: {neutralize(str(error))}"
        else:
            log.error("unhandled error", run_id=run_id, error=type(error).__name__, exc_info=error)
            text = f":warning: Something went wrong on my side (run id `{run_id}`). Try again in a minute."
        ephemeral_if_possible(respond, body, text, run_id)
