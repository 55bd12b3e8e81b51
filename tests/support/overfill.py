"""Triage contexts that overfill a context window, and a model that cites what it was shown: for the
context-window test and benchmark."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.support.prompt_evidence import items_of
from tests.unit.triage.context import context
from workers.evidence.digest import digest_logs
from workers.evidence.model import LogLine, TimeWindow
from workers.evidence.tokens import TokenCounter
from workers.models import ChannelMessage, IncidentContext
from workers.redaction import ConsistentRedactor
from workers.triage.views import evidence_view

START = datetime(2026, 3, 14, 10, 40, tzinfo=UTC)
WORDS = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november".split()  # noqa: SIM905


def citing_answer(body: dict[str, Any]) -> str:
    """A model that cites the first log template it was shown."""
    logs = items_of(body, "log")
    refs = [{"kind": "log", "id": logs[0]["id"]}] if logs else []
    summary = {"what": "errors", "cause": "unknown", "cause_confidence": "low", "next": "look at the logs"}
    hypothesis = {"statement": "the first template", "confidence": "low", "evidence": refs}
    return json.dumps({"summary": summary, "hypotheses": [hypothesis]})


def overfilled(tokens: int, counter: TokenCounter) -> IncidentContext:
    """A context whose digest alone is `tokens` tokens (distinct error templates, each quoted), with
    40 long channel messages besides."""
    lines = []
    for i in range(tokens // 20 + 10):
        head = "".join(chr(97 + (i // 26**k) % 26) for k in range(4))  # a leading word of its own
        words = " ".join(WORDS[(i + k) % len(WORDS)] for k in range(4))
        at = START + timedelta(seconds=i % 1700)
        lines.append(LogLine(f"{head} ERROR {words} failed {i} times on shard {i * 7}", ts=at))
    window = TimeWindow(START, START + timedelta(minutes=30))
    digest = digest_logs(
        lines, budget_tokens=tokens, counter=counter, redactor=ConsistentRedactor(), incident=window
    )
    text = "x y " * 60
    messages = [
        ChannelMessage(ts=f"1773485{i:03d}.000100", user="U1", author="Chen", text=f"update {i}: {text}")
        for i in range(40)
    ]
    view = evidence_view(digest, "payments-svc", ["app: ok"])
    return context().model_copy(update={"evidence": view, "messages": messages})
