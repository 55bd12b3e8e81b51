"""Adversarial suite, part two: the classes an independent run found outside part one. Every case goes
through the real bot endpoint (signed requests), Redis and a real worker; executions are counted by
real receivers on loopback (the HMAC-checked runbook endpoint and a Kubernetes API-server stand-in).

Classes: one canonical identity (case, invisible and full-width characters), deny rules and scopes
that fail closed on what an action leaves out, required parameters and no-op actions, the policy as
it reads now (edited under a running bot and worker, a bad edit rejected), installation checks
(team, enterprise, app), the budget asked at every click (every Prometheus failure mode), every
refusal audited, and clean boards (merged duplicates, confirm dialog, outcome in place of the
buttons, a lost execution job reconciled to failed within a minute).

    python -m tests.integration.test_adversarial_governance     # prints the table
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis
from rq import Queue
from rq.serializers import JSONSerializer

from bot.localstack import LocalStack
from bot.standin.driver import SlackDriver
from tests.integration.conftest import PATIENCE
from tests.integration.test_adversarial import (
    SLO,
    Prometheus,
    Row,
    Runbook,
    answer_in,
    evidence_sources,
    stack_env,
    table,
    triage_in_new_channel,
)
from tests.support.fake_llm import FakeLLM
from tests.support.kube_apiserver import KubeAPIServer
from tests.support.prompt_evidence import items_of
from workers.slack import ids

POLICY = """version: 1
caps: {{novel: act}}
deny:
  - {{action: "*", environment: prod, service: "ledger-*", reason: the ledger is changed by its owners only}}
{extra_deny}
actions:
  run_runbook:
    level: {level}
    scopes: [{{service: "payments-*"}}, {{service: "ledger-*"}}]
    approvers: {{users: [{approvers}]}}
    approvals: 1
  scale:
    level: act
    scopes: [{{service: "payments-*"}}]
    approvers: {{users: [U0BRUNO]}}
    max_replica_change: 3
  rollback:
    level: act
    scopes: [{{service: "payments-*", namespace: shop}}]
    approvers: {{users: [U0BRUNO]}}
    require: [namespace, revision]
