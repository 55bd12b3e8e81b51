"""Reading the channel through the Slack stand-in: system notices out, attachment-only and
block-only alert bots in, the history and a long thread read page by page."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import redis
from slack_sdk import WebClient

from bot.standin import SlackStandIn
from workers.incidents import IncidentStore
from workers.models import Incident
from workers.postmortem.gather import SlackReader, gather
from workers.triage.board import Board

TOKEN = "xoxb-gather-test"
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


@pytest.fixture
def standin() -> Iterator[SlackStandIn]:
    with SlackStandIn(bot_token=TOKEN) as server:
        server.state.add_user("U1", "alice", "Alice Moreau")
        server.state.add_channel("C1", "inc-db")
        yield server


def _ts(seconds: int) -> str:
    return f"{(T0 + timedelta(seconds=seconds)).timestamp():.6f}"


def test_the_channel_is_read_in_pages_with_alerts_in_and_notices_out(
    standin: SlackStandIn, client: redis.Redis
) -> None:
    ws = standin.state
    ws.insert("C1", {"type": "message", "subtype": "channel_join", "user": "U1", "text": "<@U1> has joined"},
              ts=_ts(1))  # fmt: skip
    ws.insert("C1", {"type": "message", "subtype": "channel_topic", "user": "U1", "text": "set the topic"},
              ts=_ts(2))  # fmt: skip
    alert = {
        "type": "message",
        "subtype": "bot_message",
        "bot_id": "B1",
        "username": "Alertmanager",
        "text": "",
        "attachments": [{"title": "[FIRING:1] DiskFull (db-1)", "text": "disk 98% full"}],
    }
    ws.insert("C1", alert, ts=_ts(3))
    grafana = {
        "type": "message",
        "bot_id": "B2",
        "bot_profile": {"name": "Grafana"},
        "text": "",
        "blocks": [{"type": "header", "text": {"type": "plain_text", "text": "[RESOLVED] DiskFull"}}],
    }
    ws.insert("C1", grafana, ts=_ts(4))
    root = ws.add_message("C1", "U1", "db-1 disk is filling up", ts=_ts(10))
    for n in range(12):
        ws.add_message("C1", "U1", f"reply {n}", ts=_ts(20 + n), thread_ts=root)
    for n in range(9):
        ws.add_message("C1", "U1", f"top {n}", ts=_ts(100 + n))
    incident = Incident(id="INC-1", channel_id="C1", channel_name="inc-db", started_at=T0, requester="U1")
    reader = SlackReader(WebClient(token=TOKEN, base_url=standin.api_url), page=5)
    got = gather(
        reader,
        incident,
        IncidentStore(client, "inc-*"),
        Board(client),
        client,
        pin_reaction="pushpin",
        lookback_minutes=10,
    )
    texts = [m.text for m in got.messages]
    assert len(texts) == 2 + 1 + 12 + 9 and not any("joined" in t or "topic" in t for t in texts)
    assert texts[:2] == ["[FIRING:1] DiskFull (db-1)\ndisk 98% full", "[RESOLVED] DiskFull"]
    alerts = [(m.author, m.alert.tool, m.alert.state) for m in got.messages if m.alert]
    assert alerts == [("Alertmanager", "alertmanager", "firing"), ("Grafana", "grafana", "resolved")]
    # 14 top-level messages and a 13-message thread (its root included), 5 a page.
    assert len(standin.calls_to("conversations.history")) == 3
    assert len(standin.calls_to("conversations.replies")) == 3
