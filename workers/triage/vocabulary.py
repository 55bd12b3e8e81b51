"""The vocabulary of failure mechanisms and change events (`vocabulary.yaml` beside this module), as
data an SRE can read and extend; validated by Pydantic, errors name the file and line."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from workers.errors import ConfigError
from workers.yamllines import read_config, validated

DEFAULT_FILE = Path(__file__).with_name("vocabulary.yaml")


def _regexes(values: list[str]) -> list[str]:
    for n, value in enumerate(values):
        try:
            re.compile(value, re.I)
        except re.error as exc:
            raise ValueError(f"item {n}: not a regular expression ({exc}): {value!r}") from exc
    return values


class Term(BaseModel):
    """One mechanism or change event: how log lines and postmortems say it."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str = Field(min_length=3, max_length=80)
    summary: str = Field(default="", max_length=200)
    signatures: list[str] = Field(min_length=1)
    words: list[str] = Field(default_factory=list)
    min_count: int = Field(default=1, ge=1)

    _check_signatures = field_validator("signatures", "words")(_regexes)

    def matches(self, line: str) -> bool:
        return any(p.search(line) for p in _compiled(tuple(self.signatures)))

    def described_in(self, prose: str) -> bool:
        return any(p.search(prose) for p in _compiled(tuple(self.words)))


@cache
def _compiled(patterns: tuple[str, ...]) -> list[re.Pattern[str]]:
    return [re.compile(p, re.I) for p in patterns]


class Vocabulary(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    mechanisms: list[Term] = Field(default_factory=list)
    changes: list[Term] = Field(default_factory=list)

    def mechanism(self, line: str) -> Term | None:
        return next((t for t in self.mechanisms if t.matches(line)), None)

    def change(self, line: str) -> Term | None:
        return next((t for t in self.changes if t.matches(line)), None)

    def terms_in(self, lines: Sequence[str]) -> list[Term]:
        """The mechanisms and changes `lines` show, once each, in vocabulary order."""
        return [t for t in [*self.mechanisms, *self.changes] if any(t.matches(line) for line in lines)]

    def cause_of(self, prose: str) -> str:
        """The id of the first mechanism (else change) a postmortem's root-cause text describes, or ""."""
        term = next((t for t in [*self.mechanisms, *self.changes] if t.described_in(prose)), None)
        return term.id if term else ""


def load_vocabulary(path: Path = DEFAULT_FILE) -> Vocabulary:
    """The vocabulary in `path`, or a `ConfigError` listing every problem as `file:line: message`."""
    text = read_config(path, "EVIDENCE_VOCABULARY_FILE")
    vocabulary = validated(path, text, Vocabulary, "a vocabulary is a mapping (version, mechanisms, changes)")
    ids = [t.id for t in [*vocabulary.mechanisms, *vocabulary.changes]]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise ConfigError([f"{path}: ids must be unique among mechanisms and changes: {', '.join(repeated)}"])
    return vocabulary


_chosen: list[Vocabulary] = []


def use_vocabulary(path: Path | None) -> Vocabulary:
    """Load and check the operator's vocabulary (EVIDENCE_VOCABULARY_FILE) once at start-up, for
    every later `default_vocabulary()` in this process; None: the packaged one."""
    vocabulary = load_vocabulary(path) if path is not None else _packaged()
    _chosen[:] = [vocabulary]
    return vocabulary


def default_vocabulary() -> Vocabulary:
    """The vocabulary chosen at start-up, else the packaged one."""
    return _chosen[0] if _chosen else _packaged()


@cache
def _packaged() -> Vocabulary:
    return load_vocabulary()
