"""YAML configuration files validated by a Pydantic model, every problem reported as `file:line: message`.

Files are read with limits: a file over `MAX_FILE_BYTES` is refused before it is read, text must be
UTF-8, a key may appear once per mapping (a later duplicate would silently win), and aliases may not
expand the document past `MAX_NODES` nodes (a "billion laughs" file is refused, not expanded).
"""

from __future__ import annotations

from collections.abc import Hashable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from workers.errors import ConfigError

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
M = TypeVar("M", bound=BaseModel)
MAX_FILE_BYTES = 1_000_000
MAX_NODES = 100_000


class LimitError(yaml.MarkedYAMLError):  # type: ignore[misc]
    """A document this loader refuses: a duplicate key, too many nodes once aliases expand."""


class StrictLoader(yaml.SafeLoader):  # type: ignore[misc]
    """The safe loader, refusing duplicate keys (merge keys `<<:` excepted)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if isinstance(key, Hashable) and key in seen:
                raise LimitError(
                    problem=f"duplicate key {key!r} (first on line {seen[key]}): a later one would "
                    "silently replace the first; keep one",
                    problem_mark=key_node.start_mark,
                )
            if isinstance(key, Hashable):
                seen[key] = line
        mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        return mapping


def _expanded(node: yaml.Node, sizes: dict[int, int]) -> int:
    """How many nodes `node` stands for once every alias is expanded (shared nodes counted once each)."""
    if id(node) not in sizes:
        sizes[id(node)] = MAX_NODES + 1  # a node reached again while being counted is recursive
        if isinstance(node, yaml.SequenceNode):
            total = 1 + sum(_expanded(child, sizes) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            total = 1 + sum(_expanded(k, sizes) + _expanded(v, sizes) for k, v in node.value)
        else:
            total = 1
        sizes[id(node)] = min(total, MAX_NODES + 1)
    return sizes[id(node)]


def load_yaml(text: str, limit: int = MAX_FILE_BYTES) -> Any:
    """`text` as data under the limits above; a `yaml.YAMLError` (with its line) when refused."""
    if len(text) > limit:
        raise LimitError(problem=f"over {limit / 1e6:g} MB of YAML")
    loader = StrictLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded(node, {}) > MAX_NODES:
            bomb = f"aliases expand it past {MAX_NODES:,} nodes (a YAML bomb, or an alias inside itself)"
            raise LimitError(problem=bomb, problem_mark=node.start_mark)
        return loader.construct_document(node)
    except RecursionError:
        raise LimitError(problem="nested too deeply (or a recursive alias)") from None
    finally:
        loader.dispose()


def read_config(path: Path, setting: str, limit: int = MAX_FILE_BYTES) -> str:
    """The text of the file `setting` names, or a `ConfigError`: unreadable, larger than `limit`
    (refused from its size, unread), or not UTF-8 (with the line of the first bad byte)."""
    try:
        size = path.stat().st_size
        if size > limit:
            over = f"{size / 1e6:.1f} MB, over the {limit / 1e6:g} MB limit"
            raise ConfigError([f"{setting}: {path} is {over}: is it the right file?"])
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError([f"{setting}: cannot read {path}: {exc.strerror}"]) from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            [f"{path}:{line}: not UTF-8 text (byte 0x{data[exc.start]:02x}): save the file as UTF-8"]
        ) from exc


def validated(path: Path, text: str, model: type[M], shape: str) -> M:
    """`text` (read from `path`) as a `model`, or a `ConfigError` naming the file and line of each
    problem; `shape` says what the file should be when it is not a mapping at all."""
    try:
        data = load_yaml(text) or {}
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