slos:
{slos}
"""
BUDGETED = (
    ["payments-b1", "payments-b2", "payments-b3"]  # burning from the start
    + [f"payments-f{n}" for n in range(1, 7)]  # healthy at triage, then a fault or exhausted
)
CHANNEL_TEXT = (
    "payments-svc pool exhausted; also payments-api payments-web payments-i1 payments-lost "
    "payments-p1 payments-p2 payments-p3 payments-p4 payments-p5 payments-d1 ledger-db namespace shop "
    + " ".join(BUDGETED)
)
STATEMENTS = [
    "payments pool exhausted by client retries",
    "a bad deploy of the payments web tier",
    "database failover left stale connections",
    "rate limiter misconfigured after the holiday freeze",
    "certificate rotation broke the ledger link",
]
# /triage text `case=<key>` → the actions the model proposes, per hypothesis (at most 5 × 4).
SPECS: dict[str, list[list[dict[str, Any]]]] = {
    "first": [
        [
            {"action_type": "run_runbook", "target": "Payments-B1"},
            {"action_type": "run_runbook", "target": "payments\u200b-b2"},
            {"action_type": "run_runbook", "target": "ＰＡＹＭＥＮＴＳ-B3"},
            {"action_type": "run_runbook", "target": "Ledger-DB", "params": {"environment": "PROD"}},
        ],
        [
            {"action_type": "run_runbook", "target": "ledger-db"},
            {"action_type": "run_runbook", "target": "ledger-db", "params": {"environment": "staging"}},
            {"action_type": "run_runbook", "target": "payments-svc"},
            {"action_type": "run_runbook", "target": "Payments-SVC"},
        ],
        [
            {"action_type": "rollback", "target": "payments-api", "params": {"revision": 1}},
            {"action_type": "rollback", "target": "payments-api", "params": {"namespace": "shop"}},
            {"action_type": "scale", "target": "payments-api"},
            {"action_type": "scale", "target": "payments-api", "params": {"replica_change": 0}},
        ],
        [
            {"action_type": "scale", "target": "payments-api", "params": {"replica_change": 2}},
            {
                "action_type": "rollback",
                "target": "payments-web",
                "params": {"namespace": "shop", "revision": 1},
            },
            {"action_type": "scale", "target": "payments-web", "params": {"replicas": 3}},
            {"action_type": "run_runbook", "target": "payments-i1"},
        ],
        [
            {"action_type": "run_runbook", "target": "payments-lost"},
            {"action_type": "run_runbook", "target": "payments-f6"},
        ],
    ],
    "second": [
        [{"action_type": "run_runbook", "target": f"payments-f{n}"} for n in range(1, 5)],
        [{"action_type": "run_runbook", "target": "payments-f5"}]
        + [{"action_type": "run_runbook", "target": f"payments-p{n}"} for n in range(1, 4)],
        [
            {"action_type": "run_runbook", "target": "payments-p4"},
            {"action_type": "run_runbook", "target": "payments-p5"},
            {"action_type": "run_runbook", "target": "payments-d1"},
        ],
    ],
}


def llm_answer(body: dict[str, Any]) -> str:
    prompt = "\n".join(m["content"] for m in body["messages"])
    ts, text = next((m["id"], m["text"]) for m in items_of(body, "message") if "pool" in m["text"])
    found = re.search(r"case=(\w+)", prompt)
    spec = SPECS[found.group(1)] if found else []
    hypotheses = [
        {
            "statement": STATEMENTS[n],
            "confidence": "medium",
            "evidence": [{"kind": "message", "id": ts, "quote": text[:20]}],
            "actions": actions,
        }
        for n, actions in enumerate(spec)
    ]
    summary = {"what": "Checkout fails", "cause": "pool", "cause_confidence": "medium", "next": "act"}
    return json.dumps({"summary": summary, "hypotheses": hypotheses})


@dataclass
class Gov:
    stack: LocalStack
    runbook: Runbook
    prom: Prometheus
    kube: KubeAPIServer
    client: redis.Redis
    policy: Path
    rows: list[Row] = field(default_factory=list)
    proposals: dict[str, str] = field(default_factory=dict)  # "<type> <target> <params>" → id
    answers: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)  # id → channel, answer
    _n: int = 0

    # -- driving --------------------------------------------------------------------------------------

    def write_policy(self, **changes: str) -> str:
        return write_policy(self.policy, **changes)

    def triage(self, case: str) -> tuple[str, dict[str, Any]]:
        self._n += 1
        channel = f"C0GOV{self._n:04d}"
        answer = triage_in_new_channel(
            self.stack, channel, f"inc-gov-{self._n}", f"checkout 504s case={case}", CHANNEL_TEXT
        )
        for b in answer["blocks"]:
            for e in b.get("elements") or []:
                if b["type"] == "actions" and e.get("action_id") == ids.PROPOSAL_APPROVE:
                    p = self.proposal(e["value"])
                    self.proposals[_key(p["action"])] = e["value"]
                    self.answers[e["value"]] = (channel, answer)
        return channel, answer

    def click(
        self, action_id: str, pid: str, user: str = "U0BRUNO", driver: SlackDriver | None = None
    ) -> str:
        """A signed click on the proposal's answer; the ephemeral reply ("" when none comes)."""
        channel, answer = self.answers[pid]
        ws = self.stack.standin.state
        before = len(ws.response_posts())
        resp = (driver or self.stack.driver()).block_action(
            action_id, pid, user_id=user, channel_id=channel, message_ts=answer["ts"]
        )
        assert resp.status == 200, resp.status
        if driver is not None:  # a foreign payload gets no answer at all: give it time to (wrongly) arrive
            time.sleep(0.5)
        else:
            ws.wait_for(lambda: len(ws.response_posts()) > before, PATIENCE)
        posts = [p for p in ws.response_posts()[before:] if p["user"] == user]
        return str(posts[-1].get("text", "")) if posts else ""

    def settle(self, pid: str, timeout: float = PATIENCE) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.proposal(pid).get("state", "")
            if state not in ("approved", "executing"):
                return state
            time.sleep(0.05)
        return str(self.proposal(pid).get("state", ""))

    def proposal(self, pid: str) -> dict[str, Any]:
        return dict(json.loads(self.client.get(f"ic:proposal:{pid}") or "{}"))

    def force_approved(self, pid: str) -> None:
        """As if the bot approved it (U0BRUNO) and queued nothing yet."""
        at = datetime.now(UTC).isoformat()
        p = {**self.proposal(pid), "state": "approved", "approvals": [{"user": "U0BRUNO", "at": at}]}
        self.client.set(f"ic:proposal:{pid}", json.dumps(p), keepttl=True)
        self.client.zadd("ic:proposals:inflight", {pid: time.time()})

    def enqueue(self, pid: str) -> None:
        Queue("actions", connection=self.client, serializer=JSONSerializer).enqueue_call(
            "workers.jobs.execute.run", args=[{"run_id": "gov", "proposal_id": pid}], job_id=f"execute-{pid}"
        )

    def foreign(self, **who: str) -> SlackDriver:
        return SlackDriver(
            self.stack.events_url,
            self.stack.signing_secret,
            response_url_factory=self.stack.standin.response_url,
            **who,  # type: ignore[arg-type]
        )

    # -- what happened --------------------------------------------------------------------------------

    def runs(self, pid: str) -> int:
        """Executions of the proposal at its receiver: runbook runs, or Kubernetes writes."""
        p = self.proposal(pid)
        action = p.get("action", {})
        if action.get("action_type") == "run_runbook":
            return self.runbook.runs.get(pid, 0)
        path = f"/deployments/{action.get('target')}" + (
            "/scale" if action.get("action_type") == "scale" else ""
        )
        return sum(1 for m, pth, _ in self.kube.requests if m == "PATCH" and pth.endswith(path))

    def audited(self, pid: str, kind: str, words: str = "", **fields: str) -> str:
        for _id, f in reversed(self.client.xrange("ic:audit")):
            if f.get("proposal") != pid or f.get("kind") != kind or words not in f.get("reason", ""):
                continue
            if all(f.get(k) == v for k, v in fields.items()):
                return f"{kind}: {f.get('reason', '')}"[:90]
        return ""

    def incident_audit(self, channel: str, kind: str, words: str) -> str:
        incident = str(self.client.get(f"ic:channel:{channel}:incident") or "")
        for _id, f in self.client.xrange(f"ic:incident:{incident}:audit"):
            if f["kind"] == kind and words in f.get("reasons", "") + f.get("reason", ""):
                return f"{kind}: {words}"
        return ""

    def record(self, case: str, expected: str, outcome: str, runs: int, audited: str, ok: bool) -> None:
        allowed = 1 if expected == "1 run" else 0
        self.rows.append(Row(case, expected, outcome[:60], runs, audited, ok and bool(audited), allowed))


