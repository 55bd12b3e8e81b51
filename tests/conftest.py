"""A net under every test run: whatever process the run started and did not stop is killed when
the run ends, and named, so a leak is seen and fixed rather than left running for good.

Under pytest-xdist each worker marks what its tests start with the run's id plus its own
(`<run>.gw0`): a worker kills and names only what its own tests left, once their fixtures are torn
down, and reports it to the main process, which prints it; the main process's net at the very end
also catches what a crashed worker left."""

from __future__ import annotations

import os
import uuid
from typing import Any

import pytest

from tests.support.leftovers import MARKER, describe, marked, reap

_RUN = pytest.StashKey[str]()
_REPORT = "processes the test run left behind, now killed:"


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def pytest_configure(config: pytest.Config) -> None:
    own = config.workerinput["workerid"] if _is_worker(config) else uuid.uuid4().hex  # type: ignore[attr-defined]
    parent = os.environ.get(MARKER)  # the main process's run, or the run of a test that started this one
    run = f"{parent}.{own}" if parent else own
    config.stash[_RUN] = run
    os.environ[MARKER] = run  # inherited by every process the tests start


def _reap_and_describe(run: str) -> str:
    left = marked(run)
    text = describe(left) if left else ""
    reap(run)
    return text


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    if _is_worker(config):  # after fixture teardown, before xdist sends its output to the main process
        config.workeroutput["leftovers"] = _reap_and_describe(config.stash[_RUN])  # type: ignore[attr-defined]


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    left = getattr(node, "workeroutput", {}).get("leftovers")
    if left:
        terminal = node.config.pluginmanager.get_plugin("terminalreporter")
        terminal.write_line(f"\n{_REPORT} (by {node.gateway.id})\n{left}")


def pytest_unconfigure(config: pytest.Config) -> None:
    if not _is_worker(config):
        left = _reap_and_describe(config.stash[_RUN])
        if left:
            print(f"\n{_REPORT}\n{left}")
