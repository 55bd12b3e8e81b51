"""One client for any OpenAI-compatible chat endpoint: OpenAI, Azure OpenAI, vLLM, Ollama, LiteLLM.

Structured output is asked for the strongest way the server supports, remembered per client:
`json_schema`, else `json_object`, else plain text with the schema in the prompt. Whatever comes
back is parsed tolerantly (code fences, text around the object) and validated; an invalid answer
gets one repair turn. Retries (429, 5xx, timeouts, dropped connections) are ours, with backoff that
honours `Retry-After` and never sleeps past the investigation's time budget.

Prompts are counted the way a server counts a chat request: every message's content plus the tokens
its chat template wraps it in (`MESSAGE_OVERHEAD`, the largest among ChatML, Llama 3 and OpenAI's
format), the tokens that prime the reply (`REPLY_PRIMING`, begin-of-text included), and the JSON
schema when one is sent as the response format; `max_tokens` then leaves `margin()` unused. When a
server still answers that the request exceeds its window (HTTP 400, as vLLM and OpenAI do), its
figures correct ours (`LLMContextOverflow`): the next count adds how far ours fell short.
"""

from __future__ import annotations

import json
import math
import random
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Generic, Literal, TypeVar

import httpx2
import openai
from pydantic import BaseModel, ValidationError

from workers.errors import (
    LLMBudgetExceeded,
    LLMContextError,
    LLMContextOverflow,
    LLMOutputError,
    LLMUnavailable,
)
from workers.evidence.tokens import TokenCounter
from workers.llm.budget import Budget
from workers.settings import LLMSettings

T = TypeVar("T", bound=BaseModel)
Mode = Literal["json_schema", "json_object", "text"]
MODES: tuple[Mode, ...] = ("json_schema", "json_object", "text")
BACKOFF_BASE_S, BACKOFF_MAX_S = 0.5, 20.0
MESSAGE_OVERHEAD = 5  # `<|im_start|>role\n … <|im_end|>\n` (ChatML); Llama 3's header is as long
REPLY_PRIMING = 5  # `<|im_start|>assistant\n` (3), Llama 3's `<|begin_of_text|>` and header (5)
MARGIN_TOKENS = 16  # left unused in every request
APPROXIMATE_MARGIN = 0.05  # and this share of the prompt when the tokenizer is a stand-in
ANSWER_ROOM = 512  # at least this much of a context window is kept for the answer
# (model name prefix, context window, output limit); the first prefix that matches wins.
MODEL_LIMITS: tuple[tuple[str, int, int], ...] = (
    ("gpt-4o", 128_000, 16_384),
    ("gpt-4.1", 1_000_000, 32_768),
    ("o1", 200_000, 100_000),
    ("o3", 200_000, 100_000),
    ("o4", 200_000, 100_000),
    ("gpt-4-turbo", 128_000, 4_096),
    ("llama3", 8_192, 2_048),
    ("llama-3", 8_192, 2_048),
    ("qwen2.5", 32_768, 8_192),
    ("mistral", 32_768, 4_096),
)
DEFAULT_LIMITS = (8_192, 1_024)
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S)
_WINDOW = re.compile(r"maximum context length is (\d+)")
_PROMPT = re.compile(
    r"(\d+) in the messages|(\d+) input tokens|messages resulted in (\d+) tokens|request has (\d+) input"
)


def model_limits(settings: LLMSettings) -> tuple[int, int]:
    """Context window and output limit: the settings, else the table, else conservative defaults."""
    model = settings.model.lower().rsplit("/", 1)[-1]
    context, output = next(((c, o) for p, c, o in MODEL_LIMITS if model.startswith(p)), DEFAULT_LIMITS)
    return settings.context_window or context, settings.max_output_tokens or output


@dataclass(frozen=True)
class LLMResult(Generic[T]):
    parsed: T
    mode: Mode
    attempts: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    elapsed_s: float
    model: str
    finish_reason: str


