"""Property: random policies × random actions × random click sequences, against a small reference model
of the approval rules written here from the README's rules, independently of `workers.policy`.

The model never sees the names the product sees: hypothesis draws each name in its plain form, and
the product gets a disguised spelling of it (upper case, zero-width characters, full-width letters,
surrounding spaces), or a look-alike from another script, or nothing at all. The model decides on
the plain form (a look-alike is "not a plain name"). The product must approve exactly when the model
does; above all it must never approve what the model denies.

The suite runs a small profile (300 examples, fixed seed); `tests/benchmarks/bench_policy_property.py`
runs ≥ 10,000 examples.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fnmatch import fnmatchcase
from typing import Any

import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workers.policy.governor import BudgetVerdict
from workers.policy.ladder import Ladder
from workers.policy.model import PolicyFile
from workers.proposals import approval
from workers.proposals.model import Proposal
from workers.proposals.store import ProposalStore, new_id
from workers.triage.report import SuggestedAction

ORDER = ["observe", "suggest", "act"]
TYPES = ["restart", "scale", "rollback", "silence_alert", "run_runbook"]
SERVICES = ["payments-api", "ledger-db", "checkout-web", "billing-dead"]
ENVIRONMENTS = ["prod", "staging"]
NAMESPACES = ["shop", "kube-system"]
PATTERNS = {
    "service": ["*", "payments-*", "ledger-*", "checkout-web", "*-dead"],
    "environment": ["*", "prod", "staging", "stag*"],
    "namespace": ["*", "shop", "kube-*"],
}
USERS = ["U1", "U2", "U3", "U4"]  # U1 requests; U3 is in @sre-oncall
GROUPS = {"U3": ["sre-oncall"]}
REQUESTER = "U1"
NOW = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


# -- the reference model ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Name:
    plain: str  # what the model sees ("" when the action leaves it out)
    shown: str | None  # what the product sees (None: the parameter is absent)
    lookalike: bool = False


def model_level(
    policy: dict[str, Any],
    kind: str,
    names: dict[str, Name],
    params: dict[str, Any],
    budget: str,
    novel: bool,
) -> str:
    """The level the README's rules give, computed on plain names."""
    if any(n.lookalike for n in names.values()):
        return "observe"
    rules = policy["actions"].get(kind)
    for rule in policy["deny"]:
        if not fnmatchcase(kind, rule.get("action", "*")):
            continue
        if all(not names[f].plain or fnmatchcase(names[f].plain, rule.get(f, "*").lower()) for f in PATTERNS):
            return "observe"  # a name the action leaves out matches every deny rule naming it
    if rules is None:
        return "observe"
    change = params.get("replica_change")
    if kind == "scale" and "replicas" not in params and change == 0:
        return "observe"  # would change nothing
    in_scope = any(
        all(
            fnmatchcase(names[f].plain, scope.get(f, "*").lower())
            if names[f].plain
            else scope.get(f, "*") == "*"
            for f in PATTERNS
        )
        for scope in rules["scopes"]
    )
    if not in_scope:
        return "observe"
    level = rules["level"]
    needs = [["replicas", "replica_change"]] if kind == "scale" else []
    needs += [[r] for r in rules.get("require", [])]
    present = {k for k, v in params.items() if v is not None} | {
        f for f in ("namespace", "environment") if names[f].plain
    }
    if level == "act" and any(not set(alts) & present for alts in needs):
        level = "suggest"
    cap = rules.get("max_replica_change")
    if cap is not None and change is not None and abs(change) > cap:
        level = min(level, "suggest", key=ORDER.index)
    level = min(level, policy["caps"][budget], key=ORDER.index)
    if novel:
        level = min(level, policy["caps"]["novel"], key=ORDER.index)
    return level


def model_approves(policy: dict[str, Any], kind: str, level: str, budget: str, clicks: list[str]) -> bool:
    """Whether the click sequence completes the approvals: distinct eligible clickers, never the requester."""
    if level != "act":
        return False
    rules = policy["actions"][kind]
    anyone = rules["approvals"] == 0 and budget == "healthy"
    needed = max(1, rules["approvals"])

    def eligible(user: str) -> bool:
        if user == REQUESTER:
            return False
        listed = user in rules["users"] or bool(
            set(GROUPS.get(user, [])) & {g.lstrip("@").lower() for g in rules["groups"]}
        )
        return anyone or listed

    return len({u for u in clicks if eligible(u)}) >= needed


# -- strategies ---------------------------------------------------------------------------------------


