"""The knowledge base as the bot and the worker use it: one store, one index kept fresh, feedback."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import redis

from workers.knowledge import calibrate as calibration
from workers.knowledge.feedback import FeedbackStore
from workers.knowledge.search import NOVELTY_THRESHOLD, KnowledgeIndex, Match, novelty
from workers.knowledge.store import KnowledgeStore
from workers.models import EvidenceView, KnowledgeView, SimilarIncident
from workers.settings import LLMSettings
from workers.triage.vocabulary import Term, default_vocabulary

EMBEDDINGS_TIMEOUT_S = 10
SIGNATURE_IN_QUERY = 5  # templates added to the search text
ANOMALOUS = ("new", "surging")


@dataclass
class KnowledgeDeps:
    store: KnowledgeStore
    index: KnowledgeIndex
    feedback: FeedbackStore
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def build(cls, client: redis.Redis, llm: LLMSettings) -> KnowledgeDeps:
        """Dense embeddings join the ranking only when an embeddings model is configured."""
        embedder = None
        if llm.embeddings_model and llm.base_url:
            from workers.knowledge.embeddings import HttpEmbedder  # httpx: only when dense search is on

            key = llm.api_key.get_secret_value() if llm.api_key else None
            embedder = HttpEmbedder(llm.base_url, llm.embeddings_model, key, timeout_s=EMBEDDINGS_TIMEOUT_S)
        return cls(
            store=KnowledgeStore(client),
            index=KnowledgeIndex(embedder=embedder),
            feedback=FeedbackStore(client),
        )

    def refresh(self) -> None:
        with self._lock:
            self.index.refresh(self.store)

    def _matches(
        self, text: str, signature: Sequence[str], service: str, k: int, exclude: str = ""
    ) -> list[Match]:
        with self._lock:  # the bot searches from many threads; the index refreshes in place
            self.index.refresh(self.store)
            return self.index.search(
                text,
                signature=signature,
                services=[service] if service else [],
                k=k,
                feedback=self.feedback,
                incident_type=service or "unknown",
                exclude=exclude,
            )

    def search(self, text: str, *, k: int = 8) -> list[SimilarIncident]:
        return [_similar(m) for m in self._matches(text, (), "", k)]

    def similar(
        self,
        text: str,
        signature: Sequence[str],
        service: str,
        k: int = calibration.NEAREST,
        shown: Sequence[Term] = (),
        exclude: str = "",
    ) -> KnowledgeView:
        """Past incidents above the novelty threshold, and whether this incident looks novel, by the
        rule and threshold `kb calibrate` chose by leave-one-out (else the default rule and threshold):
        under `score+cause`, not novel when a past incident among the `k` nearest had, as its root
        cause, a mechanism or change the evidence `shown` names, whatever its score."""
        matches = self._matches(text, signature, service, k, exclude)
        cal = calibration.load(self.feedback.client)
        calibrated = cal is not None and cal.calibrated
        threshold = cal.threshold if cal is not None and calibrated else NOVELTY_THRESHOLD
        rule = cal.rule if cal is not None and calibrated else calibration.DEFAULT_RULE
        how = (
            f"rule {rule} by leave-one-out on {cal.queried} past incidents"
            if cal and calibrated
            else "default"
        )
        verdict = novelty(matches, threshold=threshold, how=how)
        above = [m for m in matches if m.score > threshold]
        reason = verdict.reason
        vocabulary = default_vocabulary()
        same = calibration.same_cause(matches, shown, vocabulary) if rule == "score+cause" else None
        if verdict.novel and same is not None:
            cause = {t.id: t.name for t in shown}[vocabulary.cause_of(f"{same.root_cause} {same.title}")]
            reason = (
                f"{same.record_id} had the same cause ({cause}) as today's logs show, although its "
                f"score {same.score:.2f} is below the novelty threshold {threshold:.2f}"
            )
            above = [same]
        return KnowledgeView(
            incident_type=service or "unknown",
            matches=[_similar(m) for m in above],
            novelty=verdict.score,
            novel=verdict.novel and same is None,
            reason=reason,
        )

    def for_evidence(self, text: str, view: EvidenceView | None, exclude: str = "") -> KnowledgeView:
        """What /triage and `incident-copilot triage` ask: past incidents like this one, by what was
        said, the mechanisms the logs show and the log templates that are new or surging (`exclude`:
        a past incident to leave out, when it is the one being replayed)."""
        signature = evidence_signature(view)
        anomalous = [e.exemplar or e.template for e in view.entries if e.kind in ANOMALOUS] if view else []
        shown = default_vocabulary().terms_in(anomalous)
        query = " ".join([text, *(t.name for t in shown), *signature[:SIGNATURE_IN_QUERY]]).strip()
        return self.similar(query, signature, view.service if view else "", shown=shown, exclude=exclude)

    def calibrate(self) -> calibration.Calibration:
        """Leave-one-out over the whole knowledge base (streamed from the store); stored, so every
        process uses the rule and threshold it chose."""
        with self._lock:
            self.index.refresh(self.store)
            groups = calibration.feedback_groups(self.feedback.client)
            result = calibration.calibrate(self.index, self.store.iter_records, groups=groups)
        result.kb_version = self.store.version()
        calibration.save(self.feedback.client, result)
        return result


def evidence_signature(view: EvidenceView | None) -> list[str]:
    """An incident's log signature: the templates that are new or surging."""
    return [e.template for e in view.entries if e.kind in ANOMALOUS] if view else []


def _similar(m: Match) -> SimilarIncident:
    return SimilarIncident(
        record_id=m.record_id,
        title=m.title,
        score=m.score,
        snippet=m.snippet,
        root_cause=m.root_cause,
        fix=m.fix,
        signature=m.parts.get("signature", 0.0),
        link=m.link,
    )
