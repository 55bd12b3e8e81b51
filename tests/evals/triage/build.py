"""Build the labelled triage evaluation set from `classes.yaml` into a directory (deterministic).

    python -m tests.evals.triage.build OUT_DIR

Writes `OUT_DIR/kb/` (past postmortems in five templates) and `OUT_DIR/cases/<id>/` per incident:
`logs/<service>.log` (incident window), `baseline/<service>.log` (the hour before), `channel.jsonl`
(what people said), and `case.json` (text, class, novel, split, key, names). See README.md.
"""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
SEED = 20261103
INCIDENTS_PER_CLASS = 2
INCIDENT_MIN = 30
BASELINE_MIN = 60
NOISE_EVERY_S = (8, 20)  # seconds between routine lines, per service

ROUTINE = [
    ("INFO", "request completed method=GET path=/healthz status=200 duration={ms}ms"),
    ("INFO", "request completed method=POST path=/api/v1/items status=200 duration={ms}ms trace_id={hex}"),
    ("INFO", "cache refresh done entries={n} took={ms}ms"),
    ("DEBUG", "scheduler tick queue_depth={n}"),
    ("INFO", "published metrics batch size={n}"),
]
BACKGROUND = [  # low-rate errors every service has, in both windows
    ("WARN", "client disconnected before response was written status=499 path=/api/v1/items"),
    ("ERROR", "request aborted by client: context canceled trace_id={hex}"),
]
BYSTANDERS = ["search-api", "audit-log", "user-prefs", "feature-store", "session-svc"]
# Scary-looking lines as frequent in the baseline as in the incident: a red herring by rate.
STEADY_HERRINGS = [
    ("WARN", "HikariPool-1 - Thread starvation or clock leap detected (housekeeper delta=1m{n}s)."),
    ("WARN", "Liveness probe failed: HTTP probe failed with statuscode: 500 pod={hex}"),
    ("ERROR", "failed to export spans to otel-collector:4317: context deadline exceeded"),
    ("", "[gc] GC({n}) Pause Young (Normal) (G1 Evacuation Pause) 3{n}M->1{n}M(256M) 8.{n}ms"),
]
# New in the incident window, but late and unrelated: a red herring by time.
LATE_HERRINGS = [
    (
        "WARN",
        "deprecated config key 'server.max-http-header-size' used; use 'server.max-http-request-header-size'",
    ),
    ("ERROR", "disk usage 91% on /var/lib/containerd above warning threshold 90%"),
    ("WARN", "certificate for internal-metrics.example expires in 29 days"),
]
CHATTER = [
    "anyone else seeing this?",
    "I'm looking at the dashboards",
    "paging the service owner",
    "status page updated",
]


@dataclass
class Case:
    id: str
    cls: str
    names: list[str]
    key: str
    text: str
    novel: bool
    split: str
    start: datetime
    services: list[str]
    red_herring: bool
    logs: dict[str, list[tuple[datetime, str]]] = field(default_factory=dict)
    baseline: dict[str, list[tuple[datetime, str]]] = field(default_factory=dict)