class LLMClient:
    def __init__(
        self,
        settings: LLMSettings,
        counter: TokenCounter,
        *,
        http_client: httpx2.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.counter = counter
        self.sleep = sleep
        self.mode: Mode = "json_schema"
        self.context_window, self.output_limit = model_limits(settings)
        self.count_extra = 0  # added to our count once a server has counted more than we do
        self.overflow_note = ""  # set when a server refused a request as too long
        key = settings.api_key.get_secret_value() if settings.api_key else "none"
        common: dict[str, Any] = {
            "api_key": key,
            "timeout": settings.timeout_s,
            "max_retries": 0,
            "http_client": http_client,
        }
        if settings.api_version:
            self._api: openai.OpenAI = openai.AzureOpenAI(
                azure_endpoint=settings.base_url or "", api_version=settings.api_version, **common
            )
        else:
            self._api = openai.OpenAI(base_url=settings.base_url, **common)

    def prompt_tokens(self, texts: Sequence[str], schema: type[BaseModel] | None = None) -> int:
        """What a chat request with these message contents costs in prompt tokens, as the server
        counts it: contents, per-message wrapping, reply priming and (asked for `schema`) the schema
        in the form the current structured-output mode sends it."""
        contents = list(texts)
        extra = 0
        if schema is not None and self.mode == "json_schema":
            extra = self.counter.count(json.dumps(schema.model_json_schema()))
        elif schema is not None and self.mode == "text":
            contents.append(_schema_hint(schema))
        counted = sum(self.counter.count(t) + MESSAGE_OVERHEAD for t in contents) + REPLY_PRIMING + extra
        return counted + self.count_extra

    def margin(self, prompt_tokens: int) -> int:
        """Tokens kept free in every request: a fixed few, more when our tokenizer only approximates."""
        return MARGIN_TOKENS + (0 if self.counter.exact else math.ceil(prompt_tokens * APPROXIMATE_MARGIN))

    def prompt_room(self) -> int:
        """Prompt tokens (margin included) that leave room for an answer in the context window."""
        return self.context_window - min(self.output_limit, max(ANSWER_ROOM, self.context_window // 4))

    def fits(self, texts: Sequence[str], schema: type[BaseModel] | None = None) -> bool:
        tokens = self.prompt_tokens(texts, schema)
        return tokens + self.margin(tokens) <= self.prompt_room()

    @property
    def where(self) -> str:
        return str(self._api.base_url)

    def complete(
        self, messages: Sequence[dict[str, str]], schema: type[T], *, budget: Budget, name: str
    ) -> LLMResult[T]:
        """Ask for a `schema` object; raises an `LLMError` subclass when no valid one comes back."""
        started = time.monotonic()
        convo = list(messages)
        totals = [0, 0, 0.0, 0]  # prompt tokens, completion tokens, cost, calls
        last_error = ""
        for turn in range(2):  # the answer, then at most one repair turn
            content, finish = self._ask(convo, schema, budget, name, totals)
            try:
                parsed = schema.model_validate(_json_object(content))
            except (ValueError, ValidationError) as exc:
                last_error = _short(exc)
                if turn == 0 and budget.exhausted() is None:
                    convo += [
                        {"role": "assistant", "content": content[:4000]},
                        {
                            "role": "user",
                            "content": "That answer was not valid against the schema: "
                            f"{last_error}. Answer again with only the corrected JSON object.",
                        },
                    ]
                    continue
                break
            return LLMResult(
                parsed=parsed,
                mode=self.mode,
                attempts=int(totals[3]),
                prompt_tokens=int(totals[0]),
                completion_tokens=int(totals[1]),
                cost_usd=float(totals[2]),
                elapsed_s=time.monotonic() - started,
                model=self.settings.model,
                finish_reason=finish,
            )
        raise LLMOutputError(f"{self.settings.model} gave no valid {name} answer: {last_error}")

    def _ask(
        self, convo: list[dict[str, str]], schema: type[T], budget: Budget, name: str, totals: list[Any]
    ) -> tuple[str, str]:
        """One answer from the server, stepping down the structured-output ladder when refused."""
        while True:
            messages = convo
            if self.mode == "text":
                messages = [*convo, {"role": "system", "content": _schema_hint(schema)}]
            prompt_tokens = self.prompt_tokens([m["content"] for m in convo], schema)
            margin = self.margin(prompt_tokens)
            if prompt_tokens + margin + min(256, self.output_limit) > self.context_window:
                raise LLMContextError(
                    f"the prompt needs about {prompt_tokens} tokens; {self.settings.model} takes "
                    f"{self.context_window}. Lower EVIDENCE_BUDGET_TOKENS or set LLM_CONTEXT_WINDOW."
                )
            if why := budget.exhausted():
                raise LLMBudgetExceeded(why)
            max_tokens = min(
                self.output_limit, self.context_window - prompt_tokens - margin, budget.remaining_tokens()
            )
            if max_tokens < 64:
                raise LLMBudgetExceeded(f"{budget.remaining_tokens()} tokens left of the budget")
            kwargs: dict[str, Any] = {
                "model": self.settings.model,
                "messages": messages,
                "max_tokens": max_tokens,
            }
            if self.mode == "json_schema":
                kwargs["response_format"] = {
                    "type": "json_schema",
                    "json_schema": {"name": name, "schema": schema.model_json_schema(), "strict": False},
                }
            elif self.mode == "json_object":
                kwargs["response_format"] = {"type": "json_object"}
            try:
                response = self._call(kwargs, budget, totals)
            except (openai.BadRequestError, openai.UnprocessableEntityError) as exc:
                if _overflows(exc):
                    raise self._overflow(exc, prompt_tokens, max_tokens) from exc
                if self.mode != "text" and _rejects_format(exc):
                    self.mode = MODES[MODES.index(self.mode) + 1]
                    continue
                raise LLMUnavailable(f"{self.settings.model} refused the request: {_short(exc)}") from exc
            usage = response.usage
            choice = response.choices[0] if response.choices else None
            content = (choice.message.content or "") if choice else ""
            p_tok = usage.prompt_tokens if usage else prompt_tokens
            c_tok = usage.completion_tokens if usage else self.counter.count(content)
            cost = (
                p_tok * self.settings.price_input_per_mtok + c_tok * self.settings.price_output_per_mtok
            ) / 1e6
            budget.charge(p_tok, c_tok, cost)
            totals[0] += p_tok
            totals[1] += c_tok
            totals[2] += cost
            return content, (choice.finish_reason or "") if choice else ""

    def _overflow(self, exc: openai.APIStatusError, counted: int, max_tokens: int) -> LLMContextOverflow:
        """The server's figures for a request it found too long, learnt for the next count."""
        text = str(exc)
        window = int(w.group(1)) if (w := _WINDOW.search(text)) else None
        p = _PROMPT.search(text)
        theirs = int(next(g for g in p.groups() if g)) if p else None
        if window is not None and window < self.context_window:
            self.context_window = window
        if theirs is not None and theirs > counted:
            self.count_extra += theirs - counted  # what its template or tokenizer adds; we only cut after
        elif theirs is None and window is None:
            self.count_extra += counted // 10  # no figures: assume we undercount by a tenth
        self.overflow_note = (
            f"the server refused the prompt as longer than its context window "
            f"({window or '?'} tokens; it counted {theirs or '?'} prompt tokens, we counted {counted}, "
            f"and asked for {max_tokens} more)"
        )
        return LLMContextOverflow(f"{self.settings.model}: {_short(exc)}", window, theirs)

    def _call(self, kwargs: dict[str, Any], budget: Budget, totals: list[Any]) -> Any:
        """The request with our retries: 429, 5xx, timeouts and dropped connections."""
        attempt = 0
        while True:
            totals[3] += 1
            attempt += 1
            try:
                return self._api.chat.completions.create(
                    **kwargs, timeout=min(self.settings.timeout_s, max(1.0, budget.remaining_seconds()))
                )
            except (openai.RateLimitError, openai.InternalServerError, openai.APIStatusError) as exc:
                status = getattr(exc, "status_code", 0)
                if status in (400, 422):
                    raise  # the caller may step down the structured-output ladder
                if status != 429 and status < 500:
                    raise LLMUnavailable(
                        f"{self.settings.model} at {self.where} refused the request: HTTP {status} "
                        f"{_short(exc)}; check OPENAI_API_KEY, LLM_MODEL and the endpoint"
                    ) from exc
                reason = f"HTTP {status}"
                wait = _retry_after(exc.response.headers) if exc.response is not None else None
            except (openai.APITimeoutError, openai.APIConnectionError) as exc:
                reason, wait = type(exc).__name__.removeprefix("API"), None
            if attempt > self.settings.max_retries:
                raise LLMUnavailable(
                    f"{self.where}: {reason} after {attempt} attempts; check the endpoint, or unset "
                    "OPENAI_BASE_URL and OPENAI_API_KEY for evidence-only mode"
                )
            delay = wait if wait is not None else min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** (attempt - 1))
            delay *= 1 if wait is not None else random.uniform(0.8, 1.2)
            if delay >= budget.remaining_seconds():
                raise LLMBudgetExceeded(
                    f"{reason}; the next retry in {delay:.0f} s would pass the time budget"
                )
            self.sleep(delay)


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from `retry-after-ms` or `Retry-After` (seconds or an HTTP date)."""
    if ms := headers.get("retry-after-ms"):
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


def _schema_hint(schema: type[BaseModel]) -> str:
    shape = json.dumps(schema.model_json_schema())
    return f"Reply with one JSON object valid against this JSON schema:\n{shape}"


def _overflows(exc: openai.APIStatusError) -> bool:
    text = str(exc).lower()
    return "context length" in text or "context_length_exceeded" in text or "maximum context" in text


def _rejects_format(exc: openai.APIStatusError) -> bool:
    text = str(exc).lower()
    return "response_format" in text or "json_schema" in text or "json_object" in text


def _json_object(content: str) -> Any:
    """The JSON object in an answer: as is, inside a code fence, or between the outermost braces."""
    text = content.strip()
    if m := _FENCE.search(text):
        text = m.group(1).strip()
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        start, end = text.find("{"), text.rfind("}")
        if start < 0 or end <= start:
            raise ValueError("no JSON object in the answer") from None
        return json.loads(text[start : end + 1])


def _short(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        errors = exc.errors()[:3]
        return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors)
    return str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
