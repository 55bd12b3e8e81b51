"""The `incident-copilot` command line."""

from __future__ import annotations

import argparse
import logging
import signal
import socket
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

import structlog

from bot import kb_cli, policy_cli
from bot.cli_errors import guarded
from workers.errors import ConfigError, ServiceUnavailable, StartupError
from workers.logconfig import configure_logging
from workers.queue import ALL_QUEUES
from workers.settings import Settings

DESCRIPTION = """A Slack incident copilot. Settings come from the environment, a .env file, or files in
SECRETS_DIR: SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, SLACK_APP_TOKEN (Socket Mode), SLACK_API_URL,
REDIS_URL (unset: an embedded Redis), OPENAI_API_KEY / OPENAI_BASE_URL / LLM_MODEL (unset:
evidence-only mode). See README.md."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="incident-copilot", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    parser.add_argument(
        "--env-file", type=Path, default=Path(".env"), help="dotenv file to read (default: .env)"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    bot = sub.add_parser(
        "bot",
        help="run the Slack app",
        description="Run the Slack app: Socket Mode when SLACK_APP_TOKEN is set, else HTTP on --port "
        "(POST /slack/events, GET /healthz, GET /readyz).",
    )
    bot.add_argument("--port", type=int, help="HTTP port (default: PORT or 3000)")
    bot.add_argument("--host", help="bind address (default: HOST or 0.0.0.0)")

    worker = sub.add_parser(
        "worker",
        help="run a background worker",
        description="Run an RQ worker. SIGTERM or Ctrl-C finishes the current job, then exits.",
    )
    worker.add_argument(
        "--queue",
        action="append",
        choices=ALL_QUEUES,
        dest="queues",
        help="queue to serve (repeatable; default: all)",
    )
    worker.add_argument("--burst", action="store_true", help="exit once the queues are empty")
    worker.add_argument(
        "--probe",
        action="store_true",
        help="exit 0 if Redis answers and a worker of this host is registered with a live heartbeat "
        "(for container liveness probes), else 1",
    )

    triage = sub.add_parser(
        "triage",
        help="triage log files in the terminal, as /triage would",
        description="Build the evidence digest /triage would build from log files (plain text in any "
        "common timestamp format, JSON, logfmt, Docker or CRI container logs, gzip; globs allowed) and "
        "print it, then what /triage's engine makes of it: the hypotheses (from the LLM when one is "
        "configured, else evidence-only), the similar past incidents from the knowledge base (REDIS_URL, "
        "or the embedded one) and whether the incident looks novel. A window in TEXT ('since 10:40', "
        "'last 30m') is read relative to the newest log line; without one, all of --logs is the incident "
        "and --baseline the baseline. 'last 10 lines' and 'errors only' are read as they say.",
    )
    triage.add_argument(
        "text", nargs="?", default="", metavar="TEXT", help="what you see, and optionally a window"
    )
    triage.add_argument(
        "--logs", nargs="+", required=True, metavar="PATH", help="incident log files or globs"
    )
    triage.add_argument(
        "--baseline", nargs="+", default=[], metavar="PATH", help="baseline log files or globs"
    )
    triage.add_argument(
        "--budget", type=int, metavar="N", help="token budget (default: EVIDENCE_BUDGET_TOKENS)"
    )
    triage.add_argument(
        "--channel",
        type=Path,
        metavar="FILE",
        help="the channel's messages: a Slack export (JSON array) or JSON lines with ts, user, text",
    )
    triage.add_argument("--service", default="", help="the service under investigation, as /triage names it")
    triage.add_argument("--json", action="store_true", help="print the report's fields as JSON")

    backtest = sub.add_parser(
        "backtest",
        help="replay the knowledge base's past incidents through the engine and score the answers",
        description="Each labelled past incident (see `kb calibrate`) is replayed with itself left out of "
        "the knowledge base: its symptoms as the /triage text, its logs from LOGS/<id>/logs and "
        "LOGS/<id>/baseline when stored, else its log signature. Prints per incident and overall whether "
        "the confirmed cause (its vocabulary mechanism, or a past incident with the same cause) was ranked "
        "first and in the top three, novelty precision and recall, and the stated confidence against being "
        "right. Evidence-only, or with the LLM when one is configured. With --eval, a labelled evaluation "
        "set instead (its own knowledge base, incidents with logs), scored per split with --compare's "
        "release beside this one.",
    )
    backtest.add_argument("--logs", type=Path, metavar="DIR", help="stored logs, one folder per incident id")
    backtest.add_argument(
        "--eval",
        type=Path,
        metavar="DIR",
        help="a labelled evaluation set (kb/ and cases/, as tests/evals/triage builds): print class named "
        "first and in the top three, novel flagged, known falsely flagged and key line quoted, per split",
    )
    backtest.add_argument(
        "--compare",
        type=Path,
        metavar="ROOT",
        help="with --eval: another release's source tree (`git archive REF | tar -x -C ROOT`), run in "
        "the same way and printed beside this one",
    )
    backtest.add_argument("--json", action="store_true", help="print every replay and the totals as JSON")

    vocabulary = sub.add_parser(
        "vocabulary",
        help="check a vocabulary of failure mechanisms and change events",
        description="Validate a vocabulary file (default: EVIDENCE_VOCABULARY_FILE, else the packaged one): "
        "every problem with its file and line; prints what it defines.",
    )
    vocabulary.add_argument("action", choices=("check",))
    vocabulary.add_argument("file", nargs="?", type=Path, help="the YAML file to check")

    kb_cli.add_parser(sub)
    policy_cli.add_parser(sub)
    policy_cli.add_audit_parser(sub)

    doctor = sub.add_parser(
        "doctor",
        help="check every configured part and say what is wrong and how to fix it",
        description="Check the Slack token and its scopes against the manifest, the signing secret, Redis "
        "(reachable, password, persistence, memory policy), the workers serving each queue, the LLM (a "
        "one-token request, structured output, context window), each log source (a one-minute query), "
        "the policy, Prometheus and every SLO's series, and the executors. Exit 1 when anything fails.",
    )
    doctor.add_argument("--json", action="store_true", help="print the findings as JSON")

    manifest = sub.add_parser(
        "manifest",
        help="print the Slack app manifest",
        description="Print the Slack app manifest matching this version's commands, events, buttons and "
        "scopes; paste it at api.slack.com/apps → Create New App → From a manifest.",
    )
    where = manifest.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--url", metavar="BASE", help="the bot's public base URL (HTTP mode), e.g. https://copilot.corp"
    )
    where.add_argument("--socket-mode", action="store_true", help="for Socket Mode (no public URL)")

    sub.add_parser(
        "demo",
        help="replay a bundled incident end to end on embedded defaults",
        description="Start an embedded Redis, a local Slack stand-in, the bot (HTTP) and one worker; replay "
        "a bundled incident conversation and /triage; print the channel as a person would see it; shut down.",
    )
    playground = sub.add_parser(
        "playground",
        help="try the bot in a local web page that plays Slack, no workspace needed",
        description="Start an embedded Redis, a local Slack stand-in, the bot (HTTP) and a worker with a "
        "sample policy whose executor only records what it would do, and serve a page that plays a Slack "
        "channel for each bundled incident: type /triage, click the buttons, open the postmortem. "
        "Answers come from the LLM when OPENAI_API_KEY / OPENAI_BASE_URL are set, else evidence-only.",
    )
    playground.add_argument("--port", type=int, default=8088, help="the page's port (default: 8088)")
    playground.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to serve on (default: 127.0.0.1); the page answers only when opened by it or localhost",
    )
    playground.add_argument("--open", action="store_true", help="open the page in your web browser")
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("incident-copilot")
    except PackageNotFoundError:
        return "unknown (not installed)"


def _stop_on_sigterm(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run_bot(settings: Settings, port: int | None, host: str | None) -> int:
    from slack_bolt.adapter.socket_mode import SocketModeHandler
    from slack_bolt.error import BoltError
    from slack_sdk.errors import SlackClientError

    from bot.app import build_app
    from bot.deps import BotDeps
    from bot.receivers import Receivers
    from bot.server import make_server, make_wsgi, metrics_registry, readiness
    from workers import liveness
    from workers.alerts.config import load_rules
    from workers.jobs.reconcile import keep_reconciling
    from workers.policy.source import PolicySource
    from workers.runtime import Runtime

    settings.check_for("bot")
    rt = Runtime.build(settings)
    log = structlog.get_logger("bot")
    deps = BotDeps(
        settings=settings,
        redis=rt.redis.client,
        incidents=rt.incidents,
        board=rt.board,
        knowledge=rt.knowledge,
        ladder=rt.ladder,
    )
    sdk_log = logging.getLogger("slack_sdk.web.base_client")
    level, sdk_log.level = sdk_log.level, logging.CRITICAL  # the one line below says it all
    try:
        app = build_app(deps, client=rt.slack)
    except (OSError, SlackClientError, BoltError) as exc:
        rt.close()
        raise StartupError(
            f"cannot reach Slack at {settings.slack.api_url} ({_reason(exc)}): check the network, "
            "SLACK_API_URL and SLACK_BOT_TOKEN"
        ) from None
    finally:
        sdk_log.setLevel(level)
    socket_mode = settings.slack.app_token is not None
    handler = None
    if socket_mode:
        assert settings.slack.app_token is not None
        handler = SocketModeHandler(app, settings.slack.app_token.get_secret_value())
        handler.connect()  # type: ignore[no-untyped-call]
        probe = readiness(
            rt.redis.client, lambda: {"slack_socket": bool(handler and handler.client.is_connected())}
        )
    else:
        probe = readiness(rt.redis.client)
    source = rt.ladder.source
    receivers = Receivers(settings.alerts, load_rules(settings.alerts.config_file), rt.redis.client)

    def detail() -> dict[str, object]:
        policy = {"policy": source.status()} if isinstance(source, PolicySource) else {}
        return {**policy, "alerts": receivers.status(), **liveness.report(rt.redis.client)}

    secret = settings.slack.signing_secret
    max_body = settings.server.max_body_bytes
    wsgi = make_wsgi(
        None if socket_mode else app,
        probe,
        metrics_registry(rt.redis.client),
        detail,
        receivers,
        signing_secret=secret.get_secret_value() if secret else None,
        max_body=max_body,
    )
    bind = (host or settings.server.host, port or settings.server.port)
    try:
        _port_free(*bind)  # before waitress, which leaks its sockets when the bind fails
        server = make_server(wsgi, *bind, settings.server.threads, max_body)
    except OSError as exc:
        rt.close()
        raise StartupError(
            f"cannot listen on {bind[0]}:{bind[1]} ({exc.strerror}): another process may hold the port; "
            "stop it or choose another with --port or PORT"
        ) from None
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    stop = threading.Event()
    keep_reconciling(rt, stop)
    log.info("bot serving", mode="socket" if socket_mode else "http", port=server.effective_port)
    try:
        server.run()
    except KeyboardInterrupt:
        log.info("bot stopping")
    finally:
        stop.set()
        server.close()
        if handler is not None:
            handler.close()  # type: ignore[no-untyped-call]
        rt.close()
    return 0


def _port_free(host: str, port: int) -> None:
    """Raise the OSError the server would meet binding `host:port` (as waitress binds: address reuse on)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))


