"""The composition root: builds every dependency once per process and hands it down.

RQ calls job functions by name, so the worker installs its `Runtime` before it starts and the
job entry points (and nothing else) look it up with `current()`.
"""

from __future__ import annotations

from dataclasses import dataclass

from slack_sdk import WebClient

from workers.incidents import IncidentStore
from workers.redisconn import RedisHandle, connect
from workers.settings import Settings
from workers.slack.client import make_client


@dataclass
class Runtime:
    settings: Settings
    redis: RedisHandle
    slack: WebClient
    incidents: IncidentStore

    @classmethod
    def build(cls, settings: Settings) -> Runtime:
        handle = connect(settings.redis)
        return cls(
            settings=settings,
            redis=handle,
            slack=make_client(settings.slack),
            incidents=IncidentStore(handle.client, settings.incident.channel_pattern),
        )

    def close(self) -> None:
        self.redis.close()


_installed: Runtime | None = None


def install(runtime: Runtime) -> None:
    global _installed
    _installed = runtime


def current() -> Runtime:
    if _installed is None:
        raise RuntimeError("no Runtime installed: jobs run inside `incident-copilot worker`")
    return _installed
