"""A net under every test run: whatever process the run started and did not stop is killed when
the run ends, and named, so a leak is seen and fixed rather than left running for good."""

from __future__ import annotations

import os
import uuid

import pytest

from tests.support.leftovers import MARKER, describe, marked, reap

_RUN = uuid.uuid4().hex


def pytest_configure(config: pytest.Config) -> None:
    os.environ[MARKER] = _RUN  # inherited by every process the tests start


def pytest_unconfigure(config: pytest.Config) -> None:
    left = marked(_RUN)
    if left:
        print(f"\nprocesses the test run left behind, now killed:\n{describe(left)}")
        reap(_RUN)
