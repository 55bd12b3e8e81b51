"""What the listeners need, built once by the composition root and injected by middleware."""

from __future__ import annotations

from dataclasses import dataclass

import redis

from workers.incidents import IncidentStore
from workers.knowledge.service import KnowledgeDeps
from workers.policy.ladder import Ladder
from workers.settings import Settings
from workers.triage.board import Board


@dataclass(frozen=True)
class BotDeps:
    settings: Settings
    redis: redis.Redis
    incidents: IncidentStore
    board: Board
    knowledge: KnowledgeDeps | None = None
    ladder: Ladder | None = None
