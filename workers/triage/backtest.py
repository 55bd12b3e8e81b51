"""Replay the knowledge base's past incidents through the engine, each with itself left out.

Per incident: its symptom text (else summary or title) as the /triage text; its logs when stored
(`LOGS/<id>/logs/*.log` and `LOGS/<id>/baseline/*.log`), else its recorded log signature as the only
evidence. A hypothesis is right when it cites a past incident with the same cause label (as
`kb calibrate` labels them), or when the vocabulary mechanism its claim names is the one the
incident's root cause names. An incident should be called novel when no other record shares its label.
Works in whichever mode the engine runs (evidence-only, or the LLM when one is configured).
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from workers.evidence.local import digest_files
from workers.knowledge.calibrate import cause_labels, feedback_groups
from workers.knowledge.model import IncidentRecord
from workers.knowledge.service import KnowledgeDeps
from workers.llm.budget import Budget
from workers.models import EvidenceEntry, EvidenceView, IncidentContext, TriageRequest, Window
from workers.redaction import ConsistentRedactor, EgressRecord
from workers.settings import Settings
from workers.triage.engine import Engine
from workers.triage.report import Hypothesis
from workers.triage.views import evidence_view
from workers.triage.vocabulary import Vocabulary, default_vocabulary


@dataclass
class Replay:
    record_id: str
    label: str
    evidence: str  # "logs", "signature" or "none"
    first: bool
    top3: bool
    confidence: str
    should_be_novel: bool
    novel: bool
    claim: str


@dataclass
class Backtest:
    replays: list[Replay] = field(default_factory=list)
    unlabelled: int = 0
    mode: str = ""

    def share(self, attr: str) -> float:
        return sum(bool(getattr(r, attr)) for r in self.replays) / len(self.replays) if self.replays else 0.0

    def novelty(self) -> tuple[float, float]:
        """Precision and recall of calling an incident novel (1.0 when there is nothing to get wrong)."""
        said = [r for r in self.replays if r.novel]
        due = [r for r in self.replays if r.should_be_novel]
        hits = sum(r.should_be_novel for r in said)
        return (hits / len(said) if said else 1.0, hits / len(due) if due else 1.0)

    def calibration(self) -> dict[str, tuple[int, float]]:
        """Per stated confidence of the first hypothesis: how many, and the share that was right."""
        groups: dict[str, list[bool]] = defaultdict(list)
        for r in self.replays:
            groups[r.confidence].append(r.first)
        return {c: (len(v), sum(v) / len(v)) for c, v in sorted(groups.items())}


def _signature_view(record: IncidentRecord) -> EvidenceView | None:
    if not record.log_signature:
        return None
    entries = [
        EvidenceEntry(template_id=f"S{n}", kind="new", severity="unknown", count=1, template=s, exemplar=s)
        for n, s in enumerate(record.log_signature)
    ]
    service = record.services[0] if record.services else ""
    return EvidenceView(service=service, entries=entries, tokens=0, budget_tokens=0, encoding="", exact=False)


def _evidence(
    record: IncidentRecord, logs: Path | None, settings: Settings
) -> tuple[EvidenceView | None, str, Window]:
    """The evidence to replay with, what it came from, and the incident window."""
    at = record.started_at or datetime.now(UTC)
    window = Window(start=at - timedelta(minutes=30), end=at)
    folder = logs / record.id if logs is not None else None
    if folder is not None and (folder / "logs").is_dir():
        incident = [str(p) for p in sorted((folder / "logs").glob("*.log*"))]
        baseline = [str(p) for p in sorted((folder / "baseline").glob("*.log*"))]
        digest = asyncio.run(digest_files(_said(record), incident, baseline, settings))
        service = record.services[0] if record.services else ""
        window = Window(start=digest.incident.start, end=digest.incident.end)
        return evidence_view(digest, service, digest.sources), "logs", window
    view = _signature_view(record)
    return view, "signature" if view else "none", window


def _said(record: IncidentRecord) -> str:
    return " ".join(record.symptoms) or record.summary or record.title


def _right(h: Hypothesis, label: str, expected: str, labels: dict[str, str], vocabulary: Vocabulary) -> bool:
    cited = any(r.kind == "incident" and labels.get(r.id) == label for r in h.evidence)
    return cited or bool(expected and vocabulary.cause_of(h.statement) == expected)


def backtest(
    knowledge: KnowledgeDeps,
    engine: Engine,
    settings: Settings,
    *,
    logs: Path | None = None,
    vocabulary: Vocabulary | None = None,
) -> Backtest:
    vocabulary = vocabulary or default_vocabulary()
    knowledge.refresh()
    records = knowledge.store.all()
    labels, _ = cause_labels(records, vocabulary, feedback_groups(knowledge.feedback.client))
    per_label = Counter(labels.values())
    result = Backtest(unlabelled=len(records) - len(labels))
    for record in records:
        label = labels.get(record.id)
        if label is None:
            continue
        view, evidence, window = _evidence(record, logs, settings)
        request = TriageRequest.offline(
            f"backtest-{record.id}"[:64], record.id, "backtest", _said(record), window
        )
        ctx = IncidentContext(
            request=request,
            incident=None,
            channel_name="backtest",
            requester_name="",
            evidence=view,
            knowledge=knowledge.for_evidence(request.text, view, exclude=record.id),
            llm_configured=settings.llm.configured,
        )
        report = engine.report(ctx, Budget.for_severity(settings.llm, ""), ConsistentRedactor(), _no_egress)
        result.mode = report.mode
        expected = vocabulary.cause_of(" ".join([*record.root_causes, record.title]))
        right = [_right(h, label, expected, labels, vocabulary) for h in report.hypotheses]
        top = report.hypotheses[0] if report.hypotheses else None
        result.replays.append(
            Replay(
                record_id=record.id,
                label=label,
                evidence=evidence,
                first=bool(right[:1] and right[0]),
                top3=any(right[:3]),
                confidence=top.confidence if top else "none",
                should_be_novel=per_label[label] == 1,
                novel=report.novel,
                claim=top.statement if top else "",
            )
        )
    return result


def _no_egress(_record: EgressRecord) -> None:
    """Backtests run inside the network; what an LLM call sends is logged by the client as usual."""
