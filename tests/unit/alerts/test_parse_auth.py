"""Receivers' parsing and credentials: Alertmanager v4, PagerDuty V3, generic mappings."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr

from workers.alerts import auth, parse
from workers.alerts.config import GenericMapping, load_rules
from workers.errors import AlertPayloadError, ConfigError

FIXTURES = Path(__file__).parents[2] / "fixtures" / "alerts"
NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


def am(*alerts: dict[str, object], **extra: object) -> dict[str, object]:
    return {"version": "4", "status": "firing", "alerts": list(alerts), **extra}


def test_alertmanager_group_keeps_every_alert_with_common_labels() -> None:
    body = am(
        {
            "status": "firing",
            "labels": {"alertname": "A", "instance": "i1"},
            "startsAt": "2026-12-07T09:58:00Z",
            "annotations": {"runbook_url": "https://rb/a", "summary": "<!channel> hi"},
            "fingerprint": "f1",
        },
        {
            "status": "resolved",
            "labels": {"alertname": "A", "instance": "i2"},
            "startsAt": "2026-12-07T09:50:00Z",
            "endsAt": "2026-12-07T09:59:00Z",
        },
        commonLabels={"service": "checkout-api", "severity": "Critical"},
    )
    first, second = parse.alertmanager(body, NOW)
    assert first.fingerprint == "f1" and first.service(["service"]) == "checkout-api"
    assert first.severity == "critical" and first.links() == {"runbook": "https://rb/a"}
    assert second.status == "resolved" and second.ends_at == datetime(2026, 12, 7, 9, 59, tzinfo=UTC)
    assert len(second.fingerprint) == 16  # derived from the labels when the payload has none
    assert parse.alertmanager(body, NOW)[1].fingerprint == second.fingerprint


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"alerts": "x"}, "no `alerts` list"),
        (am({"status": "pending", "startsAt": "2026-12-07T09:58:00Z"}), "must be firing or resolved"),
        (am({"status": "firing", "startsAt": "yesterday"}), "is not an RFC 3339 time"),
        (am({"status": "firing", "startsAt": "2026-12-07T09:58:00Z"}, version="3"), "this receiver reads 4"),
        (am({"status": "firing", "startsAt": "2026-12-07T09:58:00Z", "labels": ["x"]}), "must be an object"),
    ],
)
def test_alertmanager_bad_payloads_name_the_problem(body: object, message: str) -> None:
    with pytest.raises(AlertPayloadError, match=message):
        parse.alertmanager(body, NOW)


def test_not_json_is_refused_with_what_to_send() -> None:
    with pytest.raises(AlertPayloadError, match=r"not JSON.*application/json"):
        parse.body_json(b"{oops")


def test_pagerduty_events_map_to_one_alert_per_incident() -> None:
    kinds = {}
    for name in ("triggered", "acknowledged", "resolved"):
        raw = (FIXTURES / f"pagerduty-{name}.json").read_text().replace("{{NOW}}", "2026-12-07T09:59:00Z")
        [alert] = parse.pagerduty(json.loads(raw), NOW)
        kinds[name] = (alert.status, alert.note, alert.fingerprint)
        assert alert.service(["service"]) == "payments-api" and alert.severity == "p1"
        assert alert.links() == {"source": "https://acme.pagerduty.test/incidents/Q1PAYMENTS0001"}
    assert kinds == {
        "triggered": ("firing", "triggered", "Q1PAYMENTS0001"),
        "acknowledged": ("firing", "acknowledged", "Q1PAYMENTS0001"),
        "resolved": ("resolved", "resolved", "Q1PAYMENTS0001"),
    }
    ping = json.loads((FIXTURES / "pagerduty-ping.json").read_text())
    assert parse.pagerduty(ping, NOW) == []
    with pytest.raises(AlertPayloadError, match=r"event\.event_type"):
        parse.pagerduty({"messages": []}, NOW)


def test_generic_mapping_reads_dotted_paths() -> None:
    mapping = GenericMapping(
        fingerprint="alert.alertId",
        status="action",
        resolved_values=["Close"],
        service="alert.entity",
        alertname="alert.message",
        severity="alert.priority",
        summary="alert.description",
    )
    body = {
        "action": "Create",
        "alert": {
            "alertId": "og-1",
            "entity": "search-api",
            "message": "Heap high",
            "priority": "P2",
            "description": "heap 93%",
        },
    }
    [alert] = parse.generic("opsgenie", mapping, body, NOW)
    assert (alert.source, alert.status, alert.name, alert.severity) == (
        "generic:opsgenie",
        "firing",
        "Heap high",
        "p2",
    )
    assert alert.annotations["summary"] == "heap 93%" and alert.starts_at == NOW
    body["action"] = "Close"
    assert parse.generic("opsgenie", mapping, body, NOW)[0].status == "resolved"
    with pytest.raises(AlertPayloadError, match=r"nothing at `alert\.alertId`"):
        parse.generic("opsgenie", mapping, {"action": "Create"}, NOW)


def test_credentials() -> None:
    token = SecretStr("t" * 20)
    assert auth.bearer_ok("Bearer " + "t" * 20, token) and auth.bearer_ok("bearer " + "t" * 20, token)
    assert not auth.bearer_ok("Bearer " + "t" * 19, token) and not auth.bearer_ok("Bearer x", None)
    basic = "Basic " + base64.b64encode(b"am:" + b"p" * 16).decode()
    assert auth.basic_ok(basic, "am", SecretStr("p" * 16))
    assert not auth.basic_ok(basic, "other", SecretStr("p" * 16)) and not auth.basic_ok(
        "Basic !!", "am", SecretStr("p")
    )
    body, keys = b'{"event": {}}', [b"old-secret-0123456789", b"new-secret-0123456789"]
    good = auth.pagerduty_signature(body, keys[1])
    assert auth.pagerduty_ok(f"v1=deadbeef, {good}", body, keys)
    assert not auth.pagerduty_ok(good, body + b" ", keys) and not auth.pagerduty_ok("", body, keys)
    assert not auth.pagerduty_ok(good.removeprefix("v1="), body, keys)  # the scheme is part of it


def test_alerts_file_errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "alerts.yaml"
    path.write_text("grouping:\n  window_minutes: 0\nnew_channel:\n  name_pattern: 'inc-{team}'\n")
    with pytest.raises(ConfigError) as caught:
        load_rules(path)
    problems = "\n".join(caught.value.problems)
    assert f"{path}:2: grouping.window_minutes" in problems and "unknown field 'team'" in problems
    path.write_text("routes:\n  - match: {severity: critical}\n    channel: C0CRIT\n")
    rules = load_rules(path)
    assert rules.route({"severity": "critical"}).channel == "C0CRIT" and rules.route({}).channel == ""
