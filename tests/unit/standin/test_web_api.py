import json
import threading
import time
import urllib.request
from urllib.parse import urlencode

import pytest
from slack_sdk import WebClient, WebhookClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from bot.standin import SlackStandIn

from .conftest import TOKEN

SECTION = {"type": "section", "text": {"type": "mrkdwn", "text": "*SEV2* checkout 5xx"}}


def api_error(call: object) -> SlackApiError:
    """Run a client call that must fail and return the error."""
    with pytest.raises(SlackApiError) as caught:
        call()  # type: ignore[operator]
    return caught.value


def test_auth_test_identifies_the_bot(client: WebClient, standin: SlackStandIn) -> None:
    answer = client.auth_test()
    assert answer["user_id"] == "U0BOT"
    assert answer["bot_id"] == "B0BOT"
    assert answer["team_id"] == "T0INCIDENT"
    assert answer["url"] == standin.url


def test_post_history_update_replies_round_trip(client: WebClient, standin: SlackStandIn) -> None:
    question = standin.state.add_message("C1INC", "U1ALICE", "checkout is failing")
    posted = client.chat_postMessage(channel="C1INC", text="Looking", blocks=[SECTION], thread_ts=question)
    assert posted["channel"] == "C1INC"
    assert posted["message"]["thread_ts"] == question
    assert posted["message"]["bot_id"] == "B0BOT"

    history = client.conversations_history(channel="C1INC")
    assert [m["ts"] for m in history["messages"]] == [question]
    assert history["messages"][0]["reply_count"] == 1
    assert history["messages"][0]["latest_reply"] == posted["ts"]

    updated = client.chat_update(channel="C1INC", ts=posted["ts"], text="Found it")
    assert updated["ts"] == posted["ts"]
    assert updated["message"]["text"] == "Found it"
    assert updated["message"]["blocks"] == [SECTION]  # blocks not given are kept, as in Slack
    assert "edited" in updated["message"]

    replies = client.conversations_replies(channel="C1INC", ts=question)
    assert [m["ts"] for m in replies["messages"]] == [question, posted["ts"]]
    assert replies["messages"][1]["text"] == "Found it"
    assert standin.messages("C1INC")[-1]["text"] == "Found it"


def test_ts_values_are_unique_and_increasing(client: WebClient) -> None:
    stamps = [client.chat_postMessage(channel="C1INC", text=str(n))["ts"] for n in range(5)]
    assert all(len(ts.split(".")[1]) == 6 for ts in stamps)
    assert stamps == sorted(stamps, key=float)
    assert len(set(stamps)) == len(stamps)


def test_history_paginates_newest_first(client: WebClient, standin: SlackStandIn) -> None:
    seeded = [
        standin.state.add_message("C1INC", "U1ALICE", f"m{n}", ts=f"1700000000.00010{n}") for n in range(7)
    ]
    pages = [page.data for page in client.conversations_history(channel="C1INC", limit=3)]
    assert [len(page["messages"]) for page in pages] == [3, 3, 1]
    assert [page["has_more"] for page in pages] == [True, True, False]
    assert pages[-1]["response_metadata"]["next_cursor"] == ""
    assert [m["ts"] for page in pages for m in page["messages"]] == seeded[::-1]


def test_history_window_honours_oldest_latest_and_inclusive(client: WebClient, standin: SlackStandIn) -> None:
    seeded = [
        standin.state.add_message("C1INC", "U1ALICE", f"m{n}", ts=f"1700000000.00010{n}") for n in range(5)
    ]
    exclusive = client.conversations_history(channel="C1INC", oldest=seeded[1], latest=seeded[3])
    inclusive = client.conversations_history(
        channel="C1INC", oldest=seeded[1], latest=seeded[3], inclusive=True
    )
    assert [m["ts"] for m in exclusive["messages"]] == [seeded[2]]
    assert [m["ts"] for m in inclusive["messages"]] == seeded[3:0:-1]