def _reason(exc: Exception) -> str:
    """A Slack client or network error in a few words."""
    response = getattr(exc, "response", None)
    if response is not None and hasattr(response, "get"):
        return str(response.get("error") or exc)
    return str(getattr(exc, "reason", None) or exc).splitlines()[0][:200]


def run_triage(settings: Settings, args: argparse.Namespace) -> int:
    import asyncio
    import json

    from workers.atrest import storage_redactor
    from workers.errors import UserInputError
    from workers.evidence.local import digest_files
    from workers.evidence.tokens import TokenizerUnavailable
    from workers.knowledge.service import KnowledgeDeps
    from workers.redisconn import connect
    from workers.triage.local import as_json, local_context, local_report, read_messages, render

    if args.budget is not None and args.budget < 200:
        print("incident-copilot: --budget must be at least 200 tokens", file=sys.stderr)
        return 2
    try:
        messages = read_messages(args.channel) if args.channel else []
        digest = asyncio.run(digest_files(args.text, args.logs, args.baseline, settings, args.budget))
    except (UserInputError, TokenizerUnavailable) as exc:
        print(f"incident-copilot: {exc}", file=sys.stderr)
        return 2
    handle = connect(settings.redis, storage_redactor(settings))
    try:
        knowledge = KnowledgeDeps.build(handle.client, settings.llm)
        ctx = local_context(
            args.text, digest, settings, service=args.service, messages=messages, knowledge=knowledge
        )
        report = local_report(ctx, settings)
    finally:
        handle.close()
    if args.json:
        print(json.dumps(as_json(report, ctx), indent=2, ensure_ascii=False))
        return 0
    print(digest.render())
    print()
    print(render(report, ctx))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return guarded(lambda: _run(args))


