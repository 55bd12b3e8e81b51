"""Start-up checks that turn an unreachable dependency into one line naming it and what to do."""

from __future__ import annotations

import redis

from workers.errors import StartupError
from workers.settings import RedisSettings


def where(settings: RedisSettings) -> str:
    """REDIS_URL without its password, or the embedded server."""
    if settings.url is None:
        return "the embedded Redis"
    url = settings.url.get_secret_value()
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        rest = "***@" + rest.rsplit("@", 1)[1]
    return f"REDIS_URL {scheme}{sep}{rest}"


def require_redis(client: redis.Redis, settings: RedisSettings) -> None:
    """Redis answers a PING, or `StartupError` saying why not."""
    at = where(settings)
    try:
        client.ping()
    except redis.AuthenticationError:
        raise StartupError(
            f"{at} refused the password: put the right one in REDIS_URL (redis://:PASSWORD@host:6379/0)"
        ) from None
    except redis.ResponseError as exc:
        if "NOAUTH" in str(exc) or "auth" in str(exc).lower():
            raise StartupError(
                f"{at} needs a password: add it to REDIS_URL (redis://:PASSWORD@host:6379/0)"
            ) from None
        raise StartupError(f"{at} answered PING with {exc}: check that it is a Redis server") from None
    except redis.RedisError as exc:
        raise StartupError(f"cannot reach {at} ({exc}): start Redis or fix REDIS_URL") from None