def test_replies_paginate_parent_first(client: WebClient, standin: SlackStandIn) -> None:
    parent = standin.state.add_message("C1INC", "U1ALICE", "parent")
    replies = [standin.state.add_message("C1INC", "U2BOB", f"r{n}", thread_ts=parent) for n in range(4)]
    pages = [page.data for page in client.conversations_replies(channel="C1INC", ts=parent, limit=2)]
    assert [m["ts"] for page in pages for m in page["messages"]] == [parent, *replies]
    assert pages[0]["messages"][0]["reply_count"] == 4


def test_broadcast_reply_also_shows_in_history(client: WebClient, standin: SlackStandIn) -> None:
    parent = standin.state.add_message("C1INC", "U1ALICE", "parent")
    client.chat_postMessage(channel="C1INC", text="quiet", thread_ts=parent)
    loud = client.chat_postMessage(channel="C1INC", text="loud", thread_ts=parent, reply_broadcast=True)
    history = client.conversations_history(channel="C1INC")
    assert [m["ts"] for m in history["messages"]] == [loud["ts"], parent]


def test_form_encoded_blocks_and_token_field_are_accepted(standin: SlackStandIn) -> None:
    body = urlencode({"token": TOKEN, "channel": "C1INC", "text": "form", "blocks": json.dumps([SECTION])})
    request = urllib.request.Request(f"{standin.api_url}chat.postMessage", data=body.encode())
    with urllib.request.urlopen(request, timeout=60) as response:
        answer = json.load(response)
    assert answer["ok"] is True
    assert answer["message"]["blocks"] == [SECTION]
    assert standin.calls_to("chat.postMessage")[0].args["blocks"] == [SECTION]


def test_ephemeral_messages_are_kept_apart(client: WebClient, standin: SlackStandIn) -> None:
    answer = client.chat_postEphemeral(channel="C1INC", user="U1ALICE", text="only you")
    assert answer["message_ts"]
    assert standin.messages("C1INC") == []
    [ephemeral] = standin.state.ephemeral("C1INC")
    assert (ephemeral["user"], ephemeral["text"]) == ("U1ALICE", "only you")


def test_info_methods_and_permalink(client: WebClient, standin: SlackStandIn) -> None:
    assert client.conversations_info(channel="C2OUT")["channel"]["is_member"] is False
    assert client.users_info(user="U1ALICE")["user"]["real_name"] == "Alice Chen"
    ts = client.chat_postMessage(channel="C1INC", text="x")["ts"]
    link = client.chat_getPermalink(channel="C1INC", message_ts=ts)["permalink"]
    assert link == f"{standin.url}archives/C1INC/p{ts.replace('.', '')}"


def test_two_step_file_upload(client: WebClient, standin: SlackStandIn) -> None:
    parent = standin.state.add_message("C1INC", "U1ALICE", "logs please")
    answer = client.files_upload_v2(
        channel="C1INC",
        content="line 1\nline 2\n",
        filename="timeline.md",
        title="Timeline",
        initial_comment="Here is the timeline",
        thread_ts=parent,
    )
    file_id = answer["file"]["id"]
    assert answer["file"]["title"] == "Timeline"
    assert [c.method for c in standin.calls] == ["files.getUploadURLExternal", "files.completeUploadExternal"]
    assert standin.state.file_content(file_id) == b"line 1\nline 2\n"
    assert [(f["id"], f["name"], f["channels"]) for f in standin.state.files()] == [
        (file_id, "timeline.md", ["C1INC"])
    ]
    [reply] = client.conversations_replies(channel="C1INC", ts=parent)["messages"][1:]
    assert reply["text"] == "Here is the timeline"
    assert [f["id"] for f in reply["files"]] == [file_id]


def test_response_url_posts_are_recorded(standin: SlackStandIn) -> None:
    url = standin.response_url("C1INC:U1ALICE::k1")
    answer = WebhookClient(url).send(text="Working on it", response_type="ephemeral")
    assert (answer.status_code, answer.body) == (200, "ok")
    [post] = standin.state.response_posts("C1INC:U1ALICE::k1")
    assert (post["text"], post["channel"], post["user"]) == ("Working on it", "C1INC", "U1ALICE")


