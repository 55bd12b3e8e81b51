"""slack-manifest.yaml must match what the code registers (commands, events, actions) and calls (scopes)."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from bot.listeners import actions, approvals, commands, events
from bot.manifest import EXAMPLE_URL, METHOD_SCOPES, PRIVATE_CHANNEL_SCOPES, manifest, render
from workers.slack import ids

REPO = Path(__file__).resolve().parents[2]
COMMITTED = (REPO / "slack-manifest.yaml").read_text()


class Registrations:
    """Stands in for the Bolt app only to record what each listener module registers."""

    def __init__(self) -> None:
        self.seen: dict[str, list[str]] = {"command": [], "event": [], "action": []}

    def _record(self, kind: str, name: str) -> Callable[[Any], Any]:
        self.seen[kind].append(name)
        return lambda handler: handler

    def command(self, name: str) -> Callable[[Any], Any]:
        return self._record("command", name)

    def event(self, name: str) -> Callable[[Any], Any]:
        return self._record("event", name)

    def action(self, name: str) -> Callable[[Any], Any]:
        return self._record("action", name)


def registered() -> dict[str, list[str]]:
    app = Registrations()
    for module in (commands, events, actions, approvals):
        module.register(app)  # type: ignore[arg-type]
    return app.seen


def test_the_committed_manifest_is_what_the_command_prints() -> None:
    printed = subprocess.run(
        [sys.executable, "-m", "bot.cli", "--env-file", "/dev/null", "manifest", "--url", EXAMPLE_URL],
        capture_output=True, text=True, timeout=180, check=True,
    ).stdout  # fmt: skip
    assert printed == COMMITTED


def test_commands_events_and_buttons_match_the_code() -> None:
    seen, committed = registered(), yaml.safe_load(COMMITTED)
    features, settings = committed["features"], committed["settings"]
    assert [c["command"] for c in features["slash_commands"]] == seen["command"]
    subscribed = [
        name
        for e in seen["event"]
        for name in ([f"{e}.channels", f"{e}.groups"] if e == ids.MESSAGE_EVENT else [e])
    ]
    assert settings["event_subscriptions"]["bot_events"] == subscribed
    prefixes = ("KB_", "HYP_", "INCIDENT_", "POSTMORTEM_", "PROPOSAL_")
    buttons = {v for k, v in vars(ids).items() if k.startswith(prefixes) and isinstance(v, str)}
    assert set(seen["action"]) == buttons and settings["interactivity"]["is_enabled"] is True
    for url in (features["slash_commands"][0]["url"], settings["interactivity"]["request_url"]):
        assert url == f"{EXAMPLE_URL}/slack/events"


def test_scopes_are_exactly_what_the_code_calls() -> None:
    called = set()  # a method called, or handed to a caller (workers.alerts.slackcall)
    for path in [*REPO.joinpath("bot").rglob("*.py"), *REPO.joinpath("workers").rglob("*.py")]:
        if "standin" in path.parts or "demo" in path.parts:
            continue  # the local stand-in and its driver are not the app
        called |= set(
            re.findall(
                r"\.(chat_\w+|conversations_\w+|users_\w+|usergroups_\w+|files_\w+|reactions_\w+|bots_\w+)[(,]",
                path.read_text(),
            )
        )
    assert called == set(METHOD_SCOPES), "a Web API method is called without a scope in bot/manifest.py"
    scopes = yaml.safe_load(COMMITTED)["oauth_config"]["scopes"]["bot"]
    assert sorted(scopes) == sorted({*METHOD_SCOPES.values(), *PRIVATE_CHANNEL_SCOPES.values(), "commands"})
    assert set(PRIVATE_CHANNEL_SCOPES) <= set(METHOD_SCOPES)  # the same methods, on private channels
    listed = re.search(
        r"It asks for\s+the least the code uses: (.*?);", (REPO / "README.md").read_text(), re.S
    )
    assert listed and re.findall(r"`([a-z:]+)`", listed.group(1)) == sorted(
        scopes
    )  # the README says the same


def test_socket_mode_manifest_has_no_urls() -> None:
    text = render(None)
    assert "url" not in text and manifest(None)["settings"]["socket_mode_enabled"] is True