DISGUISE = st.sampled_from(["plain", "upper", "zero-width", "full-width", "spaces", "soft-hyphen"])
INVISIBLE = st.sampled_from(["\u200b", "\u200d", "\u2060", "\ufeff"])
NAME_KIND = st.sampled_from(["given"] * 6 + ["missing"] * 3 + ["lookalike"])


def disguise(draw: st.DrawFn, plain: str) -> str:
    """A spelling of `plain` that names the same thing."""
    how = draw(DISGUISE)
    if how == "upper":
        return plain.upper()
    if how == "zero-width":
        at = draw(st.integers(0, len(plain)))
        return plain[:at] + draw(INVISIBLE) + plain[at:]
    if how == "full-width":
        return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in plain)
    if how == "spaces":
        return f"  {plain}\t"
    if how == "soft-hyphen":
        return plain[:1] + "\u00ad" + plain[1:]
    return plain


@st.composite
def names(draw: st.DrawFn, choices: list[str]) -> Name:
    kind = draw(NAME_KIND)
    if kind == "missing":
        return Name("", None)
    plain = draw(st.sampled_from(choices))
    if kind == "lookalike":  # Cyrillic а / е / о in place of the Latin letter
        swapped = plain.replace("a", "\u0430", 1).replace("e", "\u0435", 1).replace("o", "\u043e", 1)
        if swapped != plain:
            return Name(plain, swapped, lookalike=True)
    return Name(plain, disguise(draw, plain))


# Strategies built once (building them inside every draw costs more than the test itself).
LEVEL = st.sampled_from(ORDER)
USER_LISTS = st.lists(st.sampled_from(USERS), unique=True, max_size=3)
GROUP_LISTS = st.lists(st.sampled_from(["@sre-oncall", "@SRE-Oncall", "dba"]), unique=True, max_size=2)
SCOPES = st.lists(  # a field left out is "*"; a field given mostly asks for something
    st.fixed_dictionaries({}, optional={f: st.sampled_from(p) for f, p in PATTERNS.items()}),
    min_size=1,
    max_size=2,
)
CAP = st.none() | st.integers(1, 5)
REQUIRE = st.lists(st.sampled_from(["namespace", "revision", "environment"]), unique=True, max_size=2)
DENY = st.lists(  # every rule names a service pattern, so a rule is narrower than "deny all"
    st.fixed_dictionaries(
        {"service": st.sampled_from(PATTERNS["service"][1:])},
        optional={
            "action": st.sampled_from(["*", *TYPES]),
            **{f: st.sampled_from(PATTERNS[f][1:]) for f in ("environment", "namespace")},
        },
    ),
    max_size=2,
)
SCALE_PARAMS = st.fixed_dictionaries(
    {}, optional={"replicas": st.integers(0, 9), "replica_change": st.integers(-7, 7)}
)
CLICKS = st.lists(st.sampled_from(["U2", "U1", "U3", "U4"]), min_size=1, max_size=5)
KIND = st.sampled_from(TYPES)
KINDS = st.lists(KIND, unique=True, min_size=1, max_size=5)
ACTION_LEVEL = st.sampled_from(["act", "act", "act", "suggest", "observe"])  # act is what can go wrong
APPROVALS = {True: st.integers(0, 2), False: st.integers(1, 2)}
NOVEL_CAP = st.sampled_from(["suggest", "act"])
REVISION = st.integers(1, 9)
BUDGET = st.sampled_from(["healthy", "healthy", "burning", "exhausted"])


@st.composite
def policies(draw: st.DrawFn) -> dict[str, Any]:
    actions: dict[str, Any] = {}
    for kind in draw(KINDS):
        level = draw(ACTION_LEVEL)
        reversible = draw(st.booleans())
        approvals = draw(APPROVALS[reversible])
        users = draw(USER_LISTS)
        groups = draw(GROUP_LISTS)
        if level == "act" and approvals > 0 and not (users or groups):
            users = ["U2"]
        scopes = draw(SCOPES)
        actions[kind] = {
            "level": level,
            "reversible": reversible,
            "approvals": approvals,
            "users": users,
            "groups": groups,
            "scopes": scopes,
            "max_replica_change": draw(CAP),
            "require": draw(REQUIRE),
        }
    deny = draw(DENY)
    caps = {
        "healthy": "act",
        "burning": draw(LEVEL),
        "exhausted": "observe",
        "novel": draw(NOVEL_CAP),
    }
    return {"actions": actions, "deny": deny, "caps": caps}


