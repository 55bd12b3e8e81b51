"""The error-budget governor against an HTTP server on loopback speaking Prometheus's query API."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from workers.policy.governor import Governor
from workers.policy.model import PolicyFile

POLICY = PolicyFile.model_validate(
    {"slos": {"checkout-api": {"objective": 99.9, "window": "30d", "error_ratio_query": "errors[{window}]"}}}
)


class Prometheus:
    """Answers `errors[<window>]` with the error ratio set for that window; others get no data."""

    def __init__(self) -> None:
        self.ratios: dict[str, float] = {}
        self.queries: list[str] = []
        self.raw: tuple[int, bytes] | None = None  # a fault to answer with: (HTTP status, body)
        prom = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                query = parse_qs(urlparse(self.path).query)["query"][0]
                prom.queries.append(query)
                if prom.raw is not None:
                    self.send_response(prom.raw[0])
                    self.end_headers()
                    self.wfile.write(prom.raw[1])
                    return
                window = re.search(r"\[(\w+)\]", query)
                value = prom.ratios.get(window.group(1) if window else "")
                result = [] if value is None else [{"metric": {}, "value": [1.0, str(value)]}]
                body = json.dumps({"status": "success", "data": {"resultType": "vector", "result": result}})
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body.encode())

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def prom() -> Iterator[Prometheus]:
    p = Prometheus()
    yield p
    p.server.shutdown()
    p.server.server_close()


def steady(ratio: float) -> dict[str, float]:
    return {w: ratio for w in ("30d", "1h", "5m", "6h", "30m")}


def test_the_three_budget_states(prom: Prometheus) -> None:
    prom.ratios = steady(0.0002)  # 0.2× burn: healthy
    assert Governor(POLICY, prom.url).state("checkout-api").state == "healthy"
    prom.ratios = {**steady(0.0002), "1h": 0.02, "5m": 0.03}  # 20× and 30× over the fast pair
    burning = Governor(POLICY, prom.url).state("checkout-api")
    assert burning.state == "burning" and "20.0× over 1h (limit 14.4×)" in burning.reason
    prom.ratios = {**steady(0.0002), "1h": 0.02, "5m": 0.0001}  # the short window has recovered
    assert Governor(POLICY, prom.url).state("checkout-api").state == "healthy"
    prom.ratios = steady(0.0015)  # 1.5× the whole budget over 30 days
    assert Governor(POLICY, prom.url).state("checkout-api").state == "exhausted"


def test_fail_safe_and_asked_afresh(prom: Prometheus) -> None:
    prom.ratios = {}
    no_data = Governor(POLICY, prom.url).state("checkout-api")
    assert no_data.state == "burning" and "no data" in no_data.reason
    dead = Governor(POLICY, "http://127.0.0.1:9").state("checkout-api")
    assert dead.state == "burning" and "Prometheus unreachable" in dead.reason
    assert Governor(POLICY, None).state("checkout-api").state == "burning"
    assert Governor(POLICY, prom.url).state("search-api").state == "healthy"  # no SLO: as written
    prom.ratios = steady(0.0002)
    governor = Governor(POLICY, prom.url)
    before = len(prom.queries)
    governor.state("checkout-api")
    asked = len(prom.queries) - before
    governor.state("checkout-api")
    assert asked > 0 and len(prom.queries) == before + 2 * asked  # no cache across clicks


def test_the_slo_is_found_under_any_spelling_of_the_service(prom: Prometheus) -> None:
    prom.ratios = steady(0.0015)
    for spelling in ("checkout-api", "Checkout-API", "checkout\u200b-api", "ｃｈｅｃｋｏｕｔ-api"):
        assert Governor(POLICY, prom.url).state(spelling).state == "exhausted", spelling


def _sample(value: object) -> bytes:
    return json.dumps(
        {"status": "success", "data": {"resultType": "vector", "result": [{"value": [1.0, value]}]}}
    ).encode()


@pytest.mark.parametrize(
    ("status", "body", "words"),
    [
        (503, b"", "answered HTTP 503"),
        (200, b"<html>proxy login</html>", "not JSON"),
        (200, b'{"status": "error", "errorType": "bad_data"}', "answered status 'error'"),
        (200, b'["success"]', "answered status 'list'"),
        (200, b'{"status": "success", "data": {"result": {"a": 1}}}', "unexpected shape"),
        (200, b'{"status": "success", "data": {"result": [{"value": [1.0]}]}}', "unexpected shape"),
        (200, b'{"status": "success", "data": {"result": ["x"]}}', "unexpected shape"),
        (200, _sample("NaN"), "nan"),
        (200, _sample("-0.5"), "not a ratio"),
        (200, _sample("many"), "not a number"),
        (200, _sample(None), "not a number"),
        (200, b'{"status": "success", "data": {"result": []}}', "no data"),
    ],
)
def test_every_prometheus_failure_counts_as_burning_and_says_why(
    prom: Prometheus, status: int, body: bytes, words: str
) -> None:
    prom.raw = (status, body)
    verdict = Governor(POLICY, prom.url).state("checkout-api")
    assert verdict.state == "burning", verdict
    assert words in verdict.reason and "treated as burning" in verdict.reason, verdict.reason