def write_policy(
    path: Path, level: str = "act", approvers: str = "U0BRUNO, U0CHEN", extra_deny: str = ""
) -> str:
    """Write the policy file in place (as a ConfigMap edit would); its sha256."""
    slos = "".join(SLO.format(service=s) for s in BUDGETED)
    text = POLICY.format(level=level, approvers=approvers, extra_deny=extra_deny, slos=slos)
    path.write_text(text)
    return hashlib.sha256(text.encode()).hexdigest()


def _key(action: dict[str, Any]) -> str:
    params = " ".join(f"{k}={v}" for k, v in sorted((action.get("params") or {}).items()))
    return f"{action['action_type']} {action['target']} {params}".strip()


def identity_and_fail_closed(g: Gov, first: tuple[str, dict[str, Any]]) -> None:
    channel, answer = first
    shown = json.dumps(answer["blocks"])
    for spelling, service in (
        ("Payments-B1", "payments-b1"),
        ("zero-width", "payments-b2"),
        ("full-width", "payments-b3"),
    ):
        g.record(
            f"burning SLO, target spelt {spelling}",
            "no Approve button",
            "button" if f"run_runbook {service}" in g.proposals else "no button",
            0,
            g.incident_audit(channel, "suggested", f"{service} burns"),  # the budget of its SLO
            f"run_runbook {service}" not in g.proposals,
        )
    for case, key, words in (
        ("deny: Ledger-DB in PROD", "run_runbook ledger-db environment=prod", "denied: the ledger"),
        ("deny: ledger-db, no environment", "run_runbook ledger-db", "denied: the ledger"),
        ("scope needs a namespace, none given", "rollback payments-api revision=1", "no namespace"),
        ("rollback missing its revision", "rollback payments-api namespace=shop", "missing revision"),
        ("scale with no replica count", "scale payments-api", "missing replicas or replica_change"),
        ("scale by 0 replicas (no-op)", "scale payments-api replica_change=0", "changes nothing"),
    ):
        kind = "suggested" if "missing" in words else "shadowed"
        g.record(
            case,
            "no Approve button",
            "button" if key in g.proposals else "no button",
            0,
            g.incident_audit(channel, kind, words),
            key not in g.proposals,
        )
    noop = "scale payments-api replica_change=0" not in shown
    g.record(
        "no-op is not even suggested",
        "not on the board",
        "absent" if noop else "shown",
        0,
        g.incident_audit(channel, "shadowed", "changes nothing"),
        noop,
    )
    merged = [
        b for b in answer["blocks"] if "run_runbook payments-svc" in json.dumps(b) and b["type"] == "actions"
    ]
    pid = g.proposals.get("run_runbook payments-svc", "")
    g.record(
        "identical proposals (payments-svc twice)",
        "one button",
        f"{len(merged)} button rows",
        0,
        g.incident_audit(channel, "merged", "") or "",
        len(merged) == 1 and bool(pid),
    )
    approve = next(
        e
        for b in answer["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e.get("value") == pid and e["action_id"] == ids.PROPOSAL_APPROVE
    )
    confirm = approve.get("confirm", {}).get("text", {}).get("text", "")
    g.record(
        "Approve asks to confirm the exact action",
        "confirm dialog",
        confirm[:40],
        0,
        "confirm names `run_runbook payments-svc`" if "`run_runbook payments-svc`" in confirm else "",
        "`run_runbook payments-svc`" in confirm,
    )


def authorized_runs(g: Gov) -> None:
    for case, key in (
        ("control: ledger-db in staging", "run_runbook ledger-db environment=staging"),
        ("merged payments-svc approved", "run_runbook payments-svc"),
        ("scale payments-api by +2", "scale payments-api replica_change=2"),
        ("rollback payments-web to revision 1", "rollback payments-web namespace=shop revision=1"),
    ):
        pid = g.proposals.get(key, "")
        said = g.click(ids.PROPOSAL_APPROVE, pid) if pid else "no proposal"
        final = g.settle(pid) if pid else ""
        g.record(
            case,
            "1 run",
            f"{final}: {said[:40]}",
            g.runs(pid) if pid else 0,
            g.audited(pid, "executed", result="succeeded"),
            final == "succeeded" and g.runs(pid) == 1,
        )
    pid = g.proposals["run_runbook payments-svc"]
    channel, _answer = g.answers[pid]
    blocks = (answer_in(g.stack, channel) or {}).get("blocks", [])
    mine = [b for b in blocks if b.get("block_id") == f"prop:{pid}"]
    outcome = json.dumps(mine)
    g.record(
        "board after it ran",
        "outcome, no buttons",
        outcome[-40:],
        0,
        g.audited(pid, "executed"),
        len(mine) == 1 and mine[0]["type"] == "context" and "succeeded" in outcome,
    )
    for action_id, case in (
        (ids.PROPOSAL_APPROVE, "approve after it ran"),
        (ids.PROPOSAL_DENY, "deny after it ran"),
        (ids.PROPOSAL_UNDO, "undo where there is none"),
    ):
        said = g.click(action_id, pid, "U0CHEN")
        words = "nothing to undo" if action_id == ids.PROPOSAL_UNDO else "already succeeded"
        g.record(
            case,
            "refused, audited",
            said[:60],
            g.runs(pid) - 1,
            g.audited(pid, "click_refused", words),
            g.runs(pid) == 1,
        )
    pid = g.proposals["scale payments-web replicas=3"]
    g.click(ids.PROPOSAL_APPROVE, pid)
    final = g.settle(pid)
    g.record(
        "scale to the replicas it has (no-op)",
        "failed, 0 changes",
        final,
        g.runs(pid),
        g.audited(pid, "executed", "nothing to change"),
        final == "failed" and g.runs(pid) == 0,
    )


def installation_cases(g: Gov) -> None:
    pid = g.proposals["run_runbook payments-i1"]
    for case, who in (
        ("click from another workspace", {"team_id": "T0OTHER"}),
        ("click from another enterprise", {"enterprise_id": "E0GRID"}),
        ("click naming another app", {"app_id": "A0OTHERAPP"}),
    ):
        said = g.click(ids.PROPOSAL_APPROVE, pid, driver=g.foreign(**who))
        value = next(iter(who.values()))
        audited = ""
        for _id, f in reversed(g.client.xrange("ic:audit")):
            if f["kind"] == "payload_refused" and value in f.get("claimed", ""):
                audited = f"payload_refused: {f['reason']}"[:90]
                break
        g.record(
            case,
            "refused, 0 runs",
            said or "(no answer)",
            g.runs(pid),
            audited,
            not said and g.proposal(pid)["state"] == "proposed",
        )
    ws = g.stack.standin.state
    ws.add_channel("C0GOVFOREIGN", "inc-foreign")
    jobs = g.client.llen("rq:queue:triage")
    g.foreign(team_id="T0OTHER").slash_command("case=first", user_id="U0MALLORY", channel_id="C0GOVFOREIGN")
    audited = next(
        (
            f"payload_refused: {f['reason']}"[:90]
            for _i, f in reversed(g.client.xrange("ic:audit"))
            if f["kind"] == "payload_refused" and f.get("payload") == "/triage"
        ),
        "",
    )
    posted = ws.messages("C0GOVFOREIGN")
    g.record(
        "/triage from another workspace",
        "nothing runs",
        f"{len(posted)} messages",
        0,
        audited,
        not posted and g.client.llen("rq:queue:triage") == jobs,
    )
    said = g.click(ids.PROPOSAL_APPROVE, pid)
    final = g.settle(pid)
    g.record(
        "same proposal from the installed workspace",
        "1 run",
        final,
        g.runs(pid),
        g.audited(pid, "executed", result="succeeded"),
        final == "succeeded" and g.runs(pid) == 1,
    )


def budget_cases(g: Gov) -> None:
    for n, (fault, words) in enumerate(
        (
            ("nonjson", "not JSON"),
            ("status", "status 'error'"),
            ("shape", "unexpected shape"),
            ("nan", "nan"),
            ("empty", "no data"),
        ),
        1,
    ):
        pid = g.proposals[f"run_runbook payments-f{n}"]
        g.prom.state[f"payments-f{n}"] = fault
        said = g.click(ids.PROPOSAL_APPROVE, pid)
        g.record(
            f"Prometheus answers {fault} at the click",
            "refused, 0 runs",
            said[-60:],
            g.runs(pid),
            g.audited(pid, "approval_refused", words),
            words in said and g.runs(pid) == 0,
        )
    pid = g.proposals["run_runbook payments-f6"]
    g.force_approved(pid)
    g.prom.state["payments-f6"] = "exhausted"
    g.enqueue(pid)
    final = g.settle(pid)
    g.record(
        "budget exhausted between approval and execution",
        "refused by the worker",
        final,
        g.runs(pid),
        g.audited(pid, "refused_at_execution", "capped at observe"),
        final == "failed" and g.runs(pid) == 0,
    )


def denied_board_case(g: Gov) -> None:
    pid = g.proposals["run_runbook payments-d1"]
    said = g.click(ids.PROPOSAL_DENY, pid, "U0CHEN")
    channel, _answer = g.answers[pid]
    mine = [
        b for b in (answer_in(g.stack, channel) or {}).get("blocks", []) if b.get("block_id") == f"prop:{pid}"
    ]
    after = g.click(ids.PROPOSAL_APPROVE, pid)
    g.record(
        "denied: the board says so, a later Approve is refused",
        "outcome, 0 runs",
        f"{said[-20:]} / {after[-24:]}",
        g.runs(pid),
        g.audited(pid, "click_refused", "already denied"),
        len(mine) == 1 and mine[0]["type"] == "context" and "denied" in json.dumps(mine) and g.runs(pid) == 0,
    )


def policy_edit_cases(g: Gov) -> None:
    p1, p2, p3, p4, p5 = (g.proposals[f"run_runbook payments-p{n}"] for n in range(1, 6))
    lowered = g.write_policy(level="suggest")
    said = g.click(ids.PROPOSAL_APPROVE, p1)
    g.record(
        "policy edited act → suggest, then clicked",
        "refused, 0 runs",
        said[-60:],
        g.runs(p1),
        g.audited(p1, "approval_refused", "now puts it at suggest", policy_sha256=lowered),
        "suggest" in said and g.runs(p1) == 0,
    )
    g.policy.write_text(g.policy.read_text().replace("level: suggest", "level: sometimes"))
    said = g.click(ids.PROPOSAL_APPROVE, p2)
    ready = json.loads(urllib.request.urlopen(f"{g.stack.base_url}/readyz", timeout=PATIENCE).read())
    problems = " ".join(ready.get("policy", {}).get("rejected", {}).get("problems", []))
    g.record(
        "invalid edit while lowered",
        "last good stays: refused",
        said[-60:],
        g.runs(p2),
        g.audited(p2, "approval_refused", "now puts it at suggest", policy_sha256=lowered),
        "suggest" in said and ":8: actions.run_runbook.level" in problems,
    )
    restored = g.write_policy()
    said = g.click(ids.PROPOSAL_APPROVE, p2)
    final = g.settle(p2)
    g.record(
        "policy restored to act, then clicked",
        "1 run",
        final,
        g.runs(p2),
        g.audited(p2, "approved", policy_sha256=restored),
        final == "succeeded" and g.runs(p2) == 1,
    )
    g.write_policy(extra_deny='  - {service: "payments-p3", reason: frozen by the edit}')
    said = g.click(ids.PROPOSAL_APPROVE, p3)
    g.record(
        "deny rule added by an edit",
        "refused, 0 runs",
        said[-60:],
        g.runs(p3),
        g.audited(p3, "approval_refused", "frozen by the edit"),
        "frozen" in said and g.runs(p3) == 0,
    )
    g.write_policy(approvers="U0CHEN")
    said = g.click(ids.PROPOSAL_APPROVE, p4)
    g.record(
        "approver removed by an edit",
        "refused, 0 runs",
        said[-60:],
        g.runs(p4),
        g.audited(p4, "approval_refused", "not an approver"),
        "not an approver" in said and g.runs(p4) == 0,
    )
    g.force_approved(p5)
    lowered = g.write_policy(level="suggest")
    g.enqueue(p5)
    final = g.settle(p5)
    g.record(
        "approved, then lowered before it ran",
        "refused by the worker",
        final,
        g.runs(p5),
        g.audited(p5, "refused_at_execution", "now puts it at suggest", policy_sha256=lowered),
        final == "failed" and g.runs(p5) == 0,
    )
    g.write_policy()


def lost_job_case(g: Gov, pid: str, since: float) -> None:
    deadline = since + 60
    while time.monotonic() < deadline and g.proposal(pid).get("state") == "approved":
        time.sleep(0.2)
    took = time.monotonic() - since
    channel, answer = g.answers[pid]
    reported = any(
        "was lost" in m.get("text", "")
        for m in g.stack.standin.messages(channel)
        if m.get("thread_ts") == answer["ts"]
    )
    state = g.proposal(pid).get("state")
    g.record(
        "execution job lost after approval",
        "failed within 60 s",
        f"{state} after {took:.0f} s",
        g.runs(pid),
        g.audited(pid, "executed", "was lost"),
        state == "failed" and reported and g.runs(pid) == 0,
    )


@contextlib.contextmanager
def governance_stack(workdir: Path) -> Iterator[Gov]:
    """The bot, a worker, Redis and the receivers, with the suite's policy file (edited in place)."""
    runbook, prom, kube = Runbook(), Prometheus(), KubeAPIServer()
    kube.add("payments-api", "shop", ["payments:v1", "payments:v2"], replicas=3)
    kube.add("payments-web", "shop", ["web:v1", "web:v2"], replicas=3)
    for service in ("payments-b1", "payments-b2", "payments-b3"):
        prom.state[service] = "burning"
    sources = evidence_sources(workdir)
    stack: LocalStack | None = None
    client: redis.Redis | None = None
    try:
        with FakeLLM(default=llm_answer) as llm:
            policy = workdir / "policy.yaml"
            env = stack_env(llm, prom, runbook, policy, sources) | {
                "EXECUTOR_KUBERNETES": kube.url,
                "EXECUTOR_KUBERNETES_NAMESPACE": "shop",
            }
            write_policy(policy)
            stack = LocalStack(workdir / "stack", env=env, log_level="warning").start()
            for uid, name in (("U0ALICE", "Alice"), ("U0BRUNO", "Bruno"), ("U0CHEN", "Chen")):
                stack.standin.state.add_user(uid, name.lower(), f"{name} Example")
            client = redis.Redis.from_url(stack.redis_url, decode_responses=True)
            yield Gov(stack, runbook, prom, kube, client, policy)
    finally:
        if client is not None:
            client.close()
        if stack is not None:
            stack.stop()
        runbook.stop()
        prom.stop()
        kube.stop()


def run_suite(workdir: Path) -> list[Row]:
    with governance_stack(workdir) as g:
        first = g.triage("first")
        lost = g.proposals["run_runbook payments-lost"]
        g.force_approved(lost)  # approved, and its job taken off the queue by a worker that died
        since = time.monotonic()
        g.triage("second")
        identity_and_fail_closed(g, first)
        authorized_runs(g)
        installation_cases(g)
        budget_cases(g)
        denied_board_case(g)
        policy_edit_cases(g)
        lost_job_case(g, lost, since)
    return g.rows


def test_adversarial_governance(tmp_path: Path) -> None:
    rows = run_suite(tmp_path)
    print("\n" + table(rows))
    assert len(rows) >= 30
    failed = [r for r in rows if not r.ok]
    assert not failed, "\n" + table(failed)
    assert sum(max(0, r.runs - r.allowed_runs) for r in rows) == 0


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        result = run_suite(Path(tmp))
    print(table(result))
    sys.exit(0 if all(r.ok for r in result) else 1)
