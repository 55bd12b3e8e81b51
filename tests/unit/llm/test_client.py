"""The LLM client against a real HTTP server on loopback: modes, retries, repair, budgets, limits."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel

from tests.support.fake_llm import FakeLLM, Fault, Reply
from workers.errors import LLMBudgetExceeded, LLMContextError, LLMOutputError, LLMUnavailable
from workers.evidence.tokens import TokenCounter
from workers.llm.budget import Budget
from workers.llm.client import LLMClient, model_limits
from workers.settings import LLMSettings

KEY = "sk-test-0123456789abcdef"
GOOD = json.dumps({"answer": "pool exhausted", "score": 2})


class Answer(BaseModel):
    answer: str
    score: int


def settings(base_url: str, **extra: Any) -> LLMSettings:
    values = {"OPENAI_BASE_URL": base_url, "OPENAI_API_KEY": KEY, "LLM_MODEL": "gpt-4o-mini", **extra}
    return LLMSettings.model_validate(values)


@pytest.fixture
def llm() -> Iterator[FakeLLM]:
    with FakeLLM() as server:
        yield server


@pytest.fixture(scope="module")
def counter() -> TokenCounter:
    return TokenCounter.for_configured_model("gpt-4o-mini")


def client(llm: FakeLLM, counter: TokenCounter, sleeps: list[float] | None = None, **extra: Any) -> LLMClient:
    return LLMClient(
        settings(llm.base_url, **extra), counter, sleep=(sleeps if sleeps is not None else []).append
    )


def budget(**overrides: Any) -> Budget:
    return Budget(**{"tokens": 20_000, "cost_usd": 1.0, "seconds": 60.0, **overrides})


MESSAGES = [{"role": "user", "content": "what broke?"}]


def test_structured_output_by_json_schema_with_usage_and_key(llm: FakeLLM, counter: TokenCounter) -> None:
    llm.script(Reply(GOOD, usage=(120, 30)))
    result = client(llm, counter, LLM_PRICE_INPUT_PER_MTOK="1", LLM_PRICE_OUTPUT_PER_MTOK="2").complete(
        MESSAGES, Answer, budget=budget(), name="answer"
    )
    assert result.parsed == Answer(answer="pool exhausted", score=2) and result.mode == "json_schema"
    assert (result.prompt_tokens, result.completion_tokens) == (120, 30)
    assert result.cost_usd == pytest.approx((120 * 1 + 30 * 2) / 1e6)
    [seen] = llm.chat_requests()
    assert seen.headers["authorization"] == f"Bearer {KEY}"
    assert seen.body["response_format"]["type"] == "json_schema"
    assert seen.body["response_format"]["json_schema"]["schema"]["required"] == ["answer", "score"]
    assert seen.body["max_tokens"] == 16_384  # gpt-4o's output limit from the table


def test_mode_ladder_steps_down_and_remembers(llm: FakeLLM, counter: TokenCounter) -> None:
    refuse = (
        '{"error": {"message": "response_format json_schema is not supported", "type": "invalid_request"}}'
    )
    llm.script(Fault(400, refuse), Fault(400, refuse.replace("json_schema", "json_object")), Reply(GOOD))
    c = client(llm, counter)
    assert c.complete(MESSAGES, Answer, budget=budget(), name="a").mode == "text"
    formats = [r.body.get("response_format", {}).get("type") for r in llm.chat_requests()]
    assert formats == ["json_schema", "json_object", None]
    assert "JSON schema" in llm.chat_requests()[-1].body["messages"][-1]["content"]
    llm.script(Reply(f"Sure! ```json\n{GOOD}\n``` hope that helps"))
    assert c.complete(MESSAGES, Answer, budget=budget(), name="a").parsed.score == 2  # fenced, tolerated
    assert "response_format" not in llm.chat_requests()[-1].body  # started from the mode that worked


def test_retries_honour_retry_after_and_4xx_is_not_retried(llm: FakeLLM, counter: TokenCounter) -> None:
    sleeps: list[float] = []
    llm.script(Fault(429, retry_after="3"), Fault(503), Reply(GOOD))
    result = client(llm, counter, sleeps).complete(MESSAGES, Answer, budget=budget(), name="a")
    assert result.attempts == 3 and sleeps[0] == 3.0 and 0.3 < sleeps[1] < 1.5
    llm.script(Fault(401, '{"error": {"message": "bad key"}}'))
    with pytest.raises(LLMUnavailable, match="refused the request"):
        client(llm, counter).complete(MESSAGES, Answer, budget=budget(), name="a")
    assert len(llm.chat_requests()) == 4  # the 401 was asked once


def test_retries_give_up_with_a_message_that_names_the_endpoint_not_the_key(
    llm: FakeLLM, counter: TokenCounter
) -> None:
    llm.script(*[Fault(500)] * 3)
    with pytest.raises(LLMUnavailable) as err:
        client(llm, counter, LLM_MAX_RETRIES="2").complete(MESSAGES, Answer, budget=budget(), name="a")
    assert "HTTP 500 after 3 attempts" in str(err.value) and "127.0.0.1" in str(err.value)
    assert KEY not in str(err.value) and "evidence-only" in str(err.value)


def test_a_retry_that_would_pass_the_time_budget_is_not_waited_for(
    llm: FakeLLM, counter: TokenCounter
) -> None:
    llm.script(Fault(429, retry_after="120"))
    sleeps: list[float] = []
    with pytest.raises(LLMBudgetExceeded, match="time budget"):
        client(llm, counter, sleeps).complete(MESSAGES, Answer, budget=budget(seconds=30), name="a")
    assert sleeps == []


def test_a_slow_server_times_out(llm: FakeLLM, counter: TokenCounter) -> None:
    llm.script(Fault(500, delay_s=3), Fault(500, delay_s=3))
    with pytest.raises(LLMUnavailable, match="Timeout"):
        client(llm, counter, LLM_TIMEOUT_S="1", LLM_MAX_RETRIES="1").complete(
            MESSAGES, Answer, budget=budget(), name="a"
        )


def test_an_invalid_answer_gets_one_repair_turn(llm: FakeLLM, counter: TokenCounter) -> None:
    llm.script(Reply('{"answer": "x"}'), Reply(GOOD))
    result = client(llm, counter).complete(MESSAGES, Answer, budget=budget(), name="a")
    assert result.parsed.score == 2 and result.attempts == 2
    repair = llm.chat_requests()[-1].body["messages"][-1]["content"]
    assert "score" in repair and "not valid" in repair
    llm.script(Reply("no json at all"), Reply("still none"))
    with pytest.raises(LLMOutputError, match="no valid a answer"):
        client(llm, counter).complete(MESSAGES, Answer, budget=budget(), name="a")


def test_budget_and_context_window_are_checked_before_sending(llm: FakeLLM, counter: TokenCounter) -> None:
    spent = budget(tokens=1000)
    spent.charge(990, 0, 0.0)
    with pytest.raises(LLMBudgetExceeded):
        client(llm, counter).complete(MESSAGES, Answer, budget=spent, name="a")
    huge = [{"role": "user", "content": "word " * 9000}]
    with pytest.raises(LLMContextError, match="takes 8192"):
        client(llm, counter, LLM_MODEL="llama3.1-8b").complete(huge, Answer, budget=budget(), name="a")
    assert llm.chat_requests() == []


def test_azure_deployments_path_and_api_version(llm: FakeLLM, counter: TokenCounter) -> None:
    llm.script(Reply(GOOD))
    base = llm.base_url.removesuffix("/v1")
    c = LLMClient(settings(base, OPENAI_API_VERSION="2024-10-21", LLM_MODEL="triage-gpt4o"), counter)
    c.complete(MESSAGES, Answer, budget=budget(), name="a")
    [seen] = llm.chat_requests()
    assert seen.path == "/openai/deployments/triage-gpt4o/chat/completions?api-version=2024-10-21"
    assert seen.headers["api-key"] == KEY


def test_model_limits_come_from_settings_then_the_table() -> None:
    assert model_limits(settings("http://x/v1", LLM_MODEL="qwen2.5-72b")) == (32_768, 8_192)
    assert model_limits(settings("http://x/v1", LLM_MODEL="something-new")) == (8_192, 1_024)
    assert model_limits(settings("http://x/v1", LLM_CONTEXT_WINDOW="4096", LLM_MAX_OUTPUT_TOKENS="512")) == (
        4096,
        512,
    )


def test_budget_scales_by_severity() -> None:
    s = settings("http://x/v1", LLM_BUDGET_TOKENS="10000")
    assert Budget.for_severity(s, "SEV1").tokens == 20_000 and Budget.for_severity(s, "sev-4").tokens == 5_000
    assert Budget.for_severity(s, "").tokens == 10_000 and Budget.for_severity(s, "high").tokens == 15_000
