"""Where drafts live: the full draft in Redis (one per incident, versioned), and a record of it in
the knowledge base so the next triage finds it."""

from __future__ import annotations

import json

import redis

from workers.knowledge.model import IncidentRecord
from workers.knowledge.store import KnowledgeStore
from workers.postmortem.model import PostmortemDraft
from workers.postmortem.render import markdown
from workers.redisconn import as_text


def _key(incident_id: str, part: str = "") -> str:
    return f"ic:postmortem:{incident_id}" + (f":{part}" if part else "")


class DraftStore:
    def __init__(self, client: redis.Redis) -> None:
        self._r = client

    def get(self, incident_id: str) -> PostmortemDraft | None:
        raw = self._r.get(_key(incident_id))
        return PostmortemDraft.model_validate_json(raw) if raw is not None else None

    def save(self, pm: PostmortemDraft, kb: KnowledgeStore) -> PostmortemDraft:
        """Store a new version of the incident's draft (a re-draft replaces the previous one and
        needs a new review) and its knowledge-base record."""
        previous = self.get(pm.incident_id)
        pm = pm.model_copy(
            update={"version": previous.version + 1 if previous else 1, "review": "draft", "reviewed_by": ""}
        )
        if previous and not pm.link:
            pm.link = previous.link
        self._r.set(_key(pm.incident_id), pm.model_dump_json())
        kb.upsert([to_record(pm)])
        return pm

    def mark_reviewed(self, incident_id: str, by: str, kb: KnowledgeStore) -> PostmortemDraft | None:
        pm = self.get(incident_id)
        if pm is None:
            return None
        pm = pm.model_copy(update={"review": "reviewed", "reviewed_by": by})
        self._r.set(_key(incident_id), pm.model_dump_json())
        kb.upsert([to_record(pm)])
        return pm

    def set_link(self, incident_id: str, link: str, kb: KnowledgeStore) -> None:
        """Where the summary message is, once posted: kept on the draft and its record."""
        pm = self.get(incident_id)
        if pm is not None:
            pm = pm.model_copy(update={"link": link})
            self._r.set(_key(incident_id), pm.model_dump_json())
            kb.upsert([to_record(pm)])

    def slack_refs(self, incident_id: str) -> dict[str, str]:
        """Where the draft was posted: `channel`, `ts` of the summary message."""
        raw = self._r.hgetall(_key(incident_id, "slack")) or {}
        return {as_text(k): as_text(v) for k, v in raw.items()}

    def set_slack_refs(self, incident_id: str, **refs: str) -> None:
        self._r.hset(_key(incident_id, "slack"), mapping=refs)  # type: ignore[arg-type]

    def lock(self, incident_id: str) -> redis.lock.Lock:
        """One drafting at a time per incident (a button and an archive event may race)."""
        lock: redis.lock.Lock = self._r.lock(_key(incident_id, "lock"), timeout=1800, blocking_timeout=1800)
        return lock


def to_record(pm: PostmortemDraft) -> IncidentRecord:
    confirmed = [n.statement for n in pm.decision_tree if n.state == "confirmed"]
    items = [i.text for i in pm.prose.action_items]
    return IncidentRecord(
        id=pm.incident_id,
        title=pm.title,
        started_at=pm.started_at,
        resolved_at=pm.resolved_at,
        services=pm.services,
        summary=pm.prose.summary,
        symptoms=[t.symptom for t in pm.triplets] or ([pm.title] if pm.title else []),
        root_causes=confirmed or [c for c in pm.prose.root_causes if not c.startswith("✍️")],
        trigger=pm.prose.trigger if not pm.prose.trigger.startswith("✍️") else "",
        resolution=pm.prose.resolution,
        action_items=items,
        tags=["postmortem", pm.mode],
        log_signature=pm.log_signature,
        links=[pm.link] if pm.link else [],
        triplets=pm.triplets,
        source_file=f"slack:{pm.channel_id}",
        provenance="bot",
        review=pm.review,
        body=markdown(pm, appendix=False),
    )


def triplet_rows(kb: KnowledgeStore, drafts: DraftStore) -> list[dict[str, object]]:
    """One JSON-able row per triplet in the knowledge base, with its provenance and, for the bot's
    own postmortems, the decision tree that led to it."""
    rows: list[dict[str, object]] = []
    for r in kb.all():
        pm = drafts.get(r.id) if r.provenance == "bot" else None
        tree = [n.model_dump(mode="json") for n in pm.decision_tree] if pm else []
        for t in r.triplets:
            rows.append(
                {
                    "record_id": r.id,
                    "title": r.title,
                    **t.model_dump(mode="json"),
                    "provenance": r.provenance,
                    "source": r.source_file,
                    "review": r.review,
                    "services": r.services,
                    "decision_tree": tree,
                }
            )
    return rows


def dumps_rows(rows: list[dict[str, object]]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
