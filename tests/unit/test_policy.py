"""The policy ladder: load errors with their line, deny by default, caps, segregation of duties."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from workers.errors import ConfigError
from workers.policy.decide import ActionRequest, decide, may_approve
from workers.policy.model import load_policy

REPO = Path(__file__).resolve().parents[2]
POLICY = load_policy(REPO / "policies" / "default.yaml")


def restart(service: str = "checkout-api", environment: str = "prod") -> ActionRequest:
    return ActionRequest("restart", service, environment)


def test_the_shipped_policy_loads_with_its_hash() -> None:
    assert set(POLICY.actions) == {"restart", "scale", "rollback", "silence_alert", "run_runbook"}
    assert len(POLICY.sha256) == 64 and POLICY.burn_rates[0].factor == 14.4


def test_every_error_is_reported_with_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "version: 1\nactions:\n  restart:\n    level: actt\n  scale:\n    level: act\n    bogus: 1\n"
        "  rollback:\n    level: act\n    approvals: 0\n"
    )
    with pytest.raises(ConfigError) as err:
        load_policy(bad)
    problems = err.value.problems
    assert f"{bad}:4: actions.restart.level: Input should be 'observe', 'suggest' or 'act'" in problems
    assert any(p.startswith(f"{bad}:7: actions.scale.bogus") for p in problems)
    assert any(p.startswith(f"{bad}:9: actions.rollback") and "reversible" in p for p in problems)
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: 1\nactions: [unclosed\n")
    with pytest.raises(ConfigError, match=r"broken.yaml:3: malformed YAML"):
        load_policy(broken)


def test_deny_first_then_unknown_types_and_scopes_default_to_observe() -> None:
    denied = decide(POLICY, ActionRequest("restart", "ledger-db", "prod"), "healthy", novel=False)
    assert denied.level == "observe" and denied.reasons == [
        "denied: the ledger is changed by its owners only"
    ]
    unknown = decide(POLICY, ActionRequest("drop_database", "checkout-api", "prod"), "healthy", novel=False)
    assert unknown.level == "observe" and "not in the policy" in unknown.reasons[0]
    out_of_scope = decide(POLICY, restart("search-api", "prod"), "healthy", novel=False)
    assert out_of_scope.level == "observe" and "in none of its scopes" in out_of_scope.reasons[-1]
    assert decide(POLICY, restart(), "healthy", novel=False).level == "act"


def test_budget_novelty_and_blast_radius_cap_the_level() -> None:
    assert decide(POLICY, restart(), "burning", novel=False).level == "suggest"
    assert decide(POLICY, restart(), "exhausted", novel=False).level == "observe"
    novel = decide(POLICY, restart(), "healthy", novel=True)
    assert novel.level == "suggest" and novel.reasons[-1] == "novel incident: capped at suggest"
    big = decide(POLICY, ActionRequest("scale", "checkout-api", "prod", replica_change=12), "healthy", False)
    assert big.level == "suggest" and "exceeds the cap of 5" in big.reasons[-1]


def test_only_listed_approvers_other_than_the_requester_may_approve() -> None:
    action = restart()
    decision = decide(POLICY, action, "healthy", novel=False)
    assert may_approve(POLICY, action, decision, "U0BOB", "U0ALICE", ["@sre-oncall"]) == (
        True,
        "in an approver group",
    )
    own = may_approve(POLICY, action, decision, "U0ALICE", "U0ALICE", ["@sre-oncall"])
    assert own == (False, "you requested this action; someone else must approve it")
    assert not may_approve(POLICY, action, decision, "U0EVE", "U0ALICE", ["@marketing"])[0]
    capped = decide(POLICY, action, "burning", novel=False)
    assert not may_approve(POLICY, action, capped, "U0BOB", "U0ALICE", ["@sre-oncall"])[0]


def test_policy_cli_check_and_explain(tmp_path: Path) -> None:
    cli = [sys.executable, "-m", "bot.cli", "--env-file", "/dev/null", "policy"]
    ok = subprocess.run(
        [*cli, "check", str(REPO / "policies" / "default.yaml")], capture_output=True, text=True
    )
    assert ok.returncode == 0 and "5 action types, 1 deny rules" in ok.stdout
    bad = tmp_path / "p.yaml"
    bad.write_text("version: 2\n")
    failed = subprocess.run([*cli, "check", str(bad)], capture_output=True, text=True)
    assert failed.returncode == 1 and f"error    {bad}:1: version" in failed.stdout
    explained = subprocess.run(
        [*cli, "explain", "restart", "--service", "checkout-api", "--environment", "prod",
         "--user", "U0ALICE", "--requester", "U0ALICE", "--file", str(REPO / "policies" / "default.yaml")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert "restart on checkout-api: act" in explained.stdout
    assert "U0ALICE may not approve: you requested this action" in explained.stdout
