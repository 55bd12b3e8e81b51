"""Key events chosen by rules that read the messages, and alert spans grouped per alert."""

from __future__ import annotations

import pytest

from tests.unit.postmortem.builders import at, message
from workers.postmortem.timeline import alert_spans, classify


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("status: error rate 18%, investigating", "status update"),
        ("*Update* - rollback 50% done", "status update"),
        ("decision: roll back to v41", "decision"),
        ("ok, we decided to fail over to eu-west", "decision"),
        ("let's roll back payments-svc", "decision"),
        ("rolling back payments-svc to v41 now", "mitigation"),
        ("restarted the consumers, lag dropping", "mitigation"),
        ("disabled the new-checkout flag", "mitigation"),
        ("should we roll back?", ""),
        ("we are not rolling back yet", ""),
        ("follow-up: write the rollback runbook", ""),
        ("looking at the dashboards", ""),
    ],
)
def test_messages_are_classified_by_rules(text: str, kind: str) -> None:
    assert classify(text) == kind


def test_alert_spans_group_per_alert_ignore_re_notifications_and_count_a_re_fire() -> None:
    messages = [
        message(0, "B9", "[FIRING:1] DiskFull db-1"),
        message(2, "B9", "[FIRING:1] Latency checkout"),
        message(5, "B9", "[FIRING:1] DiskFull db-1"),  # a reminder, not a new start
        message(10, "B9", "[RESOLVED] DiskFull db-1"),
        message(20, "B9", "[FIRING:1] DiskFull db-1"),  # fired again
        message(30, "B9", "[RESOLVED] DiskFull db-1"),
        message(35, "B9", "[RESOLVED] Latency checkout"),
        message(40, "U1", "[RESOLVED] a person quoting an alert"),
    ]
    spans = [(s.name.split()[0], s.start, s.end) for s in alert_spans(messages)]
    assert spans == [
        ("DiskFull", at(0), at(10)),
        ("Latency", at(2), at(35)),
        ("DiskFull", at(20), at(30)),
    ]
