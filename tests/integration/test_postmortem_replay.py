"""A realistic incident channel replayed through the real bot, worker, Redis, Slack stand-in and a
loopback LLM: 170 messages (five alert bots in their own Slack shapes, a 36-reply thread, joins,
pins, people's hypotheses, status updates, a decision, a rollback, action items in the channel and
in a thread, a blaming sentence) and the payments-svc logs (a deploy, a config reload, the first
error, a peak, a rollback, the recovery). Slack is read in pages of 20, so the history and the long
thread both need pagination.

The LLM draft and then an evidence-only draft (the LLM answers nonsense) must both hold, in the
timeline, in order and at the right second: every alert's start and end, every pin, the first
report, every change event and the first error from the logs; and every channel action item with
its owner and due date.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.localstack import LocalStack
from tests.integration.conftest import PATIENCE, bot_messages, new_channel, wait_until
from tests.support.fake_llm import FakeLLM

PEOPLE = {
    "U0ALICE": "Alice Moreau",
    "U0BRUNO": "Bruno Silva",
    "U0CHEN": "Chen Wei",
    "U0DANA": "Dana Okafor",
    "U0PRIYA": "Priya Nair",
    "U0TOM": "Tom Becker",
}
RESOLUTION = "Rolled back payments-svc to v41; retries fell back to one per request and the pool drained"
MODEL_ITEMS = [
    {"text": "Add an alert on the connection pool wait time", "owner": "Bruno Silva", "type": "detect"},
    {"text": "Load-test retry settings before each release", "owner": "", "type": "prevent"},
]
CHANNEL_ITEMS = [  # (item text, owner, due) as the table must show them
    ("Add an alert on connection pool wait time", "Bruno Silva", "Friday"),
    ("Add a canary stage for payments-svc config changes", "Chen Wei", "2026-12-18"),
    ("Write the runbook step for rolling back payments-svc", "Tom Becker", "-"),
    ("Review retry budgets across services", "Priya Nair", "EOW"),
]


class Script:
    """The channel, built message by message with the moments the timeline must show."""

    def __init__(self, stack: LocalStack, channel: str, t0: datetime) -> None:
        self.ws = stack.standin.state
        self.channel = channel
        self.t0 = t0
        self.count = 0
        self.expected: list[tuple[datetime, str]] = []  # (moment, text its timeline line must hold)

    def at(self, seconds: float) -> datetime:
        return self.t0 + timedelta(seconds=seconds)

    def _ts(self, seconds: float) -> str:
        return f"{self.at(seconds).timestamp():.6f}"

    def say(self, seconds: float, user: str, text: str, thread: str | None = None) -> str:
        self.count += 1
        return self.ws.add_message(self.channel, user, text, ts=self._ts(seconds), thread_ts=thread)

    def bot(self, seconds: float, name: str, **shape: Any) -> str:
        self.count += 1
        message = {
            "type": "message",
            "subtype": "bot_message",
            "bot_id": f"B0{name.upper()}",
            "username": name,
        }
        return self.ws.insert(self.channel, {**message, **shape}, ts=self._ts(seconds))

    def join(self, seconds: float, user: str) -> None:
        message = {"type": "message", "subtype": "channel_join", "user": user}
        self.ws.insert(
            self.channel, {**message, "text": f"<@{user}> has joined the channel"}, ts=self._ts(seconds)
        )

    def pin(self, ts: str, seconds: float) -> None:
        self.ws.add_reaction(self.channel, ts, "pushpin", "U0ALICE")
        self.expected.append((self.at(seconds), "📌"))

    def expect(self, seconds: float, text: str) -> None:
        self.expected.append((self.at(seconds), text))


def _alertmanager(state: str, resolved: bool) -> dict[str, Any]:
    title = f"[{state}] PaymentsDBPoolExhausted (payments-svc critical)"
    return {
        "text": "",
        "attachments": [
            {
                "color": "good" if resolved else "danger",
                "title": title,
                "title_link": "https://alertmanager.example/#/alerts",
                "text": "*Summary:* connection pool of payments-svc is exhausted\n*Severity:* critical",
                "fallback": title,
            }
        ],
    }


def _grafana(state: str) -> dict[str, Any]:
    return {
        "text": "",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": f"[{state}] CheckoutErrorRate"}},
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": "*Value:* B=0.18 *Labels:* service=checkout"},
            },
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": "Grafana v11 · rule checkout-errors"}],
            },
        ],
    }


def _pagerduty(word: str) -> dict[str, Any]:
    link = "<https://acme.pagerduty.com/incidents/Q1ABC|#4821 PaymentsDBPoolExhausted on payments-svc>"
    return {"text": "", "attachments": [{"color": "#a00", "text": f":rotating_light: *{word}* {link}"}]}


def _datadog(word: str) -> dict[str, Any]:
    title = f"[{word}] checkout p99 latency above 2s on service:checkout"
    return {"text": "", "attachments": [{"title": title, "text": "p99 latency 2.8s; threshold 2s"}]}


def _replay(stack: LocalStack, channel: str, t0: datetime) -> Script:
    s = Script(stack, channel, t0)
    for uid, real in PEOPLE.items():
        s.ws.add_user(uid, real.split()[0].lower(), real)
    for n, uid in enumerate(PEOPLE):
        s.join(200 + n, uid)
    s.bot(240, "Alertmanager", **_alertmanager("FIRING:1", False))
    s.expect(240, "alert firing: PaymentsDBPoolExhausted")
    s.bot(250, "PagerDuty", **_pagerduty("Triggered"))
    s.expect(250, "alert firing: PaymentsDBPoolExhausted on payments-svc (pagerduty)")
    s.bot(255, "Datadog", **_datadog("Triggered"))
    s.expect(255, "alert firing: checkout p99 latency above 2s")
    report = s.say(
        270,
        "U0ALICE",
        "<!here> checkout is failing for a lot of users, see "
        "<https://grafana.example/d/checkout|the checkout dashboard>",
    )
    s.expect(270, "first report")
    s.pin(report, 270)
    s.bot(300, "Grafana", **_grafana("FIRING:1"))
    s.expect(300, "alert firing: CheckoutErrorRate (grafana)")
    s.bot(360, "PagerDuty", **_pagerduty("Acknowledged by Alice Moreau:"))
    s.bot(600, "Opsgenie", text="New alert: #1207 payments-db replica lag above 30s")
    s.expect(600, "alert firing: payments-db replica lag above 30s (opsgenie)")
    chatter = [
        "I see pool waits on payments-svc going up",
        "checkout error rate is at 18 percent",
        "is this only EU or everywhere?",
        "everywhere, both regions",
        "payments-db CPU looks normal",
        "connection count is pinned at the max of 50",
        "anything deployed in the last hour?",
        "v42 of payments-svc went out a few minutes ago",
        "customers are reporting failed payments on twitter",
        "support has 40 tickets already",
    ]
    for n in range(36):  # a long thread under the first report: two pages of 20
        who = list(PEOPLE)[n % len(PEOPLE)]
        text = chatter[n % len(chatter)] + f" ({n})"
        if n == 30:
            text = "todo: @priya review retry budgets across services by EOW"
        s.say(281.5 + n * 10, who, text, thread=report)
    s.say(480, "U0ALICE", "status: checkout error rate 18%, payments-svc DB pool exhausted, investigating")
    s.expect(480, "status update")
    theory = s.say(
        540, "U0BRUNO", "hypothesis: the v42 deploy raised the retry count and retries exhaust the pool"
    )
    confirmed = s.say(
        700, "U0CHEN", "confirmed: retry_max went from 1 to 3 in v42 and pool waits match", thread=theory
    )
    s.pin(confirmed, 700)
    lag = s.say(660, "U0DANA", "theory: payments-db replica lag is slowing every query")
    s.say(760, "U0TOM", "ruled out: replica lag is a symptom, the primary is healthy", thread=lag)
    s.say(1500, "U0TOM", "Dana pushed the bad config without review, classic Dana.")
    s.bot(1800, "Alertmanager", **_alertmanager("FIRING:1", False))  # a re-notification, not a new start
    minute = 0
    fillers = [
        "pool still saturated",
        "retry rate per request is 3.0",
        "p99 on checkout at 2.9s",
        "db connections at 50/50",
        "looking at the payments-svc pods",
        "no errors on the gateway itself",
        "the batch jobs are paused",
        "queue depth on payments is growing",
    ]
    while s.count < 150:  # the people's working chatter between the theory and the decision
        who = list(PEOPLE)[minute % len(PEOPLE)]
        s.say(800 + minute * 17, who, f"{fillers[minute % len(fillers)]} [{minute}]")
        minute += 1
    s.bot(3000, "Opsgenie", text="Alert closed: #1207 payments-db replica lag above 30s")
    s.expect(3000, "alert resolved: payments-db replica lag above 30s (opsgenie)")
    decision = s.say(3120, "U0ALICE", "decision: roll back payments-svc to v41")
    s.expect(3120, "decision")
    s.pin(decision, 3120)
    s.say(3240, "U0BRUNO", "rolling back payments-svc to v41 now")
    s.expect(3240, "mitigation")
    s.say(3600, "U0CHEN", "pool waits dropping, error rate 3%")
    s.bot(3780, "Alertmanager", **_alertmanager("RESOLVED", True))
    s.expect(3780, "alert resolved: PaymentsDBPoolExhausted")
    s.bot(3840, "Datadog", **_datadog("Recovered"))
    s.expect(3840, "alert resolved: checkout p99 latency above 2s")
    recovered = s.say(3850, "U0ALICE", "status update: checkout recovered, error rate back under 0.5%")
    s.expect(3850, "status update")
    s.pin(recovered, 3850)
    s.bot(3900, "Grafana", **_grafana("RESOLVED"))
    s.expect(3900, "alert resolved: CheckoutErrorRate (grafana)")
    s.bot(3960, "PagerDuty", **_pagerduty("Resolved"))
    s.expect(3960, "alert resolved: PaymentsDBPoolExhausted on payments-svc (pagerduty)")
    s.say(4200, "U0ALICE", "action item: <@U0BRUNO> add an alert on connection pool wait time by Friday")
    s.say(4260, "U0DANA", "AI: @chen add a canary stage for payments-svc config changes (due 2026-12-18)")
    s.say(4320, "U0TOM", "follow-up: write the runbook step for rolling back payments-svc, owner: Tom")
    for n, text in enumerate(["thanks all", "I'll start the postmortem doc", "closing the bridge"]):
        s.say(4400 + n * 30, list(PEOPLE)[n], text)
    return s


def _logs(path: Path, t0: datetime, s: Script) -> None:
    """payments-svc: quiet, a deploy and a config reload, errors from the first at +180 s with a
    peak at +20 min, a rollback, and quiet again from +62 min."""
    lines = [
        (t0 + timedelta(seconds=30 * i - 3600), "INFO payments-svc request ok path=/pay status=200")
        for i in range(330)
    ]
    lines.append((s.at(120), "INFO payments-svc deploy started version=v42 commit=9f3c2e1"))
    s.expect(120, "_change_ · **logs**: ")
    lines.append((s.at(150), "INFO payments-svc config reloaded retry_max=3"))
    s.expect(150, "_change_ · **logs**: ")
    for second in range(180, 3720, 10):
        lines.append(
            (s.at(second), "ERROR payments-svc pool exhausted: timeout acquiring connection after 2000ms")
        )
    s.expect(180, "_first error_ · **logs**: ")
    for n in range(60):
        lines.append(
            (s.at(1200 + n), "ERROR payments-svc pool exhausted: timeout acquiring connection after 2000ms")
        )
    lines.append((s.at(3200), "INFO payments-svc rollback started target version=v41"))
    s.expect(3200, "_change_ · **logs**: ")
    lines.sort(key=lambda pair: pair[0])
    path.write_text("".join(f"{at:%Y-%m-%dT%H:%M:%S}Z {text}\n" for at, text in lines))


@pytest.fixture
def llm() -> Iterator[tuple[FakeLLM, dict[str, bool]]]:
    mode = {"prose": True}

    def answer(body: dict[str, Any]) -> str:
        system = body["messages"][0]["content"]
        if "prose sections of a blameless postmortem" in system and mode["prose"]:
            return json.dumps(
                {
                    "summary": "Checkout failed for an hour: payments-svc retried three times per request.",
                    "impact": "About 18% of checkouts failed at the peak.",
                    "detection": "PaymentsDBPoolExhausted fired; Alice opened the incident.",
                    "root_causes": ["v42 raised retry_max from 1 to 3 and retries exhausted the pool"],
                    "resolution": RESOLUTION,
                    "action_items": MODEL_ITEMS,
                }
            )
        return "not json, the model is confused"  # triage: evidence-only; later, the postmortem too

    with FakeLLM(default=answer) as server:
        yield server, mode


def _section(doc: str, heading: str) -> str:
    return doc.split(f"## {heading}", 1)[1].split("\n## ", 1)[0]


def _check_timeline(doc: str, expected: list[tuple[datetime, str]]) -> None:
    """Each expected moment has its own line in the Timeline section, at its second, in order."""
    lines = [line for line in _section(doc, "Timeline").splitlines() if line.startswith("- ")]
    found: list[int] = []
    for moment, text in sorted(expected, key=lambda e: e[0]):
        stamp = f"[{moment:%H:%M:%S}]("
        hits = [n for n, line in enumerate(lines) if line.startswith(f"- {stamp}") and text in line]
        assert hits, f"no timeline line at {moment:%H:%M:%S} with {text!r}:\n" + "\n".join(lines)
        found.append(hits[0])
    assert found == sorted(found)
    assert all("](http" in line for line in lines), "every timeline entry is linked"


def _check_items(doc: str, mode: str) -> None:
    table = _section(doc, "Action items")
    for text, owner, due in CHANNEL_ITEMS:
        row = next((r for r in table.splitlines() if r.startswith(f"| {text} |")), None)
        assert row is not None, f"{mode}: {text!r} missing from\n{table}"
        assert row.split(" | ")[1:3] == [owner, due] and row.endswith("| channel |"), row


def _draft(stack: LocalStack, version: int) -> str:
    ws = stack.standin.state
    assert ws.wait_for(lambda: len(ws.files()) == version, PATIENCE), stack.log("worker-0")
    file = ws.files()[version - 1]
    assert ws.wait_for(lambda: bool(ws.file_content(file["id"])), PATIENCE)
    return (ws.file_content(file["id"]) or b"").decode()


def test_a_replayed_channel_gives_a_timeline_and_action_items_a_team_would_sign(
    make_stack: Callable[..., LocalStack], llm: tuple[FakeLLM, dict[str, bool]], tmp_path: Path
) -> None:
    server, mode = llm
    now = datetime.now(UTC).replace(microsecond=0)
    t0 = now - timedelta(minutes=100)
    sources = tmp_path / "sources.yaml"
    logs = tmp_path / "payments.log"
    sources.write_text(
        "default_service: payments-svc\nsources:\n  - name: app-files\n    type: files\n"
        f"    paths: ['{logs}']\n"
    )
    stack = make_stack(
        env={
            "OPENAI_BASE_URL": server.base_url,
            "OPENAI_API_KEY": "sk-test-key",
            "LLM_MODEL": "gpt-4o-mini",
            "EVIDENCE_SOURCES_FILE": str(sources),
            "POSTMORTEM_PAGE_SIZE": "20",
        }
    )
    channel, name = new_channel(stack, prefix="inc-checkout")
    script = _replay(stack, channel, t0)
    _logs(logs, t0, script)
    assert script.count >= 150
    driver = stack.driver()
    driver.slash_command("checkout failing last 2h", user_id="U0ALICE", channel_id=channel, channel_name=name)
    # The Grafana alert has a header block too: wait for the bot's own answer.
    assert stack.standin.wait_for(lambda: _answered(stack, channel), PATIENCE), stack.log("worker-0")
    driver.slash_command(f"resolve {RESOLUTION}", user_id="U0ALICE", channel_id=channel, channel_name=name)
    llm_doc = _draft(stack, 1)
    assert "by the LLM from the data" in llm_doc

    _check_timeline(llm_doc, script.expected)
    _check_items(llm_doc, "llm")
    items = _section(llm_doc, "Action items")
    assert (
        "| Load-test retry settings before each release | unassigned | - | prevent | suggested by the model |"
        in items
    )
    assert "Add an alert on the connection pool wait time" not in items  # the model's copy of Bruno's item

    appendix = _section(llm_doc, f"Appendix: channel log ({script.count} messages)")
    assert "has joined the channel" not in llm_doc and "<!here>" not in llm_doc
    assert (
        "@here checkout is failing for a lot of users, see [the checkout dashboard](https://grafana.example/d/checkout)"
        in appendix
    )
    assert "[FIRING:1] PaymentsDBPoolExhausted" in appendix  # attachment-only alerts are read
    blame = _section(llm_doc, "Blameless review")
    assert "Dana pushed the bad config without review, classic Dana." in blame and "appendix" in blame
    impact = _section(llm_doc, "Impact")
    assert f"Alerting from {script.at(240):%H:%M} to {script.at(3960):%H:%M}" in impact
    started = re.search(r"^\| Started / resolved \| (.+) \|$", llm_doc, re.M)
    assert started and started.group(1).startswith(f"{script.at(240):%Y-%m-%d %H:%M} /")
    assert started.group(1).endswith(f"UTC (started at the first alert; opened in Slack at {now:%H:%M})") or (
        started.group(1).endswith(f"opened in Slack at {(now + timedelta(minutes=1)):%H:%M})")
    )

    calls = stack.standin.calls_to("conversations.replies")
    assert sum(1 for c in calls if c.args.get("cursor")) >= 1, "the long thread was read in pages"

    # The same incident drafted again while the model answers nonsense: evidence-only, same facts.
    mode["prose"] = False
    driver.slash_command("resolve", user_id="U0BRUNO", channel_id=channel, channel_name=name)
    evidence_doc = _draft(stack, 2)
    assert "evidence-only (the LLM gave no usable answer" in evidence_doc
    _check_timeline(evidence_doc, script.expected)
    _check_items(evidence_doc, "evidence-only")
    assert f"The first error was logged at {script.at(180):%H:%M} UTC, 1 min before anyone was told." in (
        _section(evidence_doc, "Detection")
    )
    assert f"a change at {script.at(150):%H:%M:%S} UTC, 0 min before the first error" in evidence_doc
    # One start time everywhere: the summary message's duration is the draft's.
    opened = re.search(r"Incident open (\d+) min", evidence_doc)
    assert opened and wait_until(
        lambda: f"after {opened.group(1)} min" in str(_summaries(stack, channel)[0].get("blocks")), PATIENCE
    )
    assert len(_summaries(stack, channel)) == 1


def _answered(stack: LocalStack, channel: str) -> bool:
    blocks = [b for m in bot_messages(stack, channel) for b in m.get("blocks") or []]
    return any(b["type"] == "header" and b["text"]["text"].startswith("Triage: #") for b in blocks)


def _summaries(stack: LocalStack, channel: str) -> list[dict[str, Any]]:
    return [m for m in bot_messages(stack, channel) if "Postmortem draft" in str(m.get("blocks"))]
