"""Per-job log context and the ownership mark that crash recovery reads."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rq import get_current_job

from workers.logconfig import unit_of_work


@contextmanager
def bind_job(kind: str, run_id: str, **context: str) -> Iterator[dict[str, Any]]:
    """Log context and canonical line for one job run (see `unit_of_work`)."""
    job = get_current_job()
    if job is not None:
        # Which process runs the job: a restarted worker requeues it if that process is gone.
        job.meta.update(host=socket.gethostname(), pid=os.getpid())
        job.save_meta()  # type: ignore[no-untyped-call]
    with unit_of_work("job finished", job=kind, run_id=run_id, **context) as line:
        if job is not None and job.retries_left is not None:
            line["retries_left"] = job.retries_left
        yield line
