"""Proposals in Redis; every state change is a compare-and-set, so a double click, a replayed
payload or two approvers at the same instant change a proposal once."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from datetime import datetime

import redis

from workers.proposals.model import Proposal, State
from workers.redisconn import as_text

TTL_S = 30 * 24 * 3600
INFLIGHT = "ic:proposals:inflight"  # approved or executing: id → when it got there (for the reconciler)


def _key(proposal_id: str) -> str:
    return f"ic:proposal:{proposal_id}"


def new_id() -> str:
    """Opaque and unguessable: a button value reveals nothing and cannot be forged from another. Hex,
    so that the redactor (which masks random-looking base64 runs) leaves it intact in a message."""
    return "P" + secrets.token_hex(16)


class ProposalStore:
    def __init__(self, client: redis.Redis) -> None:
        self._r = client

    def create(self, proposal: Proposal) -> None:
        self._r.set(_key(proposal.id), proposal.model_dump_json(), ex=TTL_S)

    def get(self, proposal_id: str) -> Proposal | None:
        if not proposal_id.startswith("P") or len(proposal_id) > 64:
            return None
        raw = self._r.get(_key(proposal_id))
        return Proposal.model_validate_json(raw) if raw is not None else None

    def update(
        self, proposal_id: str, change: Callable[[Proposal], Proposal | None]
    ) -> tuple[Proposal | None, bool]:
        """Apply `change` to the stored proposal atomically (retried when another writer got there
        first). `change` returns the new proposal, or None to leave it as it is. Returns the proposal
        as stored afterwards and whether this call changed it."""
        key = _key(proposal_id)
        with self._r.pipeline(transaction=True) as pipe:
            while True:
                try:
                    pipe.watch(key)  # type: ignore[no-untyped-call]
                    raw = pipe.get(key)
                    if raw is None:
                        pipe.unwatch()
                        return None, False
                    current = Proposal.model_validate_json(raw)
                    changed = change(current)
                    if changed is None:
                        pipe.unwatch()
                        return current, False
                    pipe.multi()
                    pipe.set(key, changed.model_dump_json(), keepttl=True)
                    if changed.state in ("approved", "executing"):
                        pipe.zadd(INFLIGHT, {changed.id: time.time()}, nx=True)
                    else:
                        pipe.zrem(INFLIGHT, changed.id)
                    pipe.execute()
                    return changed, True
                except redis.WatchError:
                    continue

    def transition(
        self, proposal_id: str, frm: State, to: State, **fields: object
    ) -> tuple[Proposal | None, bool]:
        """Move `frm` → `to` (setting `fields`) only if the proposal is in `frm` now."""

        def change(p: Proposal) -> Proposal | None:
            return p.model_copy(update={"state": to, **fields}) if p.state == frm else None

        return self.update(proposal_id, change)

    def expire_if_due(self, proposal_id: str, now: datetime) -> tuple[Proposal | None, bool]:
        def change(p: Proposal) -> Proposal | None:
            if p.state == "proposed" and now >= p.expires_at:
                return p.model_copy(update={"state": "expired", "reason": "the approval window passed"})
            return None

        return self.update(proposal_id, change)

    def inflight(self) -> list[tuple[str, float]]:
        """Proposals approved or executing, with the time they got there, oldest first."""
        rows: list[tuple[bytes | str, float]] = self._r.zrange(INFLIGHT, 0, -1, withscores=True)  # type: ignore[assignment]
        return [(as_text(i), float(t)) for i, t in rows]
