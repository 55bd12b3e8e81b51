"""The log pipeline's per-line modules, compiled to C by mypyc when the package is installed (setup.py).

Python imports a compiled module in preference to its source, so after editing one of these files the
compiled copy must be rebuilt (`pip install -e .` again) or the edit has no effect: `stale` finds them.
"""

from __future__ import annotations

import sys
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

COMPILED = (
    "workers/evidence/model.py",
    "workers/evidence/numbers.py",
    "workers/evidence/records.py",
    "workers/evidence/templates.py",
    "workers/evidence/timestamps.py",
    "workers/evidence/sources/filereader.py",
    "workers/redaction.py",
)
ROOT = Path(__file__).resolve().parent.parent


def _module(path: str) -> str:
    return path.removesuffix(".py").replace("/", ".")


def compiled() -> list[str]:
    """The modules of `COMPILED` that this process runs compiled."""
    return [
        name
        for name in map(_module, COMPILED)
        if (module := sys.modules.get(name)) is not None
        and str(getattr(module, "__file__", "")).endswith(tuple(EXTENSION_SUFFIXES))
    ]


def stale(root: Path = ROOT) -> list[str]:
    """Sources edited after their compiled copy next to them was built (an editable install's)."""
    found = []
    for path in COMPILED:
        source = root / path
        builds = [source.with_suffix(suffix) for suffix in EXTENSION_SUFFIXES]
        built = [b.stat().st_mtime for b in builds if b.exists()]
        if built and source.stat().st_mtime > min(built):
            found.append(path)
    return found
