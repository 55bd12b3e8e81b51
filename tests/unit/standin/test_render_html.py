"""Block Kit as the playground's page shows it: faithful to Slack's client, and escaped throughout."""

from __future__ import annotations

import json
from html import unescape
from typing import Any

from bot.standin import SlackStandIn
from bot.standin.render_html import conversation, message_body, mrkdwn

USERS = {"U1ALICE": "alice"}


def test_mrkdwn_formats_entities_and_escapes_everything_else() -> None:
    html = mrkdwn(
        "*Likely* _cause_ ~old~ by <@U1ALICE> in <#C1|inc-x>, see <https://grafana.local/d/1|dash> "
        "&amp; <!here> `a<b` &lt;script&gt;alert(1)&lt;/script&gt;\n&gt; quoted\n```x = 1 < 2```",
        USERS,
    )
    assert "<b>Likely</b> <i>cause</i> <s>old</s>" in html
    assert '<span class="mention">@alice</span>' in html and '<span class="mention">#inc-x</span>' in html
    assert '<a href="https://grafana.local/d/1" target="_blank" rel="noopener noreferrer">dash</a>' in html
    assert "&amp; <span" in html and '<span class="mention">@here</span>' in html
    assert "<code>a&lt;b</code>" in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script" not in html
    assert "<blockquote>quoted</blockquote>" in html and "<pre>x = 1 &lt; 2</pre>" in html


def test_only_web_links_become_links() -> None:
    html = mrkdwn('<javascript:alert(1)|click> <https://ok.example/?a="b"&c|fine>', USERS)
    assert html.startswith("click <a ") and "javascript" not in html and html.count("<a ") == 1
    assert 'href="https://ok.example/?a=&quot;b&quot;&amp;c"' in html


def test_emoji_are_drawn_and_unknown_ones_kept() -> None:
    assert mrkdwn(":white_check_mark: done :custom_thing: at 10:30:00", USERS) == (
        "✅ done :custom_thing: at 10:30:00"
    )


def _button(**extra: Any) -> dict[str, Any]:
    return {
        "type": "button",
        "action_id": "approve",
        "value": 'P1"><x',
        "text": {"type": "plain_text", "text": "Approve <b>"},
        **extra,
    }


def test_blocks_render_with_their_buttons_confirm_dialogs_and_files() -> None:
    confirm = {
        "title": {"type": "plain_text", "text": "Run this action?"},
        "text": {"type": "mrkdwn", "text": "`restart api` runs once approved"},
        "confirm": {"type": "plain_text", "text": "Approve"},
        "deny": {"type": "plain_text", "text": "Cancel"},
    }
    message = {
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "Triage <1>"}},
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": "*Cause*"},
                "fields": [
                    {"type": "mrkdwn", "text": "*Service*\napi"},
                    {"type": "plain_text", "text": "12%"},
                ],
                "accessory": {"type": "image", "image_url": "javascript:x", "alt_text": "graph"},
            },
            {"type": "divider"},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "run `r-1`"}]},
            {
                "type": "actions",
                "block_id": "act",
                "elements": [_button(style="primary", confirm=confirm), _button(style="danger")],
            },
            {
                "type": "rich_text",
                "elements": [
                    {
                        "type": "rich_text_list",
                        "style": "ordered",
                        "elements": [
                            {
                                "type": "rich_text_section",
                                "elements": [{"type": "text", "text": "one", "style": {"bold": True}}],
                            },
                        ],
                    }
                ],
            },
            {"type": "video"},
        ],
        "files": [{"id": "F1", "name": "pm.md", "title": "Postmortem <draft>", "size": 12}],
    }
    html = message_body(message, USERS)
    assert '<div class="sk-header">Triage &lt;1&gt;</div>' in html
    assert '<div class="sk-field"><b>Service</b><br>api</div><div class="sk-field">12%</div>' in html
    assert '<img class="sk-img" src="" alt="graph">' in html  # no javascript: image source
    assert (
        '<hr class="sk-divider">' in html
        and '<div class="sk-context"><span>run <code>r-1</code></span></div>' in html
    )
    assert html.count('data-action-id="approve"') == 2 and 'data-value="P1&quot;&gt;&lt;x"' in html
    assert 'class="sk-btn sk-primary"' in html and 'class="sk-btn sk-danger"' in html
    assert ">Approve &lt;b&gt;</button>" in html and 'data-block-id="act"' in html
    shown = json.loads(unescape(html.split('data-confirm="')[1].split('"', 1)[0]))
    assert (
        shown["title"]["text"] == "Run this action?"
        and shown["html"] == "<code>restart api</code> runs once approved"
    )
    assert "<ol><li><b>one</b></li></ol>" in html and "[video block]" in html
    assert (
        'data-file-id="F1"' in html
        and "<b>Postmortem &lt;draft&gt;</b>" in html
        and "pm.md · 12 bytes" in html
    )


def test_a_channel_shows_threads_under_their_parent_and_private_posts_to_their_user_only() -> None:
    standin = SlackStandIn(bot_token="xoxb-test")
    ws = standin.state
    ws.add_user("U1ALICE", "alice", "Alice Moreau")
    ws.add_user("U2BRUNO", "bruno", "Bruno Silva")
    ws.add_channel("C1", "inc-x")
    root = ws.add_message("C1", "U1ALICE", "checkout is down &lt;b&gt; <img src=x onerror=alert(1)>")
    ws.add_message("C1", "U2BRUNO", "on it", thread_ts=root)
    ws.add_ephemeral({"channel": "C1", "user": "U2BRUNO", "text": "only for bruno"})
    ws.record_response("C1:U1ALICE::k1", {"text": "noted for alice"})

    alice = conversation(standin, "C1", "U1ALICE")
    assert "Alice Moreau" in alice and "checkout is down &lt;b&gt; img src=x onerror=alert(1)" in alice
    assert "<img" not in alice
    assert alice.index("checkout is down") < alice.index('<div class="sk-thread">') < alice.index("on it")
    assert "1 reply" in alice and "noted for alice" in alice and "only for bruno" not in alice
    assert "Only visible to you" in alice
    bruno = conversation(standin, "C1", "U2BRUNO")
    assert "only for bruno" in bruno and "noted for alice" not in bruno
