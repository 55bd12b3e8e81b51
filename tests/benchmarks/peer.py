"""The previous release's engine, for benchmarks that print it beside this branch in the same run.

`PREVIOUS_RELEASE` is main just before issue 20's engine was merged (the first parent of merge
8672165): the release the triage and knowledge-base bars compare with. Its search needs bm25s, which
this release dropped from its dependencies; the `dev` extra installs it for this.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PREVIOUS_RELEASE = "8672165^1"


def export(ref: str, dest: Path) -> Path:
    """The source tree of `ref` in `dest` (created), by `git archive`."""
    dest.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(REPO), "archive", ref], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    return dest