def product_policy(policy: dict[str, Any], draw: st.DrawFn) -> PolicyFile:
    """The same policy as the product reads it, with patterns and group handles in disguise."""

    def pattern(p: str) -> str:
        return p.upper() if p != "*" and draw(st.booleans()) else p

    return PolicyFile.model_validate(
        {
            "deny": [
                {**{k: pattern(v) for k, v in r.items()}, "reason": "model rule"} for r in policy["deny"]
            ],
            "actions": {
                kind: {
                    "level": a["level"],
                    "reversible": a["reversible"],
                    "approvals": a["approvals"],
                    "approvers": {"users": a["users"], "groups": a["groups"]},
                    "scopes": [{k: pattern(v) for k, v in s.items()} for s in a["scopes"]],
                    "max_replica_change": a["max_replica_change"],
                    "require": a["require"],
                }
                for kind, a in policy["actions"].items()
            },
            "caps": policy["caps"],
        }
    )


@dataclass(frozen=True)
class Case:
    policy: dict[str, Any]
    product: PolicyFile
    kind: str
    names: dict[str, Name]
    params: dict[str, Any]
    budget: str
    novel: bool
    clicks: list[str]


@st.composite
def cases(draw: st.DrawFn) -> Case:
    policy = draw(policies())
    kind = draw(KIND) if draw(st.integers(0, 4)) == 4 else draw(st.sampled_from(sorted(policy["actions"])))
    action_names = {
        "service": draw(names(SERVICES)),
        "environment": draw(names(ENVIRONMENTS)),
        "namespace": draw(names(NAMESPACES)),
    }
    params: dict[str, Any] = {}
    if kind == "scale":
        params = draw(SCALE_PARAMS)
    if draw(st.booleans()):
        params["revision"] = draw(REVISION)
    return Case(
        policy,
        product_policy(policy, draw),
        kind,
        action_names,
        params,
        draw(BUDGET),
        draw(st.booleans()),
        draw(CLICKS),
    )


# -- the property ---------------------------------------------------------------------------------------


class FixedBudget:
    def __init__(self, state: str) -> None:
        self.verdict = BudgetVerdict(state, f"budget {state} (property test)")  # type: ignore[arg-type]

    def state(self, service: str) -> BudgetVerdict:
        return self.verdict


def product_approves(client: redis.Redis, case: Case) -> bool:
    """Create the proposal as the ladder would, play the clicks, and report whether it got approved."""
    params: dict[str, str | int | float | bool] = dict(case.params)
    for field_ in ("environment", "namespace"):
        shown = case.names[field_].shown
        if shown is not None:
            params[field_] = shown
    action = SuggestedAction(action_type=case.kind, target=case.names["service"].shown or "", params=params)  # type: ignore[arg-type]
    store = ProposalStore(client)
    p = Proposal(
        id=new_id(),
        incident_id="INC-P",
        channel_id="C1",
        hypothesis_id="H1",
        action=action,
        requested_by=REQUESTER,
        novel=case.novel,
        policy_sha256="",
        approvals_needed=1,
        created_at=NOW,
        expires_at=NOW + timedelta(minutes=30),
    )
    store.create(p)
    ladder = Ladder(case.product, FixedBudget(case.budget), frozenset(TYPES))  # type: ignore[arg-type]
    approved = False
    for user in case.clicks:
        result = approval.approve(store, ladder, client, p.id, user, "C1", GROUPS.get(user, []), NOW)
        approved = approved or result.execute
    return approved


def check(client: redis.Redis, case: Case) -> tuple[str, bool]:
    """Play one case through the product and the model; (the model's level, approved)."""
    level = model_level(case.policy, case.kind, case.names, case.params, case.budget, case.novel)
    want = model_approves(case.policy, case.kind, level, case.budget, case.clicks)
    got = product_approves(client, case)
    assert not (got and not want), f"the product approved what the model denies (model level {level})"
    assert got == want, f"the product refused what the model allows (model level {level})"
    return level, got


def run_property(client: redis.Redis, examples: int, tally: Counter[str] | None = None) -> Counter[str]:
    """Run the property for `examples` examples; the outcomes by model level and approval."""
    seen: Counter[str] = Counter() if tally is None else tally

    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=examples <= 500,  # the suite's profile is reproducible; the benchmark explores
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        database=None,
    )
    @given(cases())
    def prop(case: Case) -> None:
        level, approved = check(client, case)
        seen[f"{level}, {'approved' if approved else 'not approved'}"] += 1
        seen["disguised or missing names"] += any(n.shown != n.plain for n in case.names.values())

    prop()
    return seen


def test_the_product_never_approves_what_the_reference_model_denies(client: redis.Redis) -> None:
    seen = run_property(client, 300)
    assert sum(v for k, v in seen.items() if "," in k) >= 300
    assert seen["act, approved"] > 0 and seen["act, not approved"] > 0  # both sides are exercised
