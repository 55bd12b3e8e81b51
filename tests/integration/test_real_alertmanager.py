"""The silence executor against a real Alertmanager (Debian's package, installed by the set-up if
missing): dry run changes nothing, execute creates, verify reads it active, undo expires it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from bot.localstack import LocalStack
from tests.integration.conftest import PATIENCE, new_channel, wait_answer, wait_until
from tests.support import debian_services
from tests.support.fake_llm import FakeLLM
from tests.support.prompt_evidence import items_of
from workers.errors import ExecutorError
from workers.executors.alertmanager import AlertmanagerExecutor
from workers.executors.base import ActionRequest
from workers.slack import ids

SILENCE = ActionRequest(
    action="silence_alert",
    target="checkout-api",
    params={"alertname": "CheckoutLatencyHigh", "duration": "30m"},
    requested_by="U0ALICE",
    proposal_id="Pabc123",
)


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=PATIENCE) as client:
        yield client


@pytest.fixture(scope="module")
def alertmanager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with debian_services.alertmanager(tmp_path_factory.mktemp("alertmanager")) as url:
        yield url


def _silences(url: str) -> list[dict[str, object]]:
    return list(httpx.get(f"{url}/api/v2/silences", timeout=PATIENCE).json())


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


SILENCE_POLICY = """version: 1
caps: {novel: act}
actions:
  silence_alert:
    level: act
    approvers: {users: [U0BRUNO]}
    reversible: true
"""


def _silence_answer(body: dict[str, Any]) -> str:
    ts, text = next((m["id"], m["text"]) for m in items_of(body, "message") if "paging" in m["text"])
    action = {
        "action_type": "silence_alert",
        "target": "payments-svc",
        "params": {"alertname": "PaymentsLatency", "duration": "30m"},
    }
    hypothesis = {
        "statement": "a noisy alert while the known pool fix rolls out",
        "confidence": "medium",
        "evidence": [{"kind": "message", "id": ts, "quote": text[:12]}],
        "actions": [action],
    }
    summary = {"what": "noisy paging", "cause": "known", "cause_confidence": "low", "next": "silence it"}
    return json.dumps({"summary": summary, "hypotheses": [hypothesis]})


def _thread_buttons(stack: LocalStack, channel: str, action_id: str) -> list[str]:
    return [
        e["value"]
        for m in stack.standin.messages(channel)
        if m.get("bot_id") and m.get("thread_ts") and m["ts"] != m.get("thread_ts")
        for b in m.get("blocks") or []
        if b.get("type") == "actions"
        for e in b["elements"]
        if e["action_id"] == action_id
    ]


def test_approve_silences_and_undo_expires_through_the_bot_and_worker(
    make_stack: Callable[..., LocalStack], alertmanager: str, http: httpx.Client, tmp_path: Path
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(SILENCE_POLICY)
    with FakeLLM(default=_silence_answer) as llm:
        stack = make_stack(
            env={
                "OPENAI_BASE_URL": llm.base_url,
                "OPENAI_API_KEY": "sk-test",
                "LLM_MODEL": "gpt-4o-mini",
                "POLICY_FILE": str(policy),
                "EXECUTOR_ALERTMANAGER_URL": alertmanager,
            }
        )
        stack.standin.state.add_user("U0BRUNO", "bruno", "Bruno Silva")
        channel, name = new_channel(stack)
        stack.standin.state.add_message(
            channel, "U0BRUNO", "payments-svc keeps paging us, fix is rolling out"
        )
        driver = stack.driver()
        driver.slash_command("paging noise", user_id="U0ALICE", channel_id=channel, channel_name=name)
        answer = wait_answer(stack, channel, timeout=PATIENCE)
    [proposal] = [
        e["value"] for b in answer["blocks"] if b["type"] == "actions" for e in b["elements"]
        if e["action_id"] == ids.PROPOSAL_APPROVE
    ]  # fmt: skip
    before = {s["id"] for s in _silences(alertmanager)}
    driver.block_action(
        ids.PROPOSAL_APPROVE, proposal, user_id="U0BRUNO", channel_id=channel, message_ts=answer["ts"]
    )
    assert stack.standin.wait_for(lambda: _thread_buttons(stack, channel, ids.PROPOSAL_UNDO), PATIENCE), (
        stack.log("worker-0")
    )
    [created] = [s for s in _silences(alertmanager) if s["id"] not in before]
    assert created["status"] == {"state": "active"}
    replies = str([m.get("text") for m in stack.standin.messages(channel)])
    assert "Dry run" in replies and f"silence {created['id']} is active" in replies

    driver.block_action(
        ids.PROPOSAL_UNDO, proposal, user_id="U0ALICE", channel_id=channel, message_ts=answer["ts"]
    )
    assert wait_until(
        lambda: any("Only the approvers" in str(p) for p in stack.standin.state.response_posts()), PATIENCE
    )
    assert AlertmanagerExecutor(alertmanager, http).state(str(created["id"])) == "active"  # not undone by her
    driver.block_action(
        ids.PROPOSAL_UNDO, proposal, user_id="U0BRUNO", channel_id=channel, message_ts=answer["ts"]
    )
    assert wait_until(
        lambda: AlertmanagerExecutor(alertmanager, http).state(str(created["id"])) == "expired", PATIENCE
    )
    client = redis.Redis.from_url(stack.redis_url, decode_responses=True)

    def kinds_now() -> list[str]:
        return [f["kind"] for _id, f in client.xrange("ic:audit") if f.get("proposal") == proposal]

    wait_until(lambda: kinds_now()[-1:] == ["undone"], PATIENCE)  # audited once Alertmanager answered
    kinds = kinds_now()
    client.close()
    assert kinds[:2] == ["proposed", "approved"] and "executed" in kinds and kinds[-1] == "undone"
    assert "undo_refused" in kinds
