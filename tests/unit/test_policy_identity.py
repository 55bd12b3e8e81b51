"""One canonical identity for names, deny rules that fail closed on what an action leaves out,
act-level actions that lack a required parameter or would change nothing, and the policy file as it
reads now (reloaded by content hash, a bad edit rejected while the last good one stays)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis

from workers.errors import ConfigError
from workers.policy.decide import ActionRequest, decide
from workers.policy.identity import canonical, plain
from workers.policy.model import PolicyFile
from workers.policy.source import PolicySource
from workers.proposals.model import Proposal
from workers.triage.report import SuggestedAction

POLICY = PolicyFile.model_validate(
    {
        "deny": [{"environment": "prod", "service": "ledger-*", "reason": "owners only"}],
        "actions": {
            "restart": {"level": "act", "approvers": {"users": ["U0BRUNO"]}},
            "scale": {"level": "act", "approvers": {"users": ["U0BRUNO"]}, "max_replica_change": 4},
            "rollback": {
                "level": "act",
                "approvers": {"users": ["U0BRUNO"]},
                "require": ["namespace", "revision"],
                "scopes": [{"namespace": "shop"}],
            },
        },
    }
)


@pytest.mark.parametrize(
    "spelling",
    [
        "Billing-Dead",
        "BILLING-DEAD",
        "billing\u200b-dead",
        "\ufeffbilling-dead ",
        "ｂｉｌｌｉｎｇ-dead",
        "billing-dea\u00add",
    ],
)
def test_every_spelling_of_a_name_has_one_canonical_form(spelling: str) -> None:
    assert canonical(spelling) == "billing-dead"


def test_a_name_in_another_script_is_not_plain_and_is_observed_only() -> None:
    cyrillic = "l\u0435dger-db"  # a Cyrillic "е": looks like ledger-db, escapes the glob
    assert not plain(canonical(cyrillic))
    decision = decide(POLICY, ActionRequest("restart", cyrillic, "prod"), "healthy", novel=False)
    assert decision.level == "observe" and "outside a-z" in decision.reasons[0]


def test_case_and_invisible_characters_do_not_escape_a_deny_rule() -> None:
    for service in ("Ledger-DB", "ledger\u200b-db", "ＬＥＤＧＥＲ-db"):
        for env in ("prod", "PROD", "pro\u200dd"):
            decision = decide(POLICY, ActionRequest("restart", service, env), "healthy", novel=False)
            assert decision.level == "observe" and decision.reasons == ["denied: owners only"], (service, env)


def test_a_missing_attribute_matches_every_deny_rule_that_names_it() -> None:
    no_env = decide(POLICY, ActionRequest("restart", "ledger-db"), "healthy", novel=False)
    assert no_env.level == "observe" and no_env.reasons == ["denied: owners only"]
    elsewhere = decide(POLICY, ActionRequest("restart", "checkout-api"), "healthy", novel=False)
    assert elsewhere.level == "act"  # the rule names a service this one is not


def test_a_missing_attribute_matches_no_scope_that_requires_it() -> None:
    params = {"revision": "7"}
    without = decide(POLICY, ActionRequest("rollback", "checkout-api", params=params), "healthy", False)
    assert without.level == "observe" and "no namespace" in without.reasons[-1]
    within = ActionRequest(
        "rollback", "checkout-api", namespace="Shop", params={**params, "namespace": "Shop"}
    )
    assert decide(POLICY, within, "healthy", False).level == "act"


def test_an_act_level_action_missing_a_required_parameter_is_never_approvable() -> None:
    scale = decide(POLICY, ActionRequest("scale", "checkout-api"), "healthy", novel=False)
    assert scale.level == "suggest" and "missing replicas or replica_change" in scale.reasons[-1]
    words = ActionRequest("scale", "checkout-api", params={"replicas": "lots"})
    assert decide(POLICY, words, "healthy", novel=False).level == "suggest"
    rollback = ActionRequest("rollback", "checkout-api", namespace="shop", params={"namespace": "shop"})
    lacking = decide(POLICY, rollback, "healthy", novel=False)
    assert lacking.level == "suggest" and "missing revision" in lacking.reasons[-1]


def test_a_proposal_that_changes_nothing_is_not_shown() -> None:
    zero = Proposal.request_for(
        SuggestedAction(action_type="scale", target="checkout-api", params={"replica_change": "+0"})
    )
    decision = decide(POLICY, zero, "healthy", novel=False)
    assert decision.level == "observe" and "changes nothing" in decision.reasons[0]
    three = Proposal.request_for(
        SuggestedAction(action_type="scale", target="Checkout-API", params={"replica_change": 3})
    )
    assert three.service == "checkout-api" and decide(POLICY, three, "healthy", False).level == "act"


def _write(path: Path, level: str) -> None:
    path.write_text(
        f"version: 1\nactions:\n  restart:\n    level: {level}\n    approvers: {{users: [U0BRUNO]}}\n"
    )


def test_the_policy_is_the_file_as_it_reads_now(tmp_path: Path, client: redis.Redis) -> None:
    path = tmp_path / "policy.yaml"
    _write(path, "act")
    source = PolicySource(path, "bot", client)
    first = source.current()
    assert first.actions["restart"].level == "act"
    _write(path, "suggest")
    lowered = source.current()
    assert lowered.actions["restart"].level == "suggest" and lowered.sha256 != first.sha256
    path.write_text("version: 1\nactions:\n  restart:\n    level: sometimes\n")
    kept = source.current()
    assert kept.sha256 == lowered.sha256  # the last good version stays in force
    status = source.status()
    assert status["sha256"] == lowered.sha256
    assert any(p.startswith(f"{path}:4: actions.restart.level") for p in status["rejected"]["problems"])
    path.unlink()
    assert source.current().sha256 == lowered.sha256
    _write(path, "act")
    assert source.current().actions["restart"].level == "act" and "rejected" not in source.status()
    counts = {
        json.loads(k)["outcome"]: float(v) for k, v in client.hgetall("ic:metrics:policy_reloads").items()
    }
    assert counts == {"loaded": 2.0, "rejected": 2.0}


def test_an_invalid_policy_at_start_up_stops_the_process(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("version: 2\n")
    with pytest.raises(ConfigError, match=r"policy\.yaml:1: version"):
        PolicySource(path, "worker")
