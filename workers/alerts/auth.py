"""Who may send alerts: bearer or basic credentials as Alertmanager's `http_config` sends them, and
PagerDuty's `X-PagerDuty-Signature` (`v1=` HMAC-SHA256 of the raw body, one per active secret).
Every comparison is constant-time."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from pydantic import SecretStr


def bearer_ok(authorization: str, token: SecretStr | None) -> bool:
    scheme, _, given = authorization.partition(" ")
    if token is None or scheme.lower() != "bearer" or not given.strip():
        return False
    return hmac.compare_digest(given.strip().encode(), token.get_secret_value().encode())


def basic_ok(authorization: str, username: str | None, password: SecretStr | None) -> bool:
    scheme, _, encoded = authorization.partition(" ")
    if username is None or password is None or scheme.lower() != "basic":
        return False
    try:
        user, sep, given = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    same_user = hmac.compare_digest(user.encode(), username.encode())
    same_password = hmac.compare_digest(given.encode(), password.get_secret_value().encode())
    return bool(sep) and same_user and same_password


def pagerduty_signature(body: bytes, secret: bytes) -> str:
    return "v1=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def pagerduty_ok(header: str, body: bytes, secrets: list[bytes]) -> bool:
    """True when any signature in the header matches the body under any configured secret."""
    given = [s.strip() for s in header.split(",") if s.strip().startswith("v1=")]
    expected = [pagerduty_signature(body, key) for key in secrets]
    return any(hmac.compare_digest(g.encode(), e.encode()) for g in given for e in expected)
