"""The error-budget governor: burn rates from Prometheus's HTTP API → healthy, burning or exhausted.

Burning: any multiwindow rule fires (both its long and short windows burn faster than its factor;
the SRE workbook's 14.4× over 1 h / 5 m and 6× over 6 h / 30 m by default). Exhausted: the error
ratio over the SLO window has used the whole budget. Prometheus unreachable, or no data, counts as
burning (fail safe) and says so. Results are cached for one evaluation period.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from workers.policy.model import SLO, BudgetState, PolicyFile

CACHE_S = 60.0


@dataclass(frozen=True)
class BudgetVerdict:
    state: BudgetState
    reason: str


class Governor:
    def __init__(
        self,
        policy: PolicyFile,
        prometheus_url: str | None,
        http: httpx.Client | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.policy = policy
        self.url = prometheus_url.rstrip("/") if prometheus_url else None
        self.http = http or httpx.Client(timeout=5.0)
        self.clock = clock
        self._cache: dict[str, tuple[float, BudgetVerdict]] = {}

    def state(self, service: str) -> BudgetVerdict:
        slo = self.policy.slos.get(service)
        if slo is None:
            return BudgetVerdict(
                "healthy", f"no SLO for {service or 'this service'}: the policy applies as written"
            )
        cached = self._cache.get(service)
        if cached is not None and self.clock() - cached[0] < CACHE_S:
            return cached[1]
        verdict = self._evaluate(service, slo)
        self._cache[service] = (self.clock(), verdict)
        return verdict

    def _evaluate(self, service: str, slo: SLO) -> BudgetVerdict:
        if self.url is None:
            return BudgetVerdict("burning", "PROMETHEUS_URL is not set: treated as burning (fail safe)")
        budget = 1 - slo.objective / 100
        try:
            spent = self._ratio(slo, slo.window)
            if spent is not None and spent >= budget:
                return BudgetVerdict("exhausted", f"{service} used its whole error budget over {slo.window}")
            for rule in self.policy.burn_rates:
                long, short = self._ratio(slo, rule.long), self._ratio(slo, rule.short)
                if long is None or short is None:
                    return BudgetVerdict(
                        "burning", f"no data for {service}'s SLI: treated as burning (fail safe)"
                    )
                if long / budget > rule.factor and short / budget > rule.factor:
                    return BudgetVerdict(
                        "burning",
                        f"{service} burns {long / budget:.1f}× over {rule.long} (limit {rule.factor}×)",
                    )
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            return BudgetVerdict(
                "burning", f"Prometheus unreachable ({type(exc).__name__}): treated as burning"
            )
        if spent is None:
            return BudgetVerdict("burning", f"no data for {service}'s SLI: treated as burning (fail safe)")
        return BudgetVerdict("healthy", f"{service} within its error budget ({spent / budget:.0%} used)")

    def _ratio(self, slo: SLO, window: str) -> float | None:
        query = slo.error_ratio_query.replace("{window}", window)
        resp = self.http.get(f"{self.url}/api/v1/query", params={"query": query})
        resp.raise_for_status()
        result = resp.json()["data"]["result"]
        if not result:
            return None
        value = float(result[0]["value"][1])
        return None if value != value else value  # NaN: no traffic, no data
