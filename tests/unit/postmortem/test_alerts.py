"""Alert bots read in every Slack shape they post in, firing and resolved, grouped per alert."""

from __future__ import annotations

from typing import Any

import pytest

from workers.postmortem.alerts import SPOKEN_SUBTYPES, flatten, parse


def _attachment(title: str, text: str = "") -> dict[str, Any]:
    return {"text": "", "attachments": [{"title": title, "text": text, "fallback": title}]}


def _blocks(header: str, body: str) -> dict[str, Any]:
    return {
        "text": "",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": header}},
            {"type": "section", "text": {"type": "mrkdwn", "text": body}},
        ],
    }


AM, AMR = "[FIRING:2] PaymentsDown (payments-svc critical)", "[RESOLVED] PaymentsDown (payments-svc critical)"
PD = "<https://acme.pagerduty.com/incidents/Q1|#4821 PaymentsDown on payments-svc>"
CASES = [  # (poster, message, tool, state, name)
    ("Alertmanager", _attachment(AM), "alertmanager", "firing", "PaymentsDown"),
    ("Alertmanager", _attachment(AMR), "alertmanager", "resolved", "PaymentsDown"),
    ("Grafana", _blocks("[FIRING:1] Checkout errors", "*Value:* 0.18"), "grafana", "firing",
     "Checkout errors"),
    ("Grafana", {"text": "[OK] Checkout errors"}, "grafana", "resolved", "Checkout errors"),
    ("Grafana", _attachment("[Alerting] Checkout errors"), "grafana", "firing", "Checkout errors"),
    ("PagerDuty", {"text": "", "attachments": [{"text": f":rotating_light: *Triggered* {PD}"}]}, "pagerduty",
     "firing", "PaymentsDown on payments-svc"),
    ("PagerDuty", _blocks("Incident update", f"*Acknowledged* by Alice: {PD}"), "pagerduty", "acknowledged",
     "PaymentsDown on payments-svc"),
    ("PagerDuty", {"text": f"Resolved: {PD}"}, "pagerduty", "resolved", "PaymentsDown on payments-svc"),
    ("Opsgenie", {"text": "New alert: #1207 DB replica lag above 30s"}, "opsgenie", "firing",
     "DB replica lag above 30s"),
    ("Opsgenie", _attachment("Alert closed: #1207 DB replica lag above 30s"), "opsgenie", "resolved",
     "DB replica lag above 30s"),
    ("Datadog", _attachment("[Triggered] p99 latency above 2s on checkout", "2.8s"), "datadog", "firing",
     "p99 latency above 2s on checkout"),
    ("Datadog", _attachment("[P1] [Recovered] p99 latency above 2s on checkout"), "datadog", "resolved",
     "p99 latency above 2s on checkout"),
]  # fmt: skip


@pytest.mark.parametrize(("poster", "message", "tool", "state", "name"), CASES)
def test_each_tool_and_shape_is_read(
    poster: str, message: dict[str, Any], tool: str, state: str, name: str
) -> None:
    alert = parse(flatten(message), poster)
    assert alert is not None, flatten(message)
    assert (alert.tool, alert.state, alert.name) == (tool, state, name)


def test_firing_and_resolved_messages_of_one_alert_share_a_key_and_other_alerts_do_not() -> None:
    keys = {}
    for poster, message, tool, _state, name in CASES:
        alert = parse(flatten(message), poster)
        assert alert is not None
        keys.setdefault((tool, name.split()[0]), set()).add(alert.key)
    assert all(len(k) == 1 for k in keys.values())
    assert len({k for ks in keys.values() for k in ks}) == len(keys)


@pytest.mark.parametrize(
    "text",
    ["deploy of payments-svc v42 finished", "Build #1207 passed", "ok, rolling back now", ""],
)
def test_other_bot_messages_are_not_alerts(text: str) -> None:
    assert parse(text, "deploybot") is None


def test_flatten_reads_attachments_fields_blocks_and_rich_text_once() -> None:
    message = {
        "text": "summary line",
        "attachments": [{"pretext": "pre", "title": "title", "fields": [{"title": "sev", "value": "P1"}]}],
        "blocks": [
            {"type": "rich_text", "elements": [{"type": "rich_text_section", "elements": [
                {"type": "text", "text": "summary line"}]}]},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "from Grafana"}]},
        ],
    }  # fmt: skip
    assert flatten(message) == "summary line\npre\ntitle\nsev: P1\nfrom Grafana"


def test_joins_and_topic_changes_are_not_spoken_messages() -> None:
    assert {"channel_join", "channel_leave", "channel_topic", "pinned_item"}.isdisjoint(SPOKEN_SUBTYPES)
    assert {"", "bot_message", "thread_broadcast"} <= SPOKEN_SUBTYPES
