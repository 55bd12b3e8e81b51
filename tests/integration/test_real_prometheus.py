"""The error-budget governor against a real Prometheus (Debian's package) loaded with 31 days of
recorded request counters backfilled by promtool: the three budget states, the caps they put on an
act-level action, and the fail-safe answers (no data; Prometheus down)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tests.integration.conftest import PATIENCE
from tests.support import debian_services
from workers.policy.decide import ActionRequest, decide
from workers.policy.governor import Governor
from workers.policy.model import PolicyFile

RATE = 100.0  # requests per second, every service
ERROR_RATIOS = {  # (over the last 31 days before the last two hours, in the last two hours)
    "healthy-svc": (0.0001, 0.0001),
    "burning-svc": (0.0001, 0.05),  # 50× a 99.9% budget now, about a quarter of it over 30 days
    "exhausted-svc": (0.002, 0.002),  # twice the budget all month
}
QUERY = (
    'sum(rate(http_requests_total{{service="{s}",code=~"5.."}}[{{window}}]))'
    ' / sum(rate(http_requests_total{{service="{s}"}}[{{window}}]))'
)


def _openmetrics(now: float) -> str:
    """Counters every 5 minutes for 31 days, then every 15 s for the last two hours, up to now."""
    stamps = [now - 31 * 86400 + i * 300 for i in range(int((31 * 86400 - 7200) / 300))]
    stamps += [now - 7200 + i * 15 for i in range(7200 // 15)]
    lines = ["# TYPE http_requests counter"]
    for service, (before, recent) in ERROR_RATIOS.items():
        ok = errors = 0.0
        rows_ok, rows_err = [], []
        last = stamps[0]
        for t in stamps:
            ratio = recent if t >= now - 7200 else before
            step = (t - last) * RATE
            errors += step * ratio
            ok += step * (1 - ratio)
            last = t
            rows_ok.append(f'http_requests_total{{service="{service}",code="200"}} {ok:.3f} {t:.3f}')
            rows_err.append(f'http_requests_total{{service="{service}",code="500"}} {errors:.3f} {t:.3f}')
        lines += rows_ok + rows_err
    return "\n".join([*lines, "# EOF"]) + "\n"


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("prometheus") / "data"
    debian_services.backfill(_openmetrics(time.time() - 30), data)
    with debian_services.prometheus(data) as url:
        yield url


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=PATIENCE) as client:
        yield client


def _policy() -> PolicyFile:
    slos = {
        s: {"objective": 99.9, "window": "30d", "error_ratio_query": QUERY.format(s=s)}
        for s in [*ERROR_RATIOS, "silent-svc"]
    }
    return PolicyFile.model_validate(
        {"actions": {"restart": {"level": "act", "approvers": {"users": ["U0BRUNO"]}}}, "slos": slos}
    )


def test_the_three_budget_states_and_their_caps(prometheus: str, http: httpx.Client) -> None:
    policy = _policy()
    governor = Governor(policy, prometheus, http)
    seen = {}
    for service in ERROR_RATIOS:
        verdict = governor.state(service)
        level = decide(policy, ActionRequest("restart", service), verdict.state, novel=False).level
        seen[service] = (verdict.state, level, verdict.reason)
    assert seen["healthy-svc"][:2] == ("healthy", "act"), seen
    assert (
        seen["burning-svc"][:2] == ("burning", "suggest") and "burns 50.0× over 1h" in seen["burning-svc"][2]
    )
    assert seen["exhausted-svc"][:2] == ("exhausted", "observe"), seen
    quiet = governor.state("silent-svc")
    assert quiet.state == "burning" and "no data" in quiet.reason


def test_prometheus_unreachable_is_treated_as_burning(http: httpx.Client) -> None:
    governor = Governor(_policy(), f"http://127.0.0.1:{debian_services.free_port()}", http)
    verdict = governor.state("healthy-svc")
    assert verdict.state == "burning" and verdict.reason.startswith("Prometheus unreachable (ConnectError)")
