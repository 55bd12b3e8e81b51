"""The worker's own Slack Web API client (the bot process has Bolt's)."""

from __future__ import annotations

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler

from workers.settings import SlackSettings

TIMEOUT_S = 10


def make_client(settings: SlackSettings) -> WebClient:
    """A client that honours `Retry-After` on 429 and retries dropped connections."""
    token = settings.bot_token.get_secret_value() if settings.bot_token else None
    return WebClient(
        token=token,
        base_url=settings.api_url,
        timeout=TIMEOUT_S,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=3), ConnectionErrorRetryHandler()],
    )
