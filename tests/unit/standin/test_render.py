from typing import Any

from slack_sdk import WebClient, WebhookClient

from bot.standin import SlackStandIn, render_conversation, render_message

USERS = {"U1ALICE": "alice"}

TRIAGE: dict[str, Any] = {
    "text": "SEV2 triage",
    "blocks": [
        {"type": "header", "text": {"type": "plain_text", "text": "SEV2: checkout 5xx"}},
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": "*Likely cause* deploy by <@U1ALICE> in <#C1INC|inc-checkout>, "
                "see <https://grafana.local/d/1|dashboard> &amp; <!here>",
            },
        },
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": "*Service*\ncheckout"},
                {"type": "mrkdwn", "text": "*Error rate*\n12%"},
            ],
        },
        {"type": "divider"},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "evidence: logs/app.log:42"}]},
        {"type": "image", "image_url": "https://grafana.local/p.png", "alt_text": "error rate graph"},
        {
            "type": "actions",
            "elements": [
                {"type": "button", "text": {"type": "plain_text", "text": "Roll back"}, "action_id": "rb"},
                {"type": "button", "text": {"type": "plain_text", "text": "Dismiss"}, "action_id": "no"},
            ],
        },
    ],
}


def test_render_message_reads_like_slack() -> None:
    lines = render_message(TRIAGE, USERS).splitlines()
    assert lines[:2] == ["SEV2: checkout 5xx", "=" * len("SEV2: checkout 5xx")]
    assert lines[2] == (
        "*Likely cause* deploy by @alice in #inc-checkout, see dashboard (https://grafana.local/d/1) & @here"
    )
    assert lines[3].split() == ["*Service*", "*Error", "rate*"]
    assert lines[4].split() == ["checkout", "12%"]
    assert lines[3].index("*Error") == lines[4].index("12%")  # two aligned columns
    assert set(lines[5]) == {"─"}
    assert lines[6:] == [
        "evidence: logs/app.log:42",
        "[image: error rate graph]",
        "[ Roll back ]  [ Dismiss ]",
    ]
    assert "\x1b[" not in render_message(TRIAGE, USERS)


def test_render_message_colour_and_text_fallback() -> None:
    coloured = render_message(TRIAGE, USERS, color=True)
    assert "\x1b[1;4mSEV2: checkout 5xx\x1b[0m" in coloured
    assert "\x1b[1mLikely cause\x1b[0m" in coloured
    assert render_message({"text": "ping <@U1ALICE>"}, USERS) == "ping @alice"


def test_render_rich_text() -> None:
    message = {
        "blocks": [
            {
                "type": "rich_text",
                "elements": [
                    {
                        "type": "rich_text_section",
                        "elements": [{"type": "text", "text": "Steps", "style": {"bold": True}}],
                    },
                    {
                        "type": "rich_text_list",
                        "style": "ordered",
                        "elements": [
                            {"type": "rich_text_section", "elements": [{"type": "text", "text": "drain"}]},
                            {
                                "type": "rich_text_section",
                                "elements": [{"type": "user", "user_id": "U1ALICE"}],
                            },
                        ],
                    },
                ],
            }
        ]
    }
    assert render_message(message, USERS).splitlines() == ["*Steps*", "1. drain", "2. @alice"]


def test_render_conversation(standin: SlackStandIn, client: WebClient) -> None:
    question = standin.state.add_message("C1INC", "U1ALICE", "checkout is down", ts="1700000000.000100")
    answer = client.chat_postMessage(channel="C1INC", thread_ts=question, **TRIAGE)
    client.chat_update(channel="C1INC", ts=answer["ts"], text="SEV2 triage (updated)")
    client.chat_postEphemeral(channel="C1INC", user="U1ALICE", text="Only for you")
    WebhookClient(standin.response_url("C1INC:U1ALICE::k")).send(
        text="Posted for all", response_type="in_channel"
    )
    client.files_upload_v2(channel="C1INC", content="a,b\n", filename="timeline.csv", title="Timeline")

    lines = render_conversation(standin, "C1INC").splitlines()
    assert lines[:4] == [
        "#inc-checkout",
        "=============",
        "22:13:20  Alice Chen",
        "          checkout is down",
    ]
    assert lines[4].strip() == "1 reply"
    reply = [line for line in lines if line.startswith("    │ ")]
    assert reply[0].endswith("incident-copilot (app)")
    assert reply[-1].endswith("[ Roll back ]  [ Dismiss ] (edited)")
    rest = "\n".join(lines[len(reply) + 5 :])
    assert "incident-copilot (app) → @alice\n          Only for you (only visible to you)" in rest
    assert "Posted for all\n" in rest
    assert rest.endswith("[file: Timeline] timeline.csv, 4 bytes")
