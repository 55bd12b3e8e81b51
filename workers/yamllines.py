"""Where a validation error sits in a YAML file: the line of the node a Pydantic error location names."""

from __future__ import annotations

from typing import Any

import yaml


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
