"""YAML configuration files validated by a Pydantic model, every problem reported as `file:line: message`."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from workers.errors import ConfigError

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
M = TypeVar("M", bound=BaseModel)


def validated(path: Path, text: str, model: type[M], shape: str) -> M:
    """`text` (read from `path`) as a `model`, or a `ConfigError` naming the file and line of each
    problem; `shape` says what the file should be when it is not a mapping at all."""
    try:
        data = yaml.load(text, Loader=_Loader) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError([f"{path}{line}: malformed YAML: {getattr(exc, 'problem', exc)}"]) from exc
    if not isinstance(data, dict):
        raise ConfigError([f"{path}:1: {shape}"])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        root = yaml.compose(text, Loader=_Loader)
        raise ConfigError(
            [
                f"{path}:{node_line(root, e['loc'])}: {'.'.join(map(str, e['loc'])) or '(file)'}: {e['msg']}"
                for e in exc.errors()
            ]
        ) from exc


def node_line(node: Any, loc: tuple[int | str, ...]) -> int:
    """The 1-based line of the deepest node of `loc` that exists in the composed YAML `node`."""
    line = int(node.start_mark.line) + 1 if node is not None else 1
    for step in loc:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == str(step)), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
            node = node.value[step]
        else:
            node = None
        if node is None:
            break
        line = int(node.start_mark.line) + 1
    return line