def _fill(template: str, rng: random.Random) -> str:
    out = template
    for name, make in (
        ("{n}", lambda: str(rng.randint(2, 9999))),
        ("{ms}", lambda: str(rng.randint(3, 30000))),
        ("{hex}", lambda: f"{rng.getrandbits(48):012x}"),
        ("{pod}", lambda: f"{rng.getrandbits(20):05x}-{rng.getrandbits(20):05x}"),
        ("{ip}", lambda: f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"),
    ):
        while name in out:
            out = out.replace(name, make(), 1)
    return out


def _line(at: datetime, svc: str, level: str, text: str, as_json: bool) -> str:
    stamp = at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"
    if as_json:
        record = {"time": stamp, "level": (level or "info").lower(), "service": svc, "msg": text}
        return json.dumps(record)
    return f"{stamp} {level} {svc} {text}" if level else f"{stamp} {svc} {text}"


def _spread(rng: random.Random, start: datetime, end: datetime, count: int) -> Iterator[datetime]:
    span = (end - start).total_seconds()
    for _ in range(count):
        yield start + timedelta(seconds=rng.uniform(0, span))


def _routine(rng: random.Random, svc: str, start: datetime, end: datetime) -> list[tuple[datetime, str, str]]:
    out = []
    at = start + timedelta(seconds=rng.uniform(0, 5))
    while at < end:
        level, tpl = rng.choice(ROUTINE)
        out.append((at, level, _fill(tpl, rng)))
        at += timedelta(seconds=rng.uniform(*NOISE_EVERY_S))
    for level, tpl in BACKGROUND:
        for t in _spread(rng, start, end, rng.randint(1, 3) * int((end - start).total_seconds() // 1800)):
            out.append((t, level, _fill(tpl, rng)))
    return out


def build_case(spec: dict[str, Any], n: int, rng: random.Random, day: int, in_kb: bool) -> Case:
    t0 = datetime(2026, 9, 1, 10, 40, tzinfo=UTC) + timedelta(days=day, minutes=rng.randint(-90, 90))
    end = t0 + timedelta(minutes=INCIDENT_MIN)
    b0 = t0 - timedelta(minutes=BASELINE_MIN)
    herring = day % 3 == 0
    bystanders = rng.sample(BYSTANDERS, 2)
    involved = [spec["cause"], *spec["victims"]]
    involved += [s["svc"] for s in spec["mechanism"] + spec["symptoms"]]
    involved += [spec["change"]["svc"]] if spec.get("change") else []
    services = list(dict.fromkeys([*involved, *bystanders]))
    as_json = {rng.choice(services)}
    inc: dict[str, list[tuple[datetime, str, str]]] = {s: _routine(rng, s, t0, end) for s in services}
    base: dict[str, list[tuple[datetime, str, str]]] = {s: _routine(rng, s, b0, t0) for s in services}
    at = t0 + timedelta(minutes=rng.uniform(0.5, 2.5))
    if spec.get("change"):
        ch = spec["change"]
        inc[ch["svc"]].append((at, ch["level"], _fill(ch["line"], rng)))
        at += timedelta(minutes=rng.uniform(1.5, 4))
    first = at
    for k, m in enumerate(spec["mechanism"]):
        count = 2 if spec["id"] == "cron_double" else rng.randint(3, 25) if k == 0 else rng.randint(2, 10)
        start = first + timedelta(seconds=20 * k)
        times = [start, *_spread(rng, start, min(end, start + timedelta(minutes=12)), count - 1)]
        inc[m["svc"]] += [(t, m["level"], _fill(m["line"], rng)) for t in times]
    sym_start = first + timedelta(minutes=rng.uniform(0.5, 2))
    for s in spec["symptoms"]:
        inc[s["svc"]] += [
            (t, s["level"], _fill(s["line"], rng)) for t in _spread(rng, sym_start, end, rng.randint(40, 220))
        ]
        if rng.random() < 0.5:  # the symptom also happens now and then on a normal day
            base[s["svc"]] += [(t, s["level"], _fill(s["line"], rng)) for t in _spread(rng, b0, t0, 2)]
    if herring:
        level, tpl = rng.choice(STEADY_HERRINGS)
        svc = bystanders[0]
        rate = rng.randint(8, 20)
        inc[svc] += [(t, level, _fill(tpl, rng)) for t in _spread(rng, t0, end, rate)]
        base[svc] += [(t, level, _fill(tpl, rng)) for t in _spread(rng, b0, t0, rate * 2)]
        level, tpl = rng.choice(LATE_HERRINGS)
        late = sym_start + timedelta(minutes=rng.uniform(6, 12))
        inc[bystanders[1]] += [
            (t, level, _fill(tpl, rng)) for t in _spread(rng, late, end, rng.randint(2, 6))
        ]
    case = Case(
        id=f"E{day + 1:02d}-{spec['id']}",
        cls=spec["id"],
        names=spec["names"],
        key=spec["key"],
        text=spec["texts"][n % len(spec["texts"])],
        novel=not in_kb,
        split="held-out" if day % 3 == 2 else "dev",
        start=t0,
        services=services,
        red_herring=herring,
    )
    for target, windows in ((case.logs, inc), (case.baseline, base)):
        for svc, lines in windows.items():
            target[svc] = [(t, _line(t, svc, lvl, txt, svc in as_json)) for t, lvl, txt in sorted(lines)]
    return case


def write_case(case: Case, out: Path, rng: random.Random) -> None:
    root = out / "cases" / case.id
    for folder, windows in (("logs", case.logs), ("baseline", case.baseline)):
        (root / folder).mkdir(parents=True, exist_ok=True)
        for svc, lines in windows.items():
            (root / folder / f"{svc}.log").write_text("".join(line + "\n" for _, line in lines))
    said = [case.text, *rng.sample(CHATTER, 2)]
    with (root / "channel.jsonl").open("w") as f:
        for k, text in enumerate(said):
            ts = (case.start + timedelta(minutes=3 + 4 * k)).timestamp()
            f.write(json.dumps({"ts": f"{ts:.6f}", "user": f"U0{k}ONCALL", "text": text}) + "\n")
    meta = {
        "id": case.id,
        "class": case.cls,
        "names": case.names,
        "key": case.key,
        "text": case.text,
        "novel": case.novel,
        "split": case.split,
        "red_herring": case.red_herring,
        "services": case.services,
        "start": case.start.isoformat(),
    }
    (root / "case.json").write_text(json.dumps(meta, indent=2) + "\n")


# Five postmortem templates, as teams write them.
def _sre(rid: str, cls: str, pm: dict[str, Any]) -> tuple[str, str]:
    sig = "".join(f"- `{s}`\n" for s in pm.get("signature", []))
    text = (
        f"---\nid: {rid}\ntitle: {json.dumps(pm['title'])}\ntags: [cause:{cls}]\n---\n\n# {pm['title']}\n\n"
        f"## Summary\n{pm['symptoms'][0].capitalize()}.\n\n## Symptoms\n"
        + "".join(f"- {s}\n" for s in pm["symptoms"])
        + f"\n## Root Causes\n- {pm['root_cause']}\n\n## Resolution\n{pm['resolution']}.\n"
        + (f"\n## Log signature\n{sig}" if sig else "")
    )
    return f"{rid}.md", text


def _pagerduty(rid: str, cls: str, pm: dict[str, Any]) -> tuple[str, str]:
    text = (
        f"---\nid: {rid}\ntags: [cause:{cls}]\n---\n# {pm['title']}\n\n## Overview\n"
        f"During this incident we saw {', '.join(pm['symptoms'])}.\n\n## What Happened\n"
        f"The on-call was paged. {pm['symptoms'][0].capitalize()}.\n\n## Root Cause\n{pm['root_cause']}.\n\n"
        f"## Resolution and Recovery\n{pm['resolution']}.\n\n## Action Items\n- add an alert for this\n"
    )
    return f"{rid}.md", text


def _atlassian(rid: str, cls: str, pm: dict[str, Any]) -> tuple[str, str]:
    sig = "".join(f"    {s}\n" for s in pm.get("signature", []))
    text = (
        f"---\nid: {rid}\ntags: [cause:{cls}]\n---\n# Postmortem: {pm['title']}\n\n## Incident summary\n"
        f"Between 10:00 and 11:00 UTC customers were affected: {pm['symptoms'][0]}.\n\n## Fault\n"
        + "".join(f"- {s}\n" for s in pm["symptoms"])
        + f"\n## Five whys and root cause\n{pm['root_cause']}.\n\n## Recovery\n{pm['resolution']}.\n"
        + (f"\n## Log messages\n{sig}" if sig else "")
    )
    return f"{rid}.md", text


def _json(rid: str, cls: str, pm: dict[str, Any]) -> tuple[str, str]:
    doc = {
        "id": rid,
        "title": pm["title"],
        "symptoms": pm["symptoms"],
        "root_causes": [pm["root_cause"]],
        "resolution": pm["resolution"],
        "tags": [f"cause:{cls}"],
        "log_signature": pm.get("signature", []),
    }
    return f"{rid}.json", json.dumps(doc, indent=2) + "\n"


def _yaml(rid: str, cls: str, pm: dict[str, Any]) -> tuple[str, str]:
    doc = {
        "id": rid,
        "title": pm["title"],
        "summary": "; ".join(pm["symptoms"]),
        "root_causes": [pm["root_cause"]],
        "resolution": pm["resolution"],
        "tags": [f"cause:{cls}"],
    }
    return f"{rid}.yaml", yaml.safe_dump(doc, sort_keys=False)


TEMPLATES = [_sre, _pagerduty, _atlassian, _json, _yaml]


def build_kb(out: Path) -> int:
    """Write the knowledge base's postmortems into `out/kb`; returns how many."""
    spec = yaml.safe_load((HERE / "classes.yaml").read_text())
    (out / "kb").mkdir(parents=True, exist_ok=True)
    postmortems = [(c["id"], pm) for c in spec["classes"] for pm in c.get("kb", [])]
    postmortems += [(f"other{k}", pm) for k, pm in enumerate(spec["singletons"])]
    for k, (cls, pm) in enumerate(postmortems):
        name, text = TEMPLATES[k % len(TEMPLATES)](f"PM-{2024 + k // 20}-{k:03d}", cls, pm)
        (out / "kb" / name).write_text(text)
    return len(postmortems)


def build(out: Path) -> dict[str, Any]:
    """Write the set into `out`; returns counts for the README's table."""
    spec = yaml.safe_load((HERE / "classes.yaml").read_text())
    rng = random.Random(SEED)
    n_kb = build_kb(out)
    cases = []
    day = 0
    for n in range(INCIDENTS_PER_CLASS):
        for c in spec["classes"]:
            case = build_case(c, n, rng, day, in_kb=bool(c.get("kb")))
            write_case(case, out, rng)
            cases.append(case)
            day += 1
    return {
        "incidents": len(cases),
        "classes": len(spec["classes"]),
        "novel": sum(c.novel for c in cases),
        "held_out": sum(c.split == "held-out" for c in cases),
        "red_herrings": sum(c.red_herring for c in cases),
        "kb": n_kb,
    }


if __name__ == "__main__":
    print(json.dumps(build(Path(sys.argv[1])), indent=2))
