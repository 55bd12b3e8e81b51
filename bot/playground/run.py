"""`incident-copilot playground`: every real component on this machine, and a web page that plays
Slack's client for the bundled incidents' channels."""

from __future__ import annotations

import shutil
import signal
import sys
import tempfile
import threading
import webbrowser
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from types import FrameType
from typing import TextIO

from bot.demo.run import load_knowledge
from bot.localstack import LocalStack
from bot.playground.incidents import bundled, seed, triage_hint, write_sources
from bot.playground.server import Playground, PlaygroundServer
from workers.settings import LLMSettings


def llm_env(llm: LLMSettings) -> dict[str, str]:
    """The LLM settings the user configured, for the bot and worker (the stack drops inherited ones)."""
    env = {"LLM_MODEL": llm.model}
    if llm.api_key is not None:
        env["OPENAI_API_KEY"] = llm.api_key.get_secret_value()
    if llm.base_url:
        env["OPENAI_BASE_URL"] = llm.base_url
    if llm.api_version:
        env["OPENAI_API_VERSION"] = llm.api_version
    return env if llm.configured else {}


@contextmanager
def running_playground(
    workdir: Path, *, host: str = "127.0.0.1", port: int = 0, env: dict[str, str] | None = None
) -> Iterator[PlaygroundServer]:
    """The page's server (`url`), bound first so a taken port fails before anything starts, over a
    `LocalStack` seeded with the bundled incidents. Everything stops on exit, also when start-up
    fails half-way."""
    now = datetime.now(UTC)
    incidents = bundled()
    workdir.mkdir(parents=True, exist_ok=True)
    policy = workdir / "policy.yaml"
    policy.write_bytes(resources.files("bot.playground").joinpath("policy.yaml").read_bytes())
    records = workdir / "executor-records.jsonl"
    stack_env = {
        "EVIDENCE_SOURCES_FILE": str(write_sources(incidents, workdir, now)),
        "POLICY_FILE": str(policy),
        "EXECUTOR_RECORD_FILE": str(records),
        **(env or {}),
    }
    with ExitStack() as cleanup:
        server = PlaygroundServer(host, port)
        cleanup.callback(server.stop)
        stack = cleanup.enter_context(LocalStack(workdir / "stack", log_level="warning", env=stack_env))
        load_knowledge(stack, [kb for i in incidents if (kb := i.kb) is not None])
        for incident in incidents:
            seed(stack, incident, now)
        hints = {i.channel_id: triage_hint(i, now) for i in incidents}
        server.serve(Playground(stack, incidents, hints, records))
        yield server


def run_playground(
    llm: LLMSettings, host: str, port: int, *, open_browser: bool, out: TextIO = sys.stdout
) -> int:
    """Run until Ctrl-C or SIGTERM, then stop everything and remove the temporary files."""
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    workdir = Path(tempfile.mkdtemp(prefix="incident-copilot-playground-"))
    mode = f"the LLM at {llm.base_url or 'OpenAI'}" if llm.configured else "evidence-only (no LLM configured)"
    print(f"Starting an embedded Redis, the Slack stand-in, the bot and a worker; answers: {mode}…", file=out)
    try:
        with running_playground(workdir, host=host, port=port, env=llm_env(llm)) as server:
            print(f"Bot and worker logs, while it runs: {workdir / 'stack'}", file=out)
            names = ", ".join(f"#{i.channel_name}" for i in server.playground.incidents.values())
            print(f"Playground ready: {server.url}  (channels: {names})", file=out)
            print("Nothing leaves this machine. Ctrl-C stops everything.", file=out, flush=True)
            if open_browser:
                webbrowser.open(server.url)
            while not stop.wait(0.5):
                pass
    except OSError as exc:  # the page's address, before anything else started
        print(f"incident-copilot: cannot serve the playground on {host}:{port}: {exc.strerror}; "
              "choose another with --port", file=sys.stderr)  # fmt: skip
        return 2
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print("Stopped.", file=out)
    return 0
