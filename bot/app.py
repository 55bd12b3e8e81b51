"""The Bolt app: built once from settings and dependencies, listeners registered per Slack surface."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

from slack_bolt import App
from slack_sdk import WebClient

from bot import installation, middleware
from bot.deps import BotDeps
from bot.guard import quiet_bolt_bodies
from bot.listeners import actions, approvals, commands, events
from workers.slack.client import BOT_DEADLINE_S, make_client


def build_app(deps: BotDeps, *, client: WebClient | None = None) -> App:
    """The app in HTTP or Socket Mode alike; Bolt verifies every request's signature in HTTP mode.

    Listeners run on a pool sized like the HTTP server's, so a burst of commands is acked
    without queueing behind each other's Slack calls.
    """
    # Bolt also reads SLACK_BOT_TOKEN from the environment and warns that our client's token wins;
    # the client is built from Settings on purpose (SLACK_API_URL, .env, secrets directory).
    logging.getLogger("slack_bolt.App").addFilter(lambda r: "will be unused" not in r.getMessage())
    settings = deps.settings
    secret = settings.slack.signing_secret
    app = App(
        client=client or make_client(settings.slack, BOT_DEADLINE_S),
        signing_secret=secret.get_secret_value() if secret else "",
        process_before_response=False,
        listener_executor=ThreadPoolExecutor(
            max_workers=settings.server.threads, thread_name_prefix="listener"
        ),
        request_verification_enabled=secret is not None,
    )
    quiet_bolt_bodies()
    middleware.register(app, deps)
    installation.register(app, deps, installation.Installation(app.client, settings.slack.app_id))
    commands.register(app)
    events.register(app)
    actions.register(app)
    approvals.register(app)
    return app
