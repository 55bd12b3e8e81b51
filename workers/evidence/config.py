"""Which log sources exist and which serve each service: a YAML file named by `EVIDENCE_SOURCES_FILE`.

    default_service: checkout-api         # used when /triage names no known service
    sources:
      - name: app-logs
        type: files
        paths: ["/var/log/{service}/*.log*"]
      - name: loki
        type: loki
        url: http://loki.monitoring:3100
        query: '{app="{service}"}'
        timeout_s: 10
    services:                             # optional: a service's sources (default: all of them)
      checkout-api: [loki]

`{service}` in paths and queries is replaced by the service being triaged. A malformed file is
rejected at load with the line at fault.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from workers.errors import ConfigError
from workers.evidence.model import LogSource
from workers.yamllines import load_yaml, read_config


class _Source(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    timeout_s: float = Field(10, gt=0, le=300)
    max_lines: int | None = Field(None, ge=1, description="lines per window; default EVIDENCE_MAX_LINES")


class FilesConfig(_Source):
    type: Literal["files"]
    paths: list[str] = Field(min_length=1)


class LokiConfig(_Source):
    type: Literal["loki"]
    url: str
    query: str
    tenant: str | None = None


class ElasticsearchConfig(_Source):
    type: Literal["elasticsearch", "opensearch"]
    url: str
    index: str
    query: str
    timestamp_field: str = "@timestamp"
    message_field: str = "message"


class CloudWatchConfig(_Source):
    type: Literal["cloudwatch"]
    log_group: str
    filter_pattern: str = ""
    region: str = "us-east-1"
    endpoint_url: str | None = None


class KubernetesConfig(_Source):
    type: Literal["kubernetes"]
    namespace: str
    selector: str
    container: str | None = None


SourceConfig = Annotated[
    FilesConfig | LokiConfig | ElasticsearchConfig | CloudWatchConfig | KubernetesConfig,
    Field(discriminator="type"),
]


class SourcesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    default_service: str = ""
    sources: list[SourceConfig] = Field(default_factory=list)
    services: dict[str, list[str]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_names(self) -> SourcesFile:
        names = [s.name for s in self.sources]
        if len(set(names)) != len(names):
            raise ValueError("source names must be unique")
        for service, wanted in self.services.items():
            unknown = sorted(set(wanted) - set(names))
            if unknown:
                raise ValueError(f"service {service!r} names unknown sources {unknown}")
        return self

    def service_in(self, text: str) -> str:
        """The first configured service named in `text`, else the default."""
        for service in sorted(self.services, key=len, reverse=True):
            if re.search(rf"(?<![\w-]){re.escape(service)}(?![\w-])", text):
                return service
        return self.default_service

    def for_service(self, service: str) -> list[SourceConfig]:
        wanted = self.services.get(service)
        return [s for s in self.sources if wanted is None or s.name in wanted]


def load_sources(path: Path) -> SourcesFile:
    """Parse and validate; every problem is reported with its line in the file."""
    text = read_config(path, "EVIDENCE_SOURCES_FILE")
    try:
        raw = load_yaml(text) or {}
        lines = _line_numbers(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise ConfigError([f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}"]) from exc
    try:
        return SourcesFile.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p in _TYPE_TAGS))
            line = lines.get(loc) or lines.get(loc[:-1]) or lines.get(loc[:1])
            where = f"{path}:{line}" if line else str(path)
            dotted = ".".join(str(p) for p in loc) or "(top level)"
            problems.append(f"{where}: {dotted}: {err['msg']}")
        raise ConfigError(problems) from exc


_TYPE_TAGS = {"files", "loki", "elasticsearch", "cloudwatch", "kubernetes"}


def _line_numbers(text: str) -> dict[tuple[Any, ...], int]:
    """Map each YAML path (keys and list indexes) to the 1-based line where it starts."""
    found: dict[tuple[Any, ...], int] = {}

    def walk(node: yaml.Node, path: tuple[Any, ...]) -> None:
        found.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                found[(*path, key.value)] = key.start_mark.line + 1
                walk(value, (*path, key.value))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, (*path, i))

    root = yaml.compose(text)
    if root is not None:
        walk(root, ())
    return found


def build_sources(configs: Sequence[SourceConfig], service: str) -> list[tuple[LogSource, int | None]]:
    """Instantiate each configured backend with `{service}` filled in, beside its own line cap."""
    from workers.evidence.sources import cloudwatch, elasticsearch, files, kubernetes, loki

    def fill(template: str) -> str:
        return template.replace("{service}", service)

    built: list[LogSource] = []
    for c in configs:
        match c:
            case FilesConfig():
                built.append(files.FileSource(c.name, [fill(p) for p in c.paths]))
            case LokiConfig():
                built.append(loki.LokiSource(c.name, c.url, c.query, timeout_s=c.timeout_s, tenant=c.tenant))
            case ElasticsearchConfig():
                built.append(
                    elasticsearch.ElasticsearchSource(
                        c.name,
                        c.url,
                        c.index,
                        c.query,
                        timeout_s=c.timeout_s,
                        timestamp_field=c.timestamp_field,
                        message_field=c.message_field,
                    )
                )
            case CloudWatchConfig():
                built.append(
                    cloudwatch.CloudWatchSource(
                        c.name,
                        c.log_group,
                        filter_pattern_template=c.filter_pattern,
                        region=c.region,
                        endpoint_url=c.endpoint_url,
                        timeout_s=c.timeout_s,
                    )
                )
            case KubernetesConfig():
                built.append(
                    kubernetes.KubernetesSource(
                        c.name, c.namespace, c.selector, container=c.container, timeout_s=c.timeout_s
                    )
                )
    return list(zip(built, [c.max_lines for c in configs], strict=True))
