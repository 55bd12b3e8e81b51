"""Approve / Deny decisions and proposal state changes, on a real Redis: the cases the adversarial
suite does not reach (approvals: 0, a policy edited after the proposal, races on one proposal)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import redis

from workers.policy.governor import BudgetVerdict
from workers.policy.ladder import Ladder
from workers.policy.model import PolicyFile
from workers.proposals import approval
from workers.proposals.model import Proposal
from workers.proposals.store import ProposalStore, new_id
from workers.triage.report import SuggestedAction

NOW = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


class Budget:
    """A governor that answers one state for every service."""

    def __init__(self, state: str = "healthy") -> None:
        self.verdict = BudgetVerdict(state, f"budget {state} (test)")  # type: ignore[arg-type]

    def state(self, service: str) -> BudgetVerdict:
        return self.verdict


def ladder(actions: dict[str, object], budget: str = "healthy") -> Ladder:
    policy = PolicyFile.model_validate({"actions": actions})
    return Ladder(policy, Budget(budget), frozenset({"restart"}))  # type: ignore[arg-type]


def proposal(store: ProposalStore, approvals: int = 1) -> Proposal:
    p = Proposal(
        id=new_id(),
        incident_id="INC-1",
        channel_id="C1",
        hypothesis_id="H1",
        action=SuggestedAction(action_type="restart", target="checkout-api"),
        requested_by="U0ALICE",
        novel=False,
        policy_sha256="",
        approvals_needed=approvals,
        created_at=NOW,
        expires_at=NOW + timedelta(minutes=30),
    )
    store.create(p)
    return p


LISTED = {
    "restart": {"level": "act", "approvers": {"users": ["U0BRUNO", "U0CHEN"], "groups": ["@SRE-Oncall"]}}
}


def test_approvals_zero_lets_anyone_but_the_requester_confirm_a_reversible_action(
    client: redis.Redis,
) -> None:
    store = ProposalStore(client)
    rules = {"restart": {"level": "act", "approvals": 0, "reversible": True}}
    p = proposal(store)
    mine = approval.approve(store, ladder(rules), client, p.id, "U0ALICE", "C1", [], NOW)
    assert mine.outcome == "refused" and "someone else must approve" in mine.message
    anyone = approval.approve(store, ladder(rules), client, p.id, "U0EVE", "C1", [], NOW)
    assert anyone.outcome == "approved" and anyone.execute


def test_approvals_zero_gives_way_to_the_budget_cap(client: redis.Redis) -> None:
    store = ProposalStore(client)
    rules = {
        "restart": {"level": "act", "approvals": 0, "reversible": True, "approvers": {"users": ["U0BRUNO"]}}
    }
    p = proposal(store)
    burning = ladder(rules, "burning")  # capped at suggest: nobody may approve now
    assert approval.approve(store, burning, client, p.id, "U0BRUNO", "C1", [], NOW).outcome == "refused"
    assert store.get(p.id).state == "proposed"  # type: ignore[union-attr]


def test_groups_match_without_case_or_at_sign(client: redis.Redis) -> None:
    store = ProposalStore(client)
    p = proposal(store)
    result = approval.approve(store, ladder(LISTED), client, p.id, "U0DANA", "C1", ["sre-oncall"], NOW)
    assert result.outcome == "approved"


def test_a_policy_edited_after_the_proposal_is_what_counts(client: redis.Redis) -> None:
    store = ProposalStore(client)
    p = proposal(store)
    demoted = {"restart": {"level": "suggest"}}
    result = approval.approve(store, ladder(demoted), client, p.id, "U0BRUNO", "C1", [], NOW)
    assert result.outcome == "refused" and "now puts it at suggest" in result.message


def test_the_stricter_of_the_proposal_and_the_policy_now_sets_the_approvals_needed(
    client: redis.Redis,
) -> None:
    store = ProposalStore(client)
    p = proposal(store, approvals=2)  # proposed under a policy asking for two; it now asks for one
    first = approval.approve(store, ladder(LISTED), client, p.id, "U0BRUNO", "C1", [], NOW)
    assert first.outcome == "recorded" and "1 of 2" in first.message
    second = approval.approve(store, ladder(LISTED), client, p.id, "U0CHEN", "C1", [], NOW)
    assert second.outcome == "approved"


def test_many_approvers_at_once_approve_exactly_once(client: redis.Redis) -> None:
    store = ProposalStore(client)
    p = proposal(store)
    outcomes: list[str] = []
    users = ["U0BRUNO", "U0CHEN", "U0DANA", "U0BRUNO"]
    threads = [
        threading.Thread(
            target=lambda u=u: outcomes.append(
                approval.approve(store, ladder(LISTED), client, p.id, u, "C1", ["sre-oncall"], NOW).outcome
            )
        )
        for u in users
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["approved", "closed", "closed", "closed"]
    stored = store.get(p.id)
    assert stored is not None and stored.state == "approved" and len(stored.approvals) == 1


def test_only_one_caller_moves_a_proposal_out_of_a_state(client: redis.Redis) -> None:
    store = ProposalStore(client)
    p = proposal(store)
    store.transition(p.id, "proposed", "approved")
    moved = [store.transition(p.id, "approved", "executing")[1] for _ in range(3)]
    assert moved == [True, False, False]
    assert store.transition("Pnope", "approved", "executing") == (None, False)
    assert store.get("not-a-proposal-id") is None  # malformed ids are not even looked up
