"""The prompt fits the window as a server that enforces it counts it: the LLM test server answers
vLLM's HTTP 400 to a request one token too long, and triage digests that overfill windows of 2k to
128k tokens are cut to fit without one rejection. A server that counts more than we do is answered
by cutting and asking once more, and the answer says so."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.fake_llm import FakeLLM
from tests.support.overfill import citing_answer, overfilled
from workers.evidence.tokens import TokenCounter
from workers.llm.budget import Budget
from workers.llm.client import LLMClient
from workers.llm.prompts import PromptLoader
from workers.redaction import ConsistentRedactor
from workers.settings import LLMSettings
from workers.triage.engine import Engine


@pytest.fixture(scope="module")
def counter() -> TokenCounter:
    return TokenCounter.for_configured_model("gpt-4o-mini")


def _engine(llm: FakeLLM, counter: TokenCounter, window: int) -> Engine:
    settings = LLMSettings.model_validate(
        {
            "OPENAI_BASE_URL": llm.base_url,
            "OPENAI_API_KEY": "sk-test-0123456789abcdef",
            "LLM_MODEL": "gpt-4o-mini",
            "LLM_CONTEXT_WINDOW": str(window),
        }
    )
    return Engine(llm=LLMClient(settings, counter), prompts=PromptLoader())


def _budget() -> Budget:
    return Budget(tokens=10_000_000, cost_usd=0.0, seconds=120.0)


@pytest.fixture
def server() -> Iterator[FakeLLM]:
    with FakeLLM(default=citing_answer) as llm:
        yield llm


def test_a_request_one_token_too_long_gets_vllms_400(server: FakeLLM, counter: TokenCounter) -> None:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "what broke?"}]}
    prompt = server.prompt_tokens(body)
    server.context_window = prompt + 100
    client = LLMClient(
        LLMSettings.model_validate(
            {"OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "sk-x", "LLM_MODEL": "gpt-4o-mini"}
        ),
        counter,
    )
    raw = client._api.chat.completions.with_raw_response  # the bare transport, no fitting of ours
    with pytest.raises(Exception, match="'max_tokens' or 'max_completion_tokens' is too large: 101"):
        raw.create(model="gpt-4o-mini", messages=body["messages"], max_tokens=101)  # type: ignore[arg-type]
    ok = raw.create(model="gpt-4o-mini", messages=body["messages"], max_tokens=100)  # type: ignore[arg-type]
    assert ok.status_code == 200
    server.context_window = prompt
    with pytest.raises(Exception, match=f"However, your request has {prompt} input tokens"):
        raw.create(model="gpt-4o-mini", messages=body["messages"], max_tokens=1)  # type: ignore[arg-type]
    assert len(server.rejected) == 2


@pytest.mark.parametrize("window", [2_048, 4_096, 8_192, 32_768, 131_072])
def test_digests_that_overfill_the_window_are_cut_to_fit_without_a_rejection(
    server: FakeLLM, counter: TokenCounter, window: int
) -> None:
    server.context_window = window
    ctx = overfilled(window, counter)
    report = _engine(server, counter, window).report(ctx, _budget(), ConsistentRedactor(), lambda _r: None)
    assert server.rejected == [] and report.mode == "llm", report.best_effort
    [request] = server.chat_requests()
    used = server.prompt_tokens(request.body) + request.body["max_tokens"]
    assert window * 0.7 <= used <= window  # filled (the cut goes in steps), and within
    assert f"cut to fit the model's {window}-token context window" in report.best_effort


def test_a_server_that_counts_more_is_answered_by_cutting_once_and_saying_so(
    server: FakeLLM, counter: TokenCounter
) -> None:
    server.context_window, server.template_extra = 8_192, 1_500  # its template adds a long preamble
    ctx = overfilled(8_192, counter)
    report = _engine(server, counter, 8_192).report(ctx, _budget(), ConsistentRedactor(), lambda _r: None)
    assert len(server.rejected) == 1 and len(server.chat_requests()) == 2
    assert report.mode == "llm"
    assert (
        "the server refused the prompt as longer than its context window (8192 tokens" in report.best_effort
    )
    assert "cut and sent again" in report.best_effort
    second = server.chat_requests()[1].body
    assert server.prompt_tokens(second) + second["max_tokens"] <= 8_192
