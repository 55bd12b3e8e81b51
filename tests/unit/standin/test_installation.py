"""Installation checks against the stand-in's `auth.test` and `bots.info`: what a payload claims
(team, the clicking user's team, enterprise, app) must be this installation."""

from __future__ import annotations

from typing import Any

from slack_sdk import WebClient

from bot.installation import Installation, checked
from bot.standin import SlackStandIn


def click(team: str = "T0INCIDENT", user_team: str = "T0INCIDENT", **extra: Any) -> dict[str, Any]:
    return {
        "type": "block_actions",
        "team": {"id": team},
        "user": {"id": "U1ALICE", "team_id": user_team},
        "api_app_id": "A0COPILOT",
        "enterprise": None,
        **extra,
    }


def test_a_payload_from_this_installation_passes(client: WebClient) -> None:
    assert Installation(client, None).refusal(click()) == ""
    command = {"command": "/triage", "team_id": "T0INCIDENT", "api_app_id": "A0COPILOT"}
    assert Installation(client, None).refusal(command) == ""


def test_every_other_origin_is_refused_with_what_it_claimed(client: WebClient) -> None:
    installed = Installation(client, None)
    assert "team T0CONNECT is not the installed team" in installed.refusal(click(user_team="T0CONNECT"))
    assert "team T0OTHER" in installed.refusal(click(team="T0OTHER", user_team="T0OTHER"))
    assert "enterprise E0GRID is not none" in installed.refusal(click(enterprise={"id": "E0GRID"}))
    assert "app A0EVIL is not the installed app A0COPILOT" in installed.refusal(click(api_app_id="A0EVIL"))
    assert "app none" in installed.refusal(click(api_app_id=""))
    command = {
        "command": "/triage",
        "team_id": "T0INCIDENT",
        "enterprise_id": "E0GRID",
        "api_app_id": "A0COPILOT",
    }
    assert "enterprise E0GRID" in installed.refusal(command)


def test_the_configured_app_id_wins_and_slack_down_refuses(standin: SlackStandIn, client: WebClient) -> None:
    assert "A0COPILOT is not the installed app A0PINNED" in Installation(client, "A0PINNED").refusal(click())
    standin.fail("auth.test", "ratelimited")
    assert "could not be read from Slack (ratelimited)" in Installation(client, None).refusal(click())


def test_events_and_handshakes_are_not_checked() -> None:
    assert checked(click()) and checked({"command": "/triage"})
    assert not checked({"type": "event_callback"}) and not checked({"type": "url_verification"})
