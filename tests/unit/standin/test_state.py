from concurrent.futures import ThreadPoolExecutor

import pytest
from slack_sdk import WebClient

from bot.standin import SlackStandIn
from bot.standin.state import Workspace, ts_key

from .conftest import TOKEN


def test_seeded_messages_keep_their_ts_and_order() -> None:
    state = Workspace()
    state.add_channel("C1", "general")
    later = state.add_message("C1", "U1", "second", ts="1700000000.000200")
    earlier = state.add_message("C1", "U1", "first", ts="1700000000.000100")
    assert [m["text"] for m in state.messages("C1")] == ["first", "second"]
    assert ts_key(state.next_ts()) > ts_key(later) > ts_key(earlier)
    with pytest.raises(ValueError, match="already has"):
        state.add_message("C1", "U1", "dup", ts=later)
    with pytest.raises(KeyError):
        state.add_message("C1", "U1", "orphan", thread_ts="1.000001")


def test_reply_to_a_reply_joins_the_parent_thread() -> None:
    state = Workspace()
    state.add_channel("C1", "general")
    parent = state.add_message("C1", "U1", "parent")
    reply = state.add_message("C1", "U2", "reply", thread_ts=parent)
    nested = state.add_message("C1", "U1", "nested", thread_ts=reply)
    assert state.message("C1", nested)["thread_ts"] == parent  # type: ignore[index]
    root = state.message("C1", parent)
    assert root is not None
    assert (root["reply_count"], root["reply_users"], root["latest_reply"]) == (2, ["U2", "U1"], nested)


def test_concurrent_posts_get_unique_increasing_ts(standin: SlackStandIn) -> None:
    client = WebClient(token=TOKEN, base_url=standin.api_url)
    with ThreadPoolExecutor(max_workers=50) as pool:
        stamps = list(
            pool.map(lambda n: client.chat_postMessage(channel="C1INC", text=str(n))["ts"], range(100))
        )
    assert len(set(stamps)) == 100
    stored = [m["ts"] for m in standin.messages("C1INC")]
    assert stored == sorted(stamps, key=ts_key)
    assert len(standin.calls_to("chat.postMessage")) == 100
