"""``SlackDriver``: sends the bot signed requests shaped like Slack's slash commands, events and actions."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypedDict, Unpack
from urllib.parse import urlencode, urlsplit

from bot.standin.state import response_key


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Slack's v0 request signature: ``v0=`` + hex HMAC-SHA256 of ``v0:<timestamp>:<body>``."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


class Signing(TypedDict, total=False):
    """Options for negative tests, accepted by every send method."""

    tamper: bool  # change the body after signing
    secret: str  # sign with this secret instead of the real one
    timestamp_offset: int  # seconds added to the signed timestamp, e.g. -600 for a stale request


@dataclass(frozen=True)
class DriverResponse:
    """What the bot answered."""

    status: int
    body: str
    elapsed: float
    headers: dict[str, str]

    def json(self) -> Any:
        return json.loads(self.body)


class SlackDriver:
    """Plays Slack's side of the Events API and interactivity against ``events_url``.

    Every send method signs its request with ``signing_secret`` and accepts the ``Signing`` options
    (``tamper``, ``secret``, ``timestamp_offset``) for negative tests. Instances hold no
    per-request state, so one driver can be used from many threads at once.
    """

    def __init__(
        self,
        events_url: str,
        signing_secret: str,
        *,
        team_id: str = "T0INCIDENT",
        team_domain: str = "incident-copilot",
        app_id: str = "A0COPILOT",
        bot_user_id: str = "U0BOT",
        enterprise_id: str | None = None,
        response_url_factory: Callable[[str], str] | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.events_url = events_url
        self.signing_secret = signing_secret
        self.last_request: tuple[bytes, dict[str, str]] = (b"", {})
        self.team_id = team_id
        self.team_domain = team_domain
        self.app_id = app_id
        self.bot_user_id = bot_user_id
        self.enterprise_id = enterprise_id
        self.response_url_factory = response_url_factory
        self.timeout = timeout
        # Slack's legacy verification token; Bolt ignores it when it verifies signatures.
        self.verification_token = "standin-verification-token"

    # -- requests ------------------------------------------------------------------------------------

    def command_fields(
        self, text: str, *, user_id: str, channel_id: str, channel_name: str = "", command: str = "/triage",
        user_name: str = "",
    ) -> dict[str, str]:  # fmt: skip
        """The fields Slack sends for a slash command (form-encoded over HTTP, JSON over Socket Mode)."""
        return {
            "token": self.verification_token,
            "team_id": self.team_id,
            "team_domain": self.team_domain,
            "channel_id": channel_id,
            "channel_name": channel_name,
            "user_id": user_id,
            "user_name": user_name or user_id,
            "command": command,
            "text": text,
            "api_app_id": self.app_id,
            **({"enterprise_id": self.enterprise_id} if self.enterprise_id else {}),
            "is_enterprise_install": "false",
            "response_url": self._response_url(channel_id, user_id),
            "trigger_id": _trigger_id(),
        }

    def slash_command(
        self,
        text: str,
        *,
        user_id: str,
        channel_id: str,
        channel_name: str = "",
        command: str = "/triage",
        user_name: str = "",
        **signing: Unpack[Signing],
    ) -> DriverResponse:
        """Send a slash command as Slack does: a form body with every field Slack includes."""
        fields = self.command_fields(
            text, user_id=user_id, channel_id=channel_id, channel_name=channel_name, command=command,
            user_name=user_name,
        )  # fmt: skip
        return self._send(urlencode(fields).encode(), "application/x-www-form-urlencoded", **signing)

    def event_envelope(self, event: dict[str, Any]) -> dict[str, Any]:
        """The Events API ``event_callback`` envelope around ``event``."""
        return {
            "token": self.verification_token,
            "team_id": self.team_id,
            "api_app_id": self.app_id,
            "event": event,
            "type": "event_callback",
            "event_id": "Ev" + uuid.uuid4().hex[:12].upper(),
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": self.team_id,
                    "user_id": self.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
        }

    def event(self, event: dict[str, Any], **signing: Unpack[Signing]) -> DriverResponse:
        """Send an Events API ``event_callback`` envelope around ``event``."""
        return self._send(json.dumps(self.event_envelope(event)).encode(), "application/json", **signing)

    def message_event(
        self,
        channel: str,
        user: str,
        text: str,
        ts: str,
        *,
        thread_ts: str | None = None,
        channel_type: str = "channel",
        **signing: Unpack[Signing],
    ) -> DriverResponse:
        """Send a ``message`` event for a person's message (``channel_type`` "group": a private channel)."""
        event = {
            "type": "message",
            "channel": channel,
            "user": user,
            "text": text,
            "ts": ts,
            "event_ts": ts,
            "channel_type": channel_type,
            "team": self.team_id,
        }
        if thread_ts is not None:
            event["thread_ts"] = thread_ts
        return self.event(event, **signing)

    def block_action(
        self,
        action_id: str,
        value: str,
        *,
        user_id: str,
        channel_id: str,
        message_ts: str,
        block_id: str = "b",
        message: dict[str, Any] | None = None,
        **signing: Unpack[Signing],
    ) -> DriverResponse:
        """Send a button click on a channel message as a ``block_actions`` payload.

        Pass the clicked ``message`` to include it in the payload the way Slack does.
        """
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": {"id": user_id, "username": user_id, "name": user_id, "team_id": self.team_id},
            "api_app_id": self.app_id,
            "token": self.verification_token,
            "container": {
                "type": "message",
                "message_ts": message_ts,
                "channel_id": channel_id,
                "is_ephemeral": False,
            },
            "trigger_id": _trigger_id(),
            "team": {"id": self.team_id, "domain": self.team_domain},
            "enterprise": {"id": self.enterprise_id} if self.enterprise_id else None,
            "is_enterprise_install": False,
            "channel": {"id": channel_id, "name": ""},
            "state": {"values": {}},
            "response_url": self._response_url(channel_id, user_id, message_ts),
            "actions": [
                {
                    "action_id": action_id,
                    "block_id": block_id,
                    "value": value,
                    "type": "button",
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }
        if message is not None:
            payload["message"] = message
        body = urlencode({"payload": json.dumps(payload)}).encode()
        return self._send(body, "application/x-www-form-urlencoded", **signing)

    def url_verification(self, challenge: str, **signing: Unpack[Signing]) -> DriverResponse:
        """Send the ``url_verification`` handshake Slack performs when the events URL is set."""
        body = {"token": self.verification_token, "challenge": challenge, "type": "url_verification"}
        return self._send(json.dumps(body).encode(), "application/json", **signing)

    # -- plumbing ------------------------------------------------------------------------------------

    def _response_url(self, channel_id: str, user_id: str, message_ts: str = "") -> str:
        key = response_key(channel_id, user_id, message_ts)
        if self.response_url_factory is not None:
            return self.response_url_factory(key)
        return f"https://hooks.slack.com/commands/{self.team_id}/{key.rpartition(':')[2]}"

    def _send(
        self,
        body: bytes,
        content_type: str,
        *,
        tamper: bool = False,
        secret: str | None = None,
        timestamp_offset: int = 0,
    ) -> DriverResponse:
        timestamp = str(int(time.time()) + timestamp_offset)
        signature = sign(self.signing_secret if secret is None else secret, timestamp, body)
        if tamper:
            body += b" "
        headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": signature,
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
        }
        self.last_request = (body, headers)
        return self._post(body, headers)

    def replay_last(self) -> DriverResponse:
        """Send the previous request again, byte for byte and with the same signed headers."""
        body, headers = self.last_request
        return self._post(body, headers)

    def _post(self, body: bytes, headers: dict[str, str]) -> DriverResponse:
        url = urlsplit(self.events_url)
        path = f"{url.path or '/'}?{url.query}" if url.query else url.path or "/"
        connection = http.client.HTTPConnection(url.netloc, timeout=self.timeout)
        started = time.perf_counter()
        try:
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            text = response.read().decode("utf-8", errors="replace")
        finally:
            connection.close()
        elapsed = time.perf_counter() - started
        return DriverResponse(response.status, text, elapsed, dict(response.getheaders()))


def _trigger_id() -> str:
    return f"{int(time.time())}.{uuid.uuid4().int % 10**12}.{uuid.uuid4().hex}"