def _run(args: argparse.Namespace) -> int:
    if args.command == "doctor":  # reports bad settings as findings, so it loads them itself
        from bot.doctor.run import run_doctor

        return run_doctor(args.env_file, args.json)
    try:
        settings = Settings.load(env_file=args.env_file)
        configure_logging(settings)
        if args.command in ("triage", "kb", "backtest"):
            from workers.triage.vocabulary import use_vocabulary

            use_vocabulary(settings.evidence.vocabulary_file)
        if args.command == "bot":
            return run_bot(settings, args.port, args.host)
        if args.command == "worker":
            from workers.worker import probe_worker, run_worker

            if args.probe:
                return probe_worker(settings)
            settings.check_for("worker")
            run_worker(settings, args.queues or ALL_QUEUES, burst=args.burst)
            return 0
        if args.command == "manifest":
            from bot.manifest import render

            print(render(None if args.socket_mode else args.url), end="")
            return 0
        if args.command == "audit":
            return policy_cli.run_audit(settings, args)
        if args.command == "policy":
            return policy_cli.run_policy(args, settings)
        if args.command == "kb":
            return kb_cli.run_kb(settings, args)
        if args.command == "triage":
            return run_triage(settings, args)
        if args.command == "vocabulary":
            from workers.triage.vocabulary import DEFAULT_FILE, load_vocabulary

            path = args.file or settings.evidence.vocabulary_file or DEFAULT_FILE
            loaded = load_vocabulary(path)
            print(f"{path}: {len(loaded.mechanisms)} mechanisms, {len(loaded.changes)} change events: ok")
            return 0
        if args.command == "backtest" and (args.eval or args.compare):
            from bot.backtest_cli import run_eval

            if args.eval is None:
                print("incident-copilot: --compare needs --eval DIR (the set both releases run on)")
                return 2
            return run_eval(args.eval, args.compare, args.env_file, as_json=args.json)
        if args.command == "backtest":
            return kb_cli.run_backtest(settings, args.logs, as_json=args.json)
        if args.command == "playground":
            from bot.playground.run import run_playground

            return run_playground(settings.llm, args.host, args.port, open_browser=args.open)
        from bot.demo.run import run_demo

        return int(run_demo())
    except ConfigError as exc:
        print(exc.render(), file=sys.stderr)
        return 2
    except StartupError as exc:
        print(f"incident-copilot: {exc}", file=sys.stderr)
        return 2
    except ServiceUnavailable as exc:
        print(f"incident-copilot: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
