"""What one investigation may spend on the LLM: tokens, money and wall time, scaled by severity."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from workers.settings import LLMSettings

SEVERITY_SCALE = {"1": 2.0, "2": 1.5, "3": 1.0, "4": 0.5}
_SEV = re.compile(r"\b(?:sev|p)\s*-?\s*([1-4])\b", re.I)


def severity_scale(severity: str) -> float:
    """SEV1/P1 ×2, SEV2 ×1.5, SEV3 or unknown ×1, SEV4 ×0.5, found anywhere in the text (a bare
    critical/high/medium/low word counts too)."""
    words = {"critical": "1", "high": "2", "medium": "3", "low": "4"}
    m = _SEV.search(severity)
    level = m.group(1) if m else words.get(severity.strip().lower(), "3")
    return SEVERITY_SCALE[level]


@dataclass
class Budget:
    tokens: int
    cost_usd: float
    seconds: float
    clock: Callable[[], float] = time.monotonic
    used_tokens: int = 0
    used_cost_usd: float = 0.0
    _started: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self._started = self.clock()

    @classmethod
    def for_severity(
        cls, settings: LLMSettings, severity: str, clock: Callable[[], float] = time.monotonic
    ) -> Budget:
        scale = severity_scale(severity)
        return cls(
            tokens=int(settings.budget_tokens * scale),
            cost_usd=settings.budget_cost_usd * scale,
            seconds=settings.budget_seconds * scale,
            clock=clock,
        )

    def charge(self, prompt_tokens: int, completion_tokens: int, cost_usd: float) -> None:
        self.used_tokens += prompt_tokens + completion_tokens
        self.used_cost_usd += cost_usd

    def remaining_tokens(self) -> int:
        return max(0, self.tokens - self.used_tokens)

    def remaining_seconds(self) -> float:
        return max(0.0, self.seconds - (self.clock() - self._started))

    def exhausted(self) -> str | None:
        """Why nothing more may be spent, or None."""
        if self.remaining_tokens() <= 0:
            return f"token budget of {self.tokens} spent"
        if self.cost_usd and self.used_cost_usd >= self.cost_usd:
            return f"cost budget of ${self.cost_usd:.2f} spent"
        if self.remaining_seconds() <= 0:
            return f"time budget of {self.seconds:.0f} s spent"
        return None

    def summary(self) -> dict[str, float | int]:
        return {
            "tokens": self.used_tokens,
            "token_budget": self.tokens,
            "cost_usd": round(self.used_cost_usd, 4),
            "seconds": round(self.seconds - self.remaining_seconds(), 2),
        }
