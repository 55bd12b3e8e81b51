"""`incident-copilot policy check|explain`: validate policy files, and show a decision and its reasons;
`incident-copilot audit export`: the audit trail as JSON lines."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from importlib.resources import files
from pathlib import Path
from typing import Any, get_args

from bot.cli_errors import did_you_mean, say
from workers import audit
from workers.atrest import storage_redactor
from workers.errors import ConfigError
from workers.policy.decide import ActionRequest, decide, may_approve
from workers.policy.model import load_policy
from workers.redisconn import connect
from workers.settings import Settings
from workers.triage.report import ActionType

# The annotated example, shipped in the package so `policy explain` works from any folder.
EXAMPLE_FILE = Path(str(files("policies") / "default.yaml"))


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    policy = sub.add_parser(
        "policy", help="check policy files, explain a decision", description="The action policy ladder."
    )
    policy_sub = policy.add_subparsers(dest="policy_command", required=True, metavar="POLICY_COMMAND")
    check = policy_sub.add_parser(
        "check", help="validate policy files", description="Report every error with its file and line."
    )
    check.add_argument("files", nargs="+", type=Path, metavar="FILE")
    explain = policy_sub.add_parser(
        "explain",
        help="the decision for an action and why",
        description="Print the level an action gets (observe, suggest, act), every reason, and whether a "
        "user may approve it.",
    )
    explain.add_argument(
        "action", metavar="ACTION", help="restart, rollback, scale, silence_alert, run_runbook"
    )
    explain.add_argument("--service", required=True)
    explain.add_argument("--user", required=True, help="Slack user id of the would-be approver")
    explain.add_argument("--requester", default="", help="Slack user id of who asked (default: someone else)")
    explain.add_argument("--groups", nargs="*", default=[], help="the approver's user group handles")
    explain.add_argument("--environment", default="")
    explain.add_argument("--namespace", default="")
    explain.add_argument("--replica-change", type=int, default=None)
    explain.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="another parameter of the action (replicas=5, revision=3); repeatable",
    )
    explain.add_argument("--budget", choices=["healthy", "burning", "exhausted"], default="healthy")
    explain.add_argument("--novel", action="store_true", help="as for an incident unlike any before")
    explain.add_argument(
        "--file",
        type=Path,
        default=None,
        help="policy file (default: POLICY_FILE, else the packaged example)",
    )
    explain.add_argument("--json", action="store_true", help="print the decision as JSON")


def run_policy(args: argparse.Namespace, settings: Settings) -> int:
    if args.policy_command == "check":
        problems: list[str] = []
        for path in args.files:
            try:
                policy = load_policy(path)
                print(f"ok       {path}: {len(policy.actions)} action types, {len(policy.deny)} deny rules")
            except ConfigError as exc:
                problems += exc.problems
            except OSError as exc:
                problems.append(f"{path}: cannot read: {exc.strerror}")
        for problem in problems:
            print(f"error    {problem}")
        return 1 if problems else 0
    policy = load_policy(args.file or settings.policy.file or EXAMPLE_FILE)
    known = {*policy.actions, *get_args(ActionType)}
    if args.action not in known:
        say(
            f"{args.action!r} is not an action type{did_you_mean(args.action, known)}; "
            f"known: {', '.join(sorted(known))}"
        )
        return 2
    if bad := [p for p in args.param if "=" not in p]:
        print(f"incident-copilot: --param takes KEY=VALUE, got {bad[0]!r}", file=sys.stderr)
        return 2
    params = {key: value for key, _, value in (p.partition("=") for p in args.param)}
    given = {
        "environment": args.environment,
        "namespace": args.namespace,
        "replica_change": args.replica_change,
    }
    params |= {k: str(v) for k, v in given.items() if v not in (None, "")}
    action = ActionRequest(
        args.action, args.service, args.environment, args.namespace, args.replica_change, params
    )
    decision = decide(policy, action, args.budget, args.novel)
    ok, why = may_approve(policy, action, decision, args.user, args.requester or "someone-else", args.groups)
    if args.json:
        print(json.dumps({
            "action": args.action, "service": args.service, "level": decision.level,
            "written": decision.written, "reasons": decision.reasons, "user": args.user,
            "may_approve": ok, "why": why,
            "approvals_needed": decision.approvals_needed if decision.level == "act" else 0,
            "policy": str(policy.source), "sha256": policy.sha256,
        }))  # fmt: skip
        return 0
    print(f"{args.action} on {args.service}: {decision.level} (the policy says {decision.written})")
    for reason in decision.reasons:
        print(f"  - {reason}")
    print(f"{args.user} {'may' if ok else 'may not'} approve: {why}")
    if decision.level == "act":
        print(f"approvals needed: {decision.approvals_needed}")
    print(f"policy {policy.source} sha256 {policy.sha256[:12]}")
    return 0


def add_audit_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    audit_parser = sub.add_parser(
        "audit", help="read the audit trail", description="The append-only audit trail."
    )
    audit_sub = audit_parser.add_subparsers(dest="audit_command", required=True, metavar="AUDIT_COMMAND")
    export = audit_sub.add_parser("export", help="print entries as JSON lines", description="Oldest first.")
    export.add_argument(
        "--since",
        type=datetime.fromisoformat,
        default=None,
        metavar="T",
        help="ISO time, e.g. 2026-11-22T10:00Z",
    )


def run_audit(settings: Settings, args: argparse.Namespace) -> int:
    handle = connect(settings.redis, storage_redactor(settings))
    try:
        count = 0
        for entry in audit.export(handle.client, args.since):
            print(json.dumps({key: _decoded(value) for key, value in entry.items()}, ensure_ascii=False))
            count += 1
    finally:
        handle.close()
    if count == 0:
        say(f"no audit entries{f' since {args.since.isoformat()}' if args.since else ''}")
    return 0


def _decoded(value: str) -> Any:
    """A field the trail stored as JSON (an object or a list) as that JSON, not as a string of it."""
    if value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            pass
    return value
