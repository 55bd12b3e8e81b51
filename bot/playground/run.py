"""`incident-copilot playground`: every real component on this machine, and a web page that plays
Slack's client for the bundled incidents' channels."""

from __future__ import annotations

import shutil
import signal
import sys
import tempfile
import threading
import webbrowser
from contextlib import ExitStack
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from types import FrameType, TracebackType
from typing import Self, TextIO

from bot.demo.run import load_knowledge
from bot.localstack import LocalStack
from bot.playground.incidents import Incident, bundled, seed, triage_hint, write_sources
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


class PlaygroundStack:
    """Start with `with PlaygroundStack(workdir) as pg:`; `pg.url` is the page. Everything it started
    stops on exit, also when start-up fails half-way."""

    def __init__(
        self, workdir: Path, *, host: str = "127.0.0.1", port: int = 0, env: dict[str, str] | None = None
    ) -> None:
        self.workdir = workdir
        self.host, self.port = host, port
        self.env = env or {}
        self.incidents: list[Incident] = bundled()
        self._exit = ExitStack()
        self.stack: LocalStack | None = None
        self.server: PlaygroundServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None, "start the playground first"
        return self.server.url

    def start(self) -> Self:
        now = datetime.now(UTC)
        self.workdir.mkdir(parents=True, exist_ok=True)
        policy = self.workdir / "policy.yaml"
        policy.write_bytes(resources.files("bot.playground").joinpath("policy.yaml").read_bytes())
        records = self.workdir / "executor-records.jsonl"
        env = {
            "EVIDENCE_SOURCES_FILE": str(write_sources(self.incidents, self.workdir, now)),
            "POLICY_FILE": str(policy),
            "EXECUTOR_RECORD_FILE": str(records),
            **self.env,
        }
        self.server = PlaygroundServer(self.host, self.port)
        self._exit.callback(self.server.stop)
        self.stack = self._exit.enter_context(
            LocalStack(self.workdir / "stack", log_level="warning", env=env)
        )
        load_knowledge(self.stack, [kb for i in self.incidents if (kb := i.kb) is not None])
        for incident in self.incidents:
            seed(self.stack, incident, now)
        hints = {i.channel_id: triage_hint(i, now) for i in self.incidents}
        self.server.serve(Playground(self.stack, self.incidents, hints, records))
        return self

    def stop(self) -> None:
        self._exit.close()

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


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
        with PlaygroundStack(workdir, host=host, port=port, env=llm_env(llm)) as pg:
            print(f"Bot and worker logs, while it runs: {workdir / 'stack'}", file=out)
            names = ", ".join(f"#{i.channel_name}" for i in pg.incidents)
            print(f"Playground ready: {pg.url}  (channels: {names})", file=out)
            print("Nothing leaves this machine. Ctrl-C stops everything.", file=out, flush=True)
            if open_browser:
                webbrowser.open(pg.url)
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