def test_response_url_replace_original_edits_the_message(client: WebClient, standin: SlackStandIn) -> None:
    ts = client.chat_postMessage(channel="C1INC", text="Approve?")["ts"]
    WebhookClient(standin.response_url(f"C1INC:U1ALICE:{ts}:k2")).send(text="Approved", replace_original=True)
    assert standin.state.message("C1INC", ts)["text"] == "Approved"  # type: ignore[index]
    assert standin.state.response_posts()[0]["replaced"] is True


def test_unknown_method_is_404(client: WebClient, standin: SlackStandIn) -> None:
    error = api_error(lambda: client.api_call("chat.teleport"))
    assert error.response.status_code == 404
    assert error.response.data == {"ok": False, "error": "unknown_method"}
    assert standin.calls_to("chat.teleport")[0].status == 404


@pytest.mark.parametrize(
    ("token", "error"),
    [(None, "not_authed"), ("xoxb-wrong", "invalid_auth")],
)
def test_token_is_checked(standin: SlackStandIn, token: str | None, error: str) -> None:
    client = WebClient(token=token, base_url=standin.api_url)
    assert api_error(client.auth_test).response["error"] == error


@pytest.mark.parametrize(
    ("method", "args", "error"),
    [
        ("chat.postMessage", {"channel": "C1INC"}, "no_text"),
        ("chat.postMessage", {"channel": "C9NONE", "text": "x"}, "channel_not_found"),
        ("chat.postMessage", {"text": "x"}, "channel_not_found"),
        ("chat.postMessage", {"channel": "C2OUT", "text": "x"}, "not_in_channel"),
        ("chat.postMessage", {"channel": "C3OLD", "text": "x"}, "is_archived"),
        ("chat.postMessage", {"channel": "C1INC", "text": "x" * 40_001}, "msg_too_long"),
        ("chat.update", {"channel": "C1INC", "text": "x"}, "invalid_arguments"),
        ("chat.update", {"channel": "C1INC", "ts": "1700000000.000001", "text": "x"}, "message_not_found"),
        ("chat.postEphemeral", {"channel": "C1INC", "text": "x"}, "invalid_arguments"),
        ("conversations.history", {"channel": "C2OUT"}, "not_in_channel"),
        ("conversations.history", {"channel": "C1INC", "cursor": "garbage!"}, "invalid_cursor"),
        ("conversations.replies", {"channel": "C1INC", "ts": "1700000000.000001"}, "thread_not_found"),
        ("users.info", {"user": "U9NONE"}, "user_not_found"),
        ("files.getUploadURLExternal", {"filename": "a.txt"}, "invalid_arguments"),
        ("files.completeUploadExternal", {"files": json.dumps([{"id": "F404"}])}, "file_not_found"),
    ],
)
def test_errors_answer_like_slack(
    client: WebClient, method: str, args: dict[str, object], error: str
) -> None:
    response = api_error(lambda: client.api_call(method, params=args)).response
    assert response.status_code == 200
    assert response["error"] == error


def test_cant_update_someone_elses_message(client: WebClient, standin: SlackStandIn) -> None:
    ts = standin.state.add_message("C1INC", "U1ALICE", "mine")
    error = api_error(lambda: client.chat_update(channel="C1INC", ts=ts, text="edited"))
    assert error.response["error"] == "cant_update_message"
    assert standin.messages("C1INC")[0]["text"] == "mine"


def test_too_many_blocks_is_invalid_blocks(client: WebClient, standin: SlackStandIn) -> None:
    error = api_error(
        lambda: client.chat_postMessage(channel="C1INC", text="x", blocks=[{"type": "divider"}] * 51)
    )
    assert error.response["error"] == "invalid_blocks"
    assert any("/blocks]" in m for m in error.response["response_metadata"]["messages"])
    assert standin.messages("C1INC") == []


