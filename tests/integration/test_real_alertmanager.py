"""The silence executor against a real Alertmanager (Debian's package, installed by the set-up if
missing): dry run changes nothing, execute creates, verify reads it active, undo expires it."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support import debian_services
from workers.executors.alertmanager import AlertmanagerExecutor
from workers.executors.base import ActionRequest, ExecutorError

SILENCE = ActionRequest(
    action="silence_alert",
    target="checkout-api",
    params={"alertname": "CheckoutLatencyHigh", "duration": "30m"},
    requested_by="U0ALICE",
    proposal_id="Pabc123",
)


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


@pytest.fixture(scope="module")
def alertmanager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with debian_services.alertmanager(tmp_path_factory.mktemp("alertmanager")) as url:
        yield url


def _silences(url: str) -> list[dict[str, object]]:
    return list(httpx.get(f"{url}/api/v2/silences", timeout=5).json())


def test_silence_round_trip_create_verify_expire(alertmanager: str, http: httpx.Client) -> None:
    executor = AlertmanagerExecutor(alertmanager, http)
    before = len(_silences(alertmanager))
    plan = executor.dry_run(SILENCE)
    assert "service=checkout-api, alertname=CheckoutLatencyHigh" in plan.lines[0]
    assert len(_silences(alertmanager)) == before  # the dry run created nothing

    outcome = executor.execute(SILENCE)
    assert outcome.ok and outcome.undo_token
    check = executor.verify(SILENCE, outcome)
    assert check.ok and check.detail == f"silence {outcome.undo_token} is active"
    stored = next(s for s in _silences(alertmanager) if s["id"] == outcome.undo_token)
    assert stored["createdBy"] == "incident-copilot for U0ALICE" and "Pabc123" in str(stored["comment"])
    assert {(m["name"], m["value"]) for m in stored["matchers"]} == {  # type: ignore[attr-defined]
        ("service", "checkout-api"),
        ("alertname", "CheckoutLatencyHigh"),
    }

    undone = executor.undo(SILENCE, outcome)
    assert undone is not None and undone.ok and undone.detail.endswith("is expired")
    assert not executor.verify(SILENCE, outcome).ok


def test_bad_duration_and_an_unreachable_alertmanager_are_clear_errors(
    alertmanager: str, http: httpx.Client
) -> None:
    executor = AlertmanagerExecutor(alertmanager, http)
    too_long = ActionRequest("silence_alert", "checkout-api", {"duration": "3d"})
    with pytest.raises(ExecutorError, match="is not like 30m or 2h"):
        executor.execute(too_long)
    with pytest.raises(ExecutorError, match="must be between 1m and 24h"):
        executor.execute(ActionRequest("silence_alert", "checkout-api", {"duration": "48h"}))
    gone = AlertmanagerExecutor(f"http://127.0.0.1:{debian_services.free_port()}", http)
    with pytest.raises(ExecutorError, match="unreachable: ConnectError"):
        gone.execute(SILENCE)
