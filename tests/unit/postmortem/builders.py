"""A gathered incident, built in code: messages, a board with its timeline events, an audit trail."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from workers.models import Incident
from workers.postmortem.alerts import parse
from workers.postmortem.gather import Gathered, SlackMessage
from workers.triage.report import EvidenceRef, Hypothesis

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
NAMES = {"U1": "Alice Moreau", "U2": "Bruno Silva", "U3": "Chen Wei"}


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def message(
    minutes: float, user: str, text: str, *, thread: float | None = None, key: bool = False
) -> SlackMessage:
    ts = f"{at(minutes).timestamp():.6f}"
    parent = f"{at(thread).timestamp():.6f}" if thread is not None else None
    bot = user.startswith("B")
    alert = parse(text, "Alertmanager") if bot else None
    return SlackMessage(ts, user, NAMES.get(user, user), text, parent, key, bot, "", alert)


def event(minutes: float, kind: str, hypothesis: str, statement: str, **extra: str) -> dict[str, str]:
    return {
        "kind": kind,
        "hypothesis": hypothesis,
        "statement": statement,
        "by": "bot",
        "at": at(minutes).isoformat(),
        **extra,
    }


def hypothesis(hid: str, statement: str, confidence: str = "medium") -> Hypothesis:
    ref = EvidenceRef(kind="log", id="T1234abcd", quote="")
    return Hypothesis(id=hid, statement=statement, confidence=confidence, evidence=[ref])  # type: ignore[arg-type]


def gathered(**overrides: object) -> Gathered:
    incident = Incident(
        id="INC-1",
        channel_id="C1",
        channel_name="inc-orders",
        started_at=at(0),
        requester="U1",
        status="resolved",
        resolved_at=at(90),
        resolved_by="U1",
    )
    got = Gathered(incident=incident, channel_name="inc-orders", names=dict(NAMES), symptom="orders API 503s")
    got.service = "orders-api"
    got.messages = [
        message(0, "B9", "[FIRING:1] OrdersErrorRate orders-api"),
        message(1, "U1", "orders API throwing 503s", key=True),
        message(5, "U2", "hypothesis: the new load balancer drops keepalives"),
        message(12, "U3", "ruled out: LB logs show no resets", thread=5),
        message(30, "U2", "action item: <@U3> alert on connection pool waits"),
        message(60, "U1", "follow-up: write a runbook for draining the pool"),
        message(80, "B9", "[RESOLVED] OrdersErrorRate orders-api"),
    ]
    got.hypotheses = [hypothesis("H1", "orders-api database pool exhausted by slow queries")]
    got.dropped = [hypothesis("H2", "disk full on the orders database host", "low")]
    got.hypotheses.append(hypothesis("H3", "a bad feature flag in the checkout flow", "low"))
    got.events = [
        event(10, "hypothesis_raised", "H1", "orders-api database pool exhausted by slow queries"),
        event(10, "hypothesis_raised", "H2", "disk full on the orders database host"),
        event(10, "hypothesis_raised", "H3", "a bad feature flag in the checkout flow"),
        event(25, "hypothesis_dropped", "H2", "disk full on the orders database host", status="dropped"),
        event(20, "verdict_support", "H1", "x", verdict="support", by="U2"),
        event(22, "verdict_reject", "H3", "x", verdict="reject", by="U3"),
        event(23, "verdict_support", "H3", "x", verdict="support", by="U1"),
        event(24, "verdict_reject", "H3", "x", verdict="reject", by="U1"),  # Alice changed her mind
    ]
    action = json.dumps({"action_type": "restart", "target": "orders-api"})
    got.audit = [
        {"kind": "suggested", "at": at(10).isoformat(), "action": action, "by": "bot", "level": "suggest"},
        {"kind": "denied", "at": at(40).isoformat(), "action": action, "by": "U1", "reason": "requester"},
        {"kind": "executed", "at": at(50).isoformat(), "action": action, "by": "U2", "result": "succeeded"},
    ]
    for name, value in overrides.items():
        setattr(got, name, value)
    return got
