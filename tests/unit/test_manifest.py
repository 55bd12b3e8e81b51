"""slack-manifest.yaml must match what the code registers."""

from pathlib import Path

import yaml

from workers.slack import ids

MANIFEST = yaml.safe_load((Path(__file__).resolve().parents[2] / "slack-manifest.yaml").read_text())


def test_commands_events_and_interactivity_match_the_code() -> None:
    features, settings = MANIFEST["features"], MANIFEST["settings"]
    assert [c["command"] for c in features["slash_commands"]] == [ids.TRIAGE_COMMAND]
    assert settings["event_subscriptions"]["bot_events"] == [f"{ids.MESSAGE_EVENT}.channels"]
    assert settings["interactivity"]["is_enabled"] is True  # the feedback buttons need it
    for url in (features["slash_commands"][0]["url"], settings["interactivity"]["request_url"]):
        assert url.endswith("/slack/events")


def test_scopes_are_the_least_the_code_needs() -> None:
    assert sorted(MANIFEST["oauth_config"]["scopes"]["bot"]) == [
        "channels:history", "channels:read", "chat:write", "commands", "users:read",
    ]  # fmt: skip
