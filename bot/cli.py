"""The `incident-copilot` command line."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

import structlog

from bot import kb_cli, policy_cli
from workers.errors import ConfigError, ServiceUnavailable
from workers.logconfig import configure_logging
from workers.queue import ALL_QUEUES
from workers.settings import Settings

DESCRIPTION = """A Slack incident copilot. Settings come from the environment, a .env file, or files in
SECRETS_DIR: SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, SLACK_APP_TOKEN (Socket Mode), SLACK_API_URL,
REDIS_URL (unset: an embedded Redis), OPENAI_API_KEY / OPENAI_BASE_URL / LLM_MODEL (unset:
evidence-only mode). See README.md."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="incident-copilot", description=DESCRIPTION)
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
        "right. Evidence-only, or with the LLM when one is configured.",
    )
    backtest.add_argument("--logs", type=Path, metavar="DIR", help="stored logs, one folder per incident id")
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
    return parser


def _stop_on_sigterm(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run_bot(settings: Settings, port: int | None, host: str | None) -> int:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    from bot.app import build_app
    from bot.deps import BotDeps
    from bot.server import make_server, make_wsgi, metrics_registry, readiness
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
    app = build_app(deps, client=rt.slack)
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
    detail = (lambda: {"policy": source.status()}) if isinstance(source, PolicySource) else None
    wsgi = make_wsgi(None if socket_mode else app, probe, metrics_registry(rt.redis.client), detail)
    server = make_server(
        wsgi, host or settings.server.host, port or settings.server.port, settings.server.threads
    )
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
            return policy_cli.run_policy(args)
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
        if args.command == "backtest":
            return kb_cli.run_backtest(settings, args.logs, as_json=args.json)
        from bot.demo.run import run_demo

        return int(run_demo())
    except ConfigError as exc:
        print(exc.render(), file=sys.stderr)
        return 2
    except ServiceUnavailable as exc:
        print(f"incident-copilot: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
