"""The knowledge base as the bot and the worker use it: one store, one index kept fresh, feedback."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import redis

from workers.knowledge.embeddings import HttpEmbedder
from workers.knowledge.feedback import FeedbackStore
from workers.knowledge.search import NOVELTY_THRESHOLD, KnowledgeIndex, Match, novelty
from workers.knowledge.store import KnowledgeStore
from workers.models import KnowledgeView, SimilarIncident
from workers.settings import LLMSettings

EMBEDDINGS_TIMEOUT_S = 10


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

    def _matches(self, text: str, signature: Sequence[str], service: str, k: int) -> list[Match]:
        with self._lock:  # the bot searches from many threads; the index refreshes in place
            self.index.refresh(self.store)
            return self.index.search(
                text,
                signature=signature,
                services=[service] if service else [],
                k=k,
                feedback=self.feedback,
                incident_type=service or "unknown",
            )

    def search(self, text: str, *, k: int = 8) -> list[SimilarIncident]:
        return [_similar(m) for m in self._matches(text, (), "", k)]

    def similar(self, text: str, signature: Sequence[str], service: str, k: int = 5) -> KnowledgeView:
        matches = self._matches(text, signature, service, k)
        verdict = novelty(matches)
        return KnowledgeView(
            incident_type=service or "unknown",
            matches=[_similar(m) for m in matches if m.score > NOVELTY_THRESHOLD],
            novelty=verdict.score,
            novel=verdict.novel,
            reason=verdict.reason,
        )


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
