"""The playground's sample incidents: the demo's, and the ones bundled here. Each is a folder with a
`scenario.json` (channel, people, the conversation so far, a suggested `/triage`), `logs/*.log.gz`
recorded as if triaged at `LOGS_RECORDED_AT`, and optionally `kb/*.md` past incidents."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import yaml

from bot.demo.run import fill_times, shift_logs
from bot.localstack import LocalStack


@dataclass(frozen=True)
class Incident:
    name: str
    folder: Traversable
    scenario: dict[str, Any]

    @property
    def channel_id(self) -> str:
        return str(self.scenario["channel"]["id"])

    @property
    def channel_name(self) -> str:
        return str(self.scenario["channel"]["name"])

    @property
    def service(self) -> str:
        return str(self.scenario["service"])

    @property
    def kb(self) -> Traversable | None:
        kb = self.folder.joinpath("kb")
        return kb if kb.is_dir() else None


def bundled() -> list[Incident]:
    """The demo's incident first, then the playground's own, by name."""
    folders = [("checkout-latency", resources.files("bot.demo").joinpath("incident"))]
    own = resources.files("bot.playground").joinpath("incidents")
    folders += sorted(((f.name, f) for f in own.iterdir() if f.is_dir()), key=lambda item: item[0])
    return [
        Incident(name, folder, json.loads(folder.joinpath("scenario.json").read_text()))
        for name, folder in folders
    ]


def write_sources(incidents: list[Incident], workdir: Path, now: datetime) -> Path:
    """Stage every incident's logs as happening `now`, one log source each, and write the sources
    file that maps each incident's service to its source; return that file."""
    sources: list[dict[str, Any]] = []
    services: dict[str, list[str]] = {}
    for incident in incidents:
        logs = workdir / "logs" / incident.name
        shift_logs(incident.folder.joinpath("logs"), logs, now)
        sources.append({"name": incident.name, "type": "files", "paths": [f"{logs}/*.log.gz"]})
        services[incident.service] = [incident.name]
    path = workdir / "sources.yaml"
    path.write_text(
        yaml.safe_dump({"default_service": incidents[0].service, "sources": sources, "services": services})
    )
    return path


def seed(stack: LocalStack, incident: Incident, now: datetime) -> None:
    """Create the incident's channel and people, and deliver its conversation to the bot as the
    Events API would, so `/triage` reads it from the channel history."""
    ws = stack.standin.state
    for user in incident.scenario["users"]:
        ws.add_user(user["id"], user["name"], user["real_name"])
    ws.add_channel(incident.channel_id, incident.channel_name)
    driver = stack.driver()
    for line in incident.scenario["conversation"]:
        at = now - timedelta(minutes=line["minutes_ago"])
        text = fill_times(line["text"], now)
        ts = ws.add_message(incident.channel_id, line["user"], text, ts=f"{at.timestamp():.6f}")
        driver.message_event(incident.channel_id, line["user"], text, ts)


def triage_hint(incident: Incident, now: datetime) -> str:
    """The `/triage` the scenario suggests, with its times filled in."""
    return "/triage " + fill_times(incident.scenario["triage"]["text"], now)
