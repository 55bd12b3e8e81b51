"""`incident-copilot triage --channel FILE`: a Slack export or JSON lines; bad input named with its line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workers.errors import UserInputError
from workers.triage.local import read_messages

EXPORT = [
    {"type": "message", "user": "U1", "text": "checkout 504s", "ts": "1700000060.000200"},
    {"type": "message", "subtype": "channel_join", "user": "U2", "text": "joined", "ts": "1700000001.0"},
    {"type": "message", "bot_id": "B1", "text": "I am a bot", "ts": "1700000002.0"},
    {"type": "message", "user": "U2", "text": "rolling back", "ts": "1700000030.000100", "thread_ts": "1.0"},
]


@pytest.mark.parametrize(
    "body",
    [json.dumps(EXPORT), json.dumps({"messages": EXPORT}), "\n".join(json.dumps(m) for m in EXPORT) + "\n"],
    ids=["slack-export", "object", "json-lines"],
)
def test_people_s_messages_in_time_order_whatever_the_format(tmp_path: Path, body: str) -> None:
    path = tmp_path / "channel.json"
    path.write_text(body)
    got = read_messages(path)
    assert [(m.user, m.text, m.thread_ts) for m in got] == [
        ("U2", "rolling back", "1.0"),
        ("U1", "checkout 504s", None),
    ]


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ('{"ts": "1.0", "text": "a"}\n{"ts": "2.0", "text": \n', "channel.json:2: not a JSON object"),
        ('[{"text": "no time"}]', "channel.json: each message needs a `ts`"),
        ('{"ts": "1.0"}\n{"ts": "yesterday"}\n', "channel.json:2: `ts` 'yesterday' is not a Slack timestamp"),
        ('{"messages": 3}', "expected a JSON array of messages, or JSON lines"),
    ],
)
def test_bad_input_names_the_file_line_and_problem(tmp_path: Path, body: str, said: str) -> None:
    path = tmp_path / "channel.json"
    path.write_text(body)
    with pytest.raises(UserInputError, match=None) as err:
        read_messages(path)
    assert said in str(err.value) and str(err.value).startswith("--channel ")


def test_a_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="cannot read it"):
        read_messages(tmp_path / "nope.jsonl")
