"""The one prompt loader: Jinja templates under `prompts/`, undefined variables are errors.

Each template starts with a header comment naming it and its version, for example
`{# name: triage/system  version: 3 #}`; the name, version and the hash of the rendered text go
into the report, so an answer can be traced to the exact prompt that produced it. Operators may
point `PROMPTS_DIR` at their own copy (a Helm ConfigMap); it is rendered in Jinja's sandbox.

Untrusted text (log lines, chat messages, past incidents) goes in through the `data` filter: one
JSON value whose strings cannot end the fence around them. Newlines and quotes are escaped as JSON
does; `</` becomes `<\\/`, the `|` of `<|…|>` chat-template markers and the `[` of `[INST]` become
`\\u` escapes, and so do line separators, bidi overrides and zero-width characters; the value
decodes to exactly the original. `render_fenced` names the fence with a random id per request and
checks that the rendered text holds it only where the template put it.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from workers.errors import PromptError

# Sequences a chat template or a fence could read as structure, and characters that hide text.
_RISKY = re.compile(
    r"</|<\||\|>|\[/?INST|<<SYS|<\|?/?s>|[\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]"
)
FENCE_TAGS = 2  # the opening and the closing tag


def _escape(found: re.Match[str]) -> str:
    text = found.group()
    if text == "</":
        return "<\\/"
    if len(text) == 1:
        return f"\\u{ord(text):04x}"
    return "".join(f"\\u{ord(c):04x}" if c in "|[<" else c for c in text[:2]) + text[2:]


def data(value: object) -> str:
    """`value` as JSON that no fence, role marker or chat-template token can be read out of."""
    return _RISKY.sub(_escape, json.dumps(value, ensure_ascii=False, default=str))


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
        self._env.filters["data"] = data

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

    def render_fenced(self, name: str, **variables: object) -> RenderedPrompt:
        """Render with a new random `fence` id, and make sure the text holds it only in the fence's
        two tags (the data cannot, being escaped; a template that misplaces it is an error)."""
        for _ in range(3):
            fence = secrets.token_hex(8)
            prompt = self.render(name, fence=fence, **variables)
            if prompt.text.count(fence) == FENCE_TAGS + 1:  # the tags and the line naming the id
                return prompt
        raise PromptError(
            f"prompt {name}.j2 must name its fence id once and use it in <evidence-{{{{ fence }}}}> and "
            "</evidence-{{ fence }}> only"
        )

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
