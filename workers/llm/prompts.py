"""The one prompt loader: Jinja templates under `prompts/`, undefined variables are errors.

Each template starts with a header comment naming it and its version, for example
`{# name: triage/system  version: 3 #}`; the name, version and the hash of the rendered text go
into the report, so an answer can be traced to the exact prompt that produced it. Operators may
point `PROMPTS_DIR` at their own copy (a Helm ConfigMap); it is rendered in Jinja's sandbox.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from workers.errors import PromptError

_HEADER = re.compile(r"^\{#\s*name:\s*(?P<name>[\w/.-]+)\s+version:\s*(?P<version>\d+)\s*#\}")


@dataclass(frozen=True)
class RenderedPrompt:
    name: str
    version: int
    sha256: str
    text: str


def packaged_dir() -> Path:
    return Path(str(resources.files("prompts")))


class PromptLoader:
    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or packaged_dir()
        self._env = SandboxedEnvironment(
            loader=jinja2.FileSystemLoader(str(self.directory)),
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def render(self, name: str, **variables: object) -> RenderedPrompt:
        path = f"{name}.j2"
        source = self._source(path)
        version = self._version(path, source)
        try:
            text = self._env.get_template(path).render(**variables)
        except jinja2.UndefinedError as exc:
            raise PromptError(f"prompt {path}: {exc.message}; pass it when rendering") from exc
        except jinja2.TemplateError as exc:
            raise PromptError(f"prompt {path}: {exc}") from exc
        return RenderedPrompt(name, version, hashlib.sha256(text.encode()).hexdigest(), text)

    def check(self) -> list[str]:
        """Every template parsed and its header read; the problems found, each naming its file."""
        problems = []
        for path in sorted(self.directory.rglob("*.j2")):
            rel = path.relative_to(self.directory).as_posix()
            try:
                source = path.read_text()
                self._version(rel, source)
                self._env.parse(source)
            except (PromptError, OSError, UnicodeDecodeError) as exc:
                problems.append(str(exc))
            except jinja2.TemplateSyntaxError as exc:
                problems.append(f"prompt {rel}, line {exc.lineno}: {exc.message}")
        return problems

    def compile_all(self) -> None:
        """Compile every template into the environment's cache now, not on its first render."""
        for path in self.directory.rglob("*.j2"):
            self._env.get_template(path.relative_to(self.directory).as_posix())

    def _source(self, path: str) -> str:
        try:
            return (self.directory / path).read_text()
        except OSError as exc:
            raise PromptError(f"prompt {path} not found in {self.directory}") from exc

    @staticmethod
    def _version(path: str, source: str) -> int:
        m = _HEADER.match(source)
        if m is None:
            raise PromptError(
                f"prompt {path}: the first line must be a header like "
                "'{# name: triage/system  version: 1 #}'"
            )
        if m.group("name") != path.removesuffix(".j2"):
            raise PromptError(f"prompt {path}: its header names it {m.group('name')!r}")
        return int(m.group("version"))
