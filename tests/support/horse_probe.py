"""A job for the worker tests, run by a real worker: what its work horse has in memory as it starts.

It imports nothing of the project, so what it finds loaded was loaded by the worker before the fork.
"""

from __future__ import annotations

import os
import sys
from typing import Any

# (module, function): caches the warm-up fills once per worker process
CACHES = (
    ("workers.evidence.sources._http", "tls_context"),
    ("workers.evidence.sources.cloudwatch", "service_models"),
)


def loaded(names: list[str]) -> dict[str, Any]:
    """Which of `names` are imported, how full each cache is (None: its module is not loaded), and
    the horse's parent process."""
    caches = {}
    for module, function in CACHES:
        found = sys.modules.get(module)
        caches[function] = getattr(found, function).cache_info().currsize if found else None
    return {"modules": {n: n in sys.modules for n in names}, "caches": caches, "ppid": os.getppid()}
