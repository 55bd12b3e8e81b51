from collections.abc import Iterator

import pytest
from slack_sdk import WebClient

from bot.standin import SlackStandIn

TOKEN = "xoxb-standin-test"


@pytest.fixture
def standin() -> Iterator[SlackStandIn]:
    with SlackStandIn(bot_token=TOKEN) as server:
        server.state.add_user("U1ALICE", "alice", "Alice Chen")
        server.state.add_user("U2BOB", "bob", "Bob Diaz")
        server.state.add_channel("C1INC", "inc-checkout")
        server.state.add_channel("C2OUT", "outside", is_member=False)
        server.state.add_channel("C3OLD", "old-incident", is_archived=True)
        yield server


@pytest.fixture
def client(standin: SlackStandIn) -> WebClient:
    return WebClient(token=TOKEN, base_url=standin.api_url)