def test_long_section_is_invalid_blocks(client: WebClient) -> None:
    block = {"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}
    error = api_error(lambda: client.chat_postMessage(channel="C1INC", text="x", blocks=[block]))
    assert error.response["error"] == "invalid_blocks"
    [message] = error.response["response_metadata"]["messages"]
    assert message.startswith("[ERROR] must be at most 3000 characters, got 3001")
    assert message.endswith("[json-pointer:/blocks/0/text/text]")


def test_rate_limit_reaches_web_client_as_429(client: WebClient, standin: SlackStandIn) -> None:
    standin.rate_limit("chat.postMessage", retry_after=7)
    error = api_error(lambda: client.chat_postMessage(channel="C1INC", text="x"))
    assert error.response.status_code == 429
    assert error.response.headers["Retry-After"] == "7"
    assert error.response["error"] == "ratelimited"
    assert client.chat_postMessage(channel="C1INC", text="x")["ok"] is True  # only one call was limited


def test_rate_limit_retry_handler_retries_and_succeeds(standin: SlackStandIn) -> None:
    client = WebClient(token=TOKEN, base_url=standin.api_url, retry_handlers=[RateLimitErrorRetryHandler()])
    standin.rate_limit("chat.postMessage", retry_after=0)
    assert client.chat_postMessage(channel="C1INC", text="x")["ok"] is True
    assert [call.status for call in standin.calls_to("chat.postMessage")] == [429, 200]
    assert len(standin.messages("C1INC")) == 1


def test_fail_injects_errors_then_recovers(client: WebClient, standin: SlackStandIn) -> None:
    standin.fail("chat.update", "edit_window_closed", count=2)
    ts = client.chat_postMessage(channel="C1INC", text="x")["ts"]
    for _ in range(2):
        assert api_error(lambda: client.chat_update(channel="C1INC", ts=ts, text="y")).response["error"] == (
            "edit_window_closed"
        )
    assert client.chat_update(channel="C1INC", ts=ts, text="y")["ok"] is True


def test_delay_slows_only_that_method(client: WebClient, standin: SlackStandIn) -> None:
    standin.delay("auth.test", 5)
    slowed = threading.Thread(target=client.auth_test)
    started = time.monotonic()
    slowed.start()
    client.users_info(user="U1ALICE")  # answered while auth.test is still held
    assert slowed.is_alive()
    slowed.join()
    assert time.monotonic() - started >= 5


def test_fault_injection_rejects_unknown_methods(standin: SlackStandIn) -> None:
    with pytest.raises(ValueError, match=r"chat\.teleport"):
        standin.fail("chat.teleport", "fatal_error")


def test_wait_for_sees_a_message_posted_later(client: WebClient, standin: SlackStandIn) -> None:
    assert standin.wait_for(lambda: bool(standin.messages("C1INC")), timeout=0.05) is False
    client.chat_postMessage(channel="C1INC", text="done")
    assert standin.wait_for(lambda state: state.messages("C1INC")[0]["text"] == "done", timeout=60)


def test_conversations_create_set_topic_and_invite(client: WebClient, standin: SlackStandIn) -> None:
    created = client.conversations_create(name="inc-checkout-api-20261207")["channel"]
    assert created["is_member"] is True and created["name"] == "inc-checkout-api-20261207"
    assert (
        api_error(lambda: client.conversations_create(name="inc-checkout-api-20261207")).response["error"]
        == "name_taken"
    )
    assert api_error(lambda: client.conversations_create(name="Inc Checkout")).response["error"] == (
        "invalid_name_specials"
    )
    assert api_error(lambda: client.conversations_create(name="x" * 81)).response["error"] == (
        "invalid_name_maxlength"
    )
    topic = client.conversations_setTopic(channel=created["id"], topic="critical CheckoutErrorRate")
    assert topic["channel"]["topic"]["value"] == "critical CheckoutErrorRate"
    assert api_error(lambda: client.conversations_setTopic(channel="C2OUT", topic="x")).response["error"] == (
        "not_in_channel"
    )
    client.conversations_invite(channel=created["id"], users="U1ALICE,U2BOB")
    assert (
        api_error(lambda: client.conversations_invite(channel=created["id"], users="U9NOBODY")).response[
            "error"
        ]
        == "user_not_found"
    )
    found = standin.state.channel(created["id"])
    assert found is not None and found.members == ["U0BOT", "U1ALICE", "U2BOB"]
    assert client.conversations_info(channel=created["id"])["channel"]["topic"]["value"] == (
        "critical CheckoutErrorRate"
    )
