"""The Slack app manifest, built from what the code registers and calls.

`incident-copilot manifest --url https://copilot.example.com` prints it for HTTP mode, `--socket-mode`
for Socket Mode. `slack-manifest.yaml` in the repository is this output for the example URL, and a
test keeps the two, the listeners and the Web API methods the code calls, in step.
"""

from __future__ import annotations

from typing import Any

import yaml

from workers.slack import ids

EXAMPLE_URL = "https://copilot.example.com"
# Web API method → the bot scope it needs (only the methods the code calls).
METHOD_SCOPES = {
    "chat_postMessage": "chat:write",
    "chat_update": "chat:write",
    "conversations_history": "channels:history",
    "conversations_replies": "channels:history",
    "conversations_info": "channels:read",
    "users_info": "users:read",
    "bots_info": "users:read",  # the app id interactive payloads must carry
    "files_upload_v2": "files:write",
    "usergroups_list": "usergroups:read",  # approvers named by user group
    "conversations_create": "channels:manage",  # alerts: a new incident channel
    "conversations_setTopic": "channels:manage",
    "conversations_invite": "channels:manage",
}
# The same methods on private channels the bot was invited to need the groups scopes too.
PRIVATE_CHANNEL_SCOPES = {
    "conversations_history": "groups:history",
    "conversations_replies": "groups:history",
    "conversations_info": "groups:read",
}
COMMAND_SCOPES = ["commands"]
# Messages in public and private channels the bot is in; an incident channel archived (drafts its
# postmortem).
EVENTS = [
    f"{ids.MESSAGE_EVENT}.channels",
    f"{ids.MESSAGE_EVENT}.groups",
    ids.CHANNEL_ARCHIVE_EVENT,
    ids.GROUP_ARCHIVE_EVENT,
]
HEADER = """\
# Slack app manifest for incident-copilot, printed by `incident-copilot manifest`.
# Create the app at api.slack.com/apps → "From a manifest". HTTP mode: every request URL is the
# bot's public base URL + /slack/events. Socket Mode: `incident-copilot manifest --socket-mode`.
"""


def scopes() -> list[str]:
    return sorted({*METHOD_SCOPES.values(), *PRIVATE_CHANNEL_SCOPES.values(), *COMMAND_SCOPES})


def manifest(base_url: str | None) -> dict[str, Any]:
    """The manifest for HTTP mode at `base_url`, or for Socket Mode when it is None."""
    url = f"{base_url.rstrip('/')}/slack/events" if base_url else None
    command: dict[str, Any] = {
        "command": ids.TRIAGE_COMMAND,
        "description": "Triage this incident from the channel's evidence",
        "usage_hint": "[what you see] [since 10:40 | last 30m] · search <text> · resolve [summary] · status",
        "should_escape": False,
    }
    events: dict[str, Any] = {"bot_events": EVENTS}
    interactivity: dict[str, Any] = {"is_enabled": True}  # every button in the answers
    if url:
        command["url"] = events["request_url"] = interactivity["request_url"] = url
    return {
        "display_information": {
            "name": "incident-copilot",
            "description": "Evidence-cited triage in incident channels.",
            "background_color": "#2c3e50",
        },
        "features": {
            "bot_user": {"display_name": "incident-copilot", "always_online": True},
            "slash_commands": [command],
        },
        "oauth_config": {"scopes": {"bot": scopes()}},
        "settings": {
            "event_subscriptions": events,
            "interactivity": interactivity,
            "org_deploy_enabled": False,
            "socket_mode_enabled": url is None,
            "token_rotation_enabled": False,
        },
    }


def render(base_url: str | None) -> str:
    return HEADER + str(yaml.safe_dump(manifest(base_url), sort_keys=False, allow_unicode=True))
