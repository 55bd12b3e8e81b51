"""Doctor checks for what the workers reach: the LLM, each log source (a one-minute query through
the source's own code), the policy and its SLOs' series in Prometheus, and the executors."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import openai

from bot.doctor import Finding, failed
from workers.errors import ConfigError
from workers.evidence.config import build_sources, load_sources
from workers.evidence.model import LogQuery, TimeWindow
from workers.llm.client import model_limits
from workers.policy.model import PolicyFile, load_policy
from workers.settings import LLMSettings, Settings

TIMEOUT_S = 10.0
_SCHEMA = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}


def check_llm(llm: LLMSettings) -> list[Finding]:
    if llm.api_key is None and llm.base_url is None:
        return [Finding("llm", "ok", "no LLM configured: evidence-only mode")]
    where = llm.base_url or "https://api.openai.com/v1"
    api = _openai(llm)
    try:
        _ask(api, llm, max_tokens=1)
    except openai.APIConnectionError as exc:
        return failed(
            "llm",
            f"cannot reach the LLM at {where}: {exc}",
            "check OPENAI_BASE_URL, that the server runs and this host may reach it",
        )
    except openai.AuthenticationError:
        return [Finding("llm", "fail", f"{where} refused OPENAI_API_KEY", "set a valid OPENAI_API_KEY")]
    except openai.NotFoundError:
        return failed(
            "llm",
            f"{where} does not serve model {llm.model!r}",
            "set LLM_MODEL to a model the server lists at /models",
        )
    except openai.APIStatusError as exc:
        return failed(
            "llm",
            f"{where} answered HTTP {exc.status_code} to a one-token request",
            "check the server's logs",
        )
    out = [Finding("llm", "ok", f"{llm.model} at {where} answers")]
    try:
        schema = {"name": "probe", "schema": _SCHEMA, "strict": False}
        _ask(api, llm, max_tokens=16, response_format={"type": "json_schema", "json_schema": schema})
        out.append(Finding("llm.structured_output", "ok", "JSON-schema answers supported"))
    except openai.BadRequestError:
        out.append(
            Finding(
                "llm.structured_output",
                "warn",
                "no JSON-schema answers: the bot falls back to JSON mode or the schema in the prompt",
                "use a server or model with structured output",
            )
        )
    out.append(_context_window(api, llm))
    return out


def _ask(api: openai.OpenAI, llm: LLMSettings, **extra: Any) -> None:
    api.chat.completions.create(
        model=llm.model, messages=[{"role": "user", "content": "Answer ok."}], stream=False, **extra
    )


def _context_window(api: openai.OpenAI, llm: LLMSettings) -> Finding:
    window, output = model_limits(llm)
    served: int | None = None
    try:
        for model in api.models.list():
            if model.id == llm.model:
                served = (model.model_extra or {}).get("max_model_len")
    except openai.OpenAIError:
        pass
    if served is not None and window > served:
        return Finding(
            "llm.context_window",
            "fail",
            f"we assume {window} tokens, the server serves {served}",
            f"set LLM_CONTEXT_WINDOW={served}",
        )
    told = f"the server serves {served}" if served else "the server does not say its window"
    return Finding("llm.context_window", "ok", f"{window} tokens in, {output} out ({told})")


def _openai(llm: LLMSettings) -> openai.OpenAI:
    key = llm.api_key.get_secret_value() if llm.api_key else "not-set"
    if llm.api_version:
        return openai.AzureOpenAI(
            azure_endpoint=llm.base_url or "",
            api_version=llm.api_version,
            api_key=key,
            timeout=TIMEOUT_S,
            max_retries=0,
        )
    return openai.OpenAI(base_url=llm.base_url, api_key=key, timeout=TIMEOUT_S, max_retries=0)


def check_sources(settings: Settings) -> list[Finding]:
    path = settings.evidence.sources_file
    if path is None:
        return [
            Finding(
                "sources",
                "warn",
                "EVIDENCE_SOURCES_FILE is not set: answers carry no log evidence",
                "list your log stores in a sources file (see README, Log sources)",
            )
        ]
    try:
        config = load_sources(path)
    except ConfigError as exc:
        return [Finding("sources", "fail", "; ".join(exc.problems), f"fix {path}")]
    service = config.default_service or next(iter(config.services), "")
    end = datetime.now(UTC)
    window = TimeWindow(end - timedelta(minutes=1), end)
    out = []
    for source, _cap in build_sources(config.sources, service):
        result = asyncio.run(source.fetch(LogQuery(service, window, 1000)))
        part = f"sources.{source.name}"
        if result.status == "error" or result.note.startswith("no file matches"):
            out.append(
                Finding(
                    part,
                    "fail",
                    f"{result.note or result.status} (query: {result.query})",
                    f"check source {source.name!r} in {path}",
                )
            )
        else:
            out.append(Finding(part, "ok", f"{result.status}: {len(result.lines)} lines in the last minute"))
    return out


def check_policy(settings: Settings) -> tuple[list[Finding], PolicyFile | None]:
    path = settings.policy.file
    if path is None:
        return [Finding("policy", "ok", "POLICY_FILE is not set: every action is only suggested")], None
    try:
        policy = load_policy(path)
    except ConfigError as exc:
        return failed(
            "policy",
            "; ".join(exc.problems),
            f"fix {path} (`incident-copilot policy check`); until then no action can be approved",
        ), None
    return [
        Finding("policy", "ok", f"{path}: {len(policy.actions)} action types, {len(policy.slos)} SLOs")
    ], policy


def check_prometheus(url: str | None, policy: PolicyFile | None) -> list[Finding]:
    slos = policy.slos if policy else {}
    if url is None:
        if slos:
            return [
                Finding(
                    "prometheus",
                    "warn",
                    "PROMETHEUS_URL is not set: every SLO counts as burning",
                    "set PROMETHEUS_URL",
                )
            ]
        return [Finding("prometheus", "skip", "not configured, and no SLO needs it")]
    base = url.rstrip("/")
    with httpx.Client(timeout=TIMEOUT_S) as http:
        try:
            http.get(f"{base}/api/v1/query", params={"query": "1"}).raise_for_status()
        except httpx.HTTPError as exc:
            return failed(
                "prometheus",
                f"cannot query {base}: {type(exc).__name__}: {exc}",
                "check PROMETHEUS_URL; until then every SLO counts as burning",
            )
        out = [Finding("prometheus", "ok", f"{base} answers queries")]
        for name, slo in slos.items():
            query = slo.error_ratio_query.replace("{window}", slo.window)
            body = http.get(f"{base}/api/v1/query", params={"query": query}).json()
            if (body.get("data") or {}).get("result"):
                out.append(Finding(f"slo.{name}", "ok", f"its series exist over {slo.window}"))
            else:
                out.append(
                    Finding(
                        f"slo.{name}",
                        "fail",
                        f"no series for {query!r}: the budget counts as burning",
                        "fix error_ratio_query or what Prometheus scrapes",
                    )
                )
    return out


def check_executors(settings: Settings) -> list[Finding]:
    ex = settings.executors
    targets = {"executors.alertmanager": ex.alertmanager_url, "executors.webhook": ex.webhook_url}
    if ex.kubernetes and ex.kubernetes != "in-cluster":
        targets["executors.kubernetes"] = ex.kubernetes
    out = []
    with httpx.Client(timeout=TIMEOUT_S) as http:
        for part, url in targets.items():
            if not url:
                continue
            try:
                http.head(url)
                out.append(Finding(part, "ok", f"{url} answers"))
            except httpx.HTTPError as exc:
                out.append(
                    Finding(
                        part,
                        "fail",
                        f"cannot reach {url}: {type(exc).__name__}",
                        "check the URL and that the workers may reach it",
                    )
                )
    return out
