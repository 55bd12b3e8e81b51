"""The error-budget governor: burn rates from Prometheus's HTTP API → healthy, burning or exhausted.

Burning: any multiwindow rule fires (both its long and short windows burn faster than its factor;
the SRE workbook's 14.4× over 1 h / 5 m and 6× over 6 h / 30 m by default). Exhausted: the error
ratio over the SLO window has used the whole budget.

Asked afresh every time (at triage, at every click, at execution): an approval must never ride on a
minute-old "healthy". Every way Prometheus can fail to give a number (unreachable, an error status,
a body that is not JSON, a wrong shape, NaN or a negative ratio, an empty result) counts as burning
(fail safe), and the verdict says which it was.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from workers.policy.identity import canonical
from workers.policy.model import SLO, BudgetState, PolicyFile


@dataclass(frozen=True)
class BudgetVerdict:
    state: BudgetState
    reason: str


class NoNumber(Exception):
    """Prometheus gave no usable number; the message says how."""


class Governor:
    def __init__(
        self,
        policy: PolicyFile | Callable[[], PolicyFile],
        prometheus_url: str | None,
        http: httpx.Client | None = None,
    ) -> None:
        self._policy = policy
        self.url = prometheus_url.rstrip("/") if prometheus_url else None
        self.http = http or httpx.Client(timeout=5.0)

    @property
    def policy(self) -> PolicyFile:
        return self._policy if isinstance(self._policy, PolicyFile) else self._policy()

    def state(self, service: str) -> BudgetVerdict:
        policy = self.policy
        name = canonical(service)
        slo = next((s for k, s in policy.slos.items() if canonical(k) == name), None)
        if slo is None:
            return BudgetVerdict(
                "healthy", f"no SLO for {name or 'this service'}: the policy applies as written"
            )
        if self.url is None:
            return BudgetVerdict("burning", "PROMETHEUS_URL is not set: treated as burning (fail safe)")
        try:
            return self._evaluate(name, slo, policy)
        except NoNumber as exc:
            return BudgetVerdict(
                "burning", f"Prometheus {exc} for {name}'s SLI: treated as burning (fail safe)"
            )

    def _evaluate(self, service: str, slo: SLO, policy: PolicyFile) -> BudgetVerdict:
        budget = 1 - slo.objective / 100
        spent = self._ratio(slo, slo.window)
        if spent >= budget:
            return BudgetVerdict("exhausted", f"{service} used its whole error budget over {slo.window}")
        for rule in policy.burn_rates:
            long, short = self._ratio(slo, rule.long), self._ratio(slo, rule.short)
            if long / budget > rule.factor and short / budget > rule.factor:
                return BudgetVerdict(
                    "burning", f"{service} burns {long / budget:.1f}× over {rule.long} (limit {rule.factor}×)"
                )
        return BudgetVerdict("healthy", f"{service} within its error budget ({spent / budget:.0%} used)")

    def _ratio(self, slo: SLO, window: str) -> float:
        query = slo.error_ratio_query.replace("{window}", window)
        try:
            resp = self.http.get(f"{self.url}/api/v1/query", params={"query": query})
        except httpx.HTTPError as exc:
            raise NoNumber(f"unreachable ({type(exc).__name__})") from exc
        if resp.status_code != 200:
            raise NoNumber(f"answered HTTP {resp.status_code}")
        try:
            body: Any = resp.json()
        except ValueError as exc:
            raise NoNumber("answered something that is not JSON") from exc
        return _value(body)


def _value(body: Any) -> float:
    """The first sample's value of an instant-vector answer; NoNumber for anything else."""
    if not isinstance(body, dict) or body.get("status") != "success":
        status = body.get("status") if isinstance(body, dict) else type(body).__name__
        raise NoNumber(f"answered status {str(status)[:40]!r}")
    data = body.get("data")
    result = data.get("result") if isinstance(data, dict) else None
    if not isinstance(result, list):
        raise NoNumber("answered an unexpected shape")
    if not result:
        raise NoNumber("has no data")
    sample = result[0].get("value") if isinstance(result[0], dict) else None
    if not isinstance(sample, list) or len(sample) != 2:
        raise NoNumber("answered an unexpected shape")
    try:
        value = float(sample[1])
    except (TypeError, ValueError) as exc:
        raise NoNumber(f"answered a value that is not a number ({str(sample[1])[:20]!r})") from exc
    if math.isnan(value) or value < 0:
        raise NoNumber(f"answered {value} (no traffic, or not a ratio)")
    return value
