"""The worker's own Slack Web API client (the bot process has Bolt's)."""

from __future__ import annotations

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler

from workers.settings import SlackSettings
from workers.slack.retry import SlackFaultRetryHandler

TIMEOUT_S = 10
# A worker waits out a rate limit or a Slack fault for this long per call before the job fails;
# the bot, which a user is waiting on, gives up much sooner and says what happened.
WORKER_DEADLINE_S = 60.0
BOT_DEADLINE_S = 2.5


def make_client(settings: SlackSettings, deadline_s: float = WORKER_DEADLINE_S) -> WebClient:
    """A client that retries `ratelimited` (after `Retry-After`) and 5xx answers until `deadline_s`,
    and dropped connections."""
    token = settings.bot_token.get_secret_value() if settings.bot_token else None
    return WebClient(
        token=token,
        base_url=settings.api_url,
        timeout=TIMEOUT_S,
        retry_handlers=[SlackFaultRetryHandler(deadline_s), ConnectionErrorRetryHandler()],
    )
