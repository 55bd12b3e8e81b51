"""Benchmark: `/triage` to the posted answer with all five log source types configured, beside the
same triage with no sources, in the same run.

Two stacks run side by side (each the real bot over HTTP, a real RQ worker, an embedded Redis, the
Slack stand-in and an instant LLM on loopback): one with no `EVIDENCE_SOURCES_FILE`, one whose
sources file names a log file on disk, Loki, Elasticsearch, CloudWatch Logs (moto's server) and a
Kubernetes API server, all on loopback. Triages alternate between them. Prints p50/p95 of each,
their difference (the bar: p50 within 1 s), and, in forks of one process, what a work horse spends
building and first reading the five sources, then reading both windows and digesting them, cold
(the worker as it was: nothing pre-loaded) and warm (after `workers.warmup`).

    python tests/benchmarks/bench_triage_sources.py [--runs 15]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import os
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import redis
from rq import Worker

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from bot.localstack import LocalStack  # noqa: E402
from tests.benchmarks.bench_triage_llm import answer_posted, instant_answer, percentile  # noqa: E402
from tests.support.fake_llm import FakeLLM  # noqa: E402
from tests.support.log_backends import (  # noqa: E402
    ElasticsearchStandIn,
    KubernetesLogsStandIn,
    LokiStandIn,
)

SERVICE = "orders-api"
STEP_S = 5  # one line per source every 5 s: 360 in a 30-minute window
KINDS = ("files", "loki", "elasticsearch", "cloudwatch", "kubernetes")
TEXTS = (
    "INFO {src} request ok path=/orders/{k} status=200 took={ms}ms",
    "DEBUG {src} db query rows={n} took={ms}ms",
    "INFO {src} cache hit key=cart:{k}",
)
ERROR = "ERROR {src} redis timeout after 2000ms key=cart:{k} attempt={n}"


class Stream:
    """Each source's lines: one every STEP_S seconds, a third of them errors from `errors_from` on."""

    def __init__(self, source: str, errors_from: datetime) -> None:
        self.source = source
        self.errors_from = errors_from

    def __call__(self, start: datetime, end: datetime) -> list[tuple[datetime, str]]:
        first, last = math.ceil(start.timestamp() / STEP_S), math.ceil(end.timestamp() / STEP_S)
        out = []
        for k in range(first, last):
            at = datetime.fromtimestamp(k * STEP_S, tz=UTC)
            text = ERROR if at >= self.errors_from and k % 3 == 0 else TEXTS[k % len(TEXTS)]
            out.append((at, text.format(src=self.source, k=k, n=k % 7, ms=k % 300)))
        return out


def aws_env(tmp: Path) -> dict[str, str]:
    """Dummy credentials and nothing from the developer's AWS set-up: boto3 never leaves loopback."""
    return {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": str(tmp / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp / "no-aws-credentials"),
        "NO_PROXY": "127.0.0.1,localhost",
    }


def seed_cloudwatch(url: str, stream: Stream, start: datetime, end: datetime) -> None:
    import boto3

    logs = boto3.session.Session().client(
        "logs", region_name="us-east-1", endpoint_url=url, aws_access_key_id="bench",
        aws_secret_access_key="bench",
    )  # fmt: skip
    group = f"/svc/{SERVICE}"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="app")
    events = [{"timestamp": int(at.timestamp() * 1000), "message": text} for at, text in stream(start, end)]
    for i in range(0, len(events), 5000):
        logs.put_log_events(logGroupName=group, logStreamName="app", logEvents=events[i : i + 5000])
    logs.close()


def sources_yaml(log: Path, loki: str, es: str, moto: str) -> str:
    return f"""default_service: {SERVICE}
sources:
  - name: app-files
    type: files
    paths: ['{log}']
  - name: loki
    type: loki
    url: {loki}
    query: '{{app="{{service}}"}}'
  - name: elasticsearch
    type: elasticsearch
    url: {es}
    index: logs-{{service}}
    query: 'service:"{{service}}"'
  - name: cloudwatch
    type: cloudwatch
    log_group: /svc/{{service}}
    endpoint_url: {moto}
  - name: kubernetes
    type: kubernetes
    namespace: shop
    selector: app={{service}}
"""


def triage(stack: LocalStack, n: int, tag: str) -> float:
    ws = stack.standin.state
    channel = f"C0{tag.upper()}{n:05d}"
    ws.add_channel(channel, f"inc-{tag}-{n}")
    ws.add_message(channel, "U0ONCALL", "orders failing, redis?", ts=f"{time.time() - 60:.6f}")
    started = time.monotonic()
    stack.driver().slash_command(
        f"{SERVICE} failing last 30m", user_id="U0ONCALL", channel_id=channel, channel_name=f"inc-{tag}-{n}"
    )
    if not stack.standin.wait_for(partial(answer_posted, stack, channel), 120):
        raise RuntimeError(f"{tag} run {n}: no answer within 120 s; worker log:\n{stack.log('worker-0')}")
    elapsed = time.monotonic() - started
    if tag == "five":
        thread = " ".join(json.dumps(m.get("blocks")) for m in stack.standin.messages(channel))
        missing = [name for name in SOURCE_NAMES if f"{name}: ok" not in thread]
        if missing:
            raise RuntimeError(f"run {n}: sources not read in full: {missing}\n{thread[-3000:]}")
    return elapsed


SOURCE_NAMES = ("app-files", "loki", "elasticsearch", "cloudwatch", "kubernetes")


def wait_for_worker(stack: LocalStack, timeout: float = 120) -> None:
    """Until the worker has registered with RQ, which it does once its warm-up is done: a triage sent
    earlier would wait for the start-up, which is not what a triage costs."""
    client = redis.Redis.from_url(stack.redis_url)
    try:
        deadline = time.monotonic() + timeout
        while not Worker.all(connection=client):
            if time.monotonic() > deadline:
                raise RuntimeError(f"no worker registered within {timeout:.0f} s:\n{stack.log('worker-0')}")
            time.sleep(0.1)
    finally:
        client.close()


def worker_figures(stack: LocalStack, event: str, key: str) -> list[float]:
    """`key` of every `event` line in the worker's JSON log."""
    out = []
    for line in (stack.workdir / "worker-0.log").read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if record.get("event") == event and key in record:
            out.append(float(record[key]))
    return out


def horse_probe(mode: str) -> None:
    """In this process: load what the worker loads before it forks (with `warm`, also the warm-up),
    then fork a horse that imports the triage job, builds and reads every configured source once, then
    reads both windows of all of them and digests them, as the triage job does.
    Prints one JSON line: seconds per step, the modules the horse imported, what it could not read."""
    import bot.cli  # noqa: F401  (what `incident-copilot worker` has loaded)
    import workers.worker  # noqa: F401
    from workers import warmup
    from workers.evidence.model import LogQuery, TimeWindow
    from workers.runtime import EvidenceDeps, build_engine
    from workers.settings import Settings

    settings = Settings.load(env_file=Path(os.devnull))
    evidence = EvidenceDeps.build(settings)
    assert evidence is not None
    engine = build_engine(settings)
    if mode == "warm":
        warmup.preload(engine, evidence.sources.sources)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the horse
        os.close(read)
        steps: dict[str, float] = {}
        problems: list[str] = []
        before = set(sys.modules)
        t = time.perf_counter()
        from workers.evidence.config import build_sources
        from workers.evidence.digest import digest_logs
        from workers.evidence.gather import gather_windows
        from workers.jobs import triage as _job  # noqa: F401  (what RQ imports to call the job)
        from workers.redaction import ConsistentRedactor

        steps["import job"] = time.perf_counter() - t
        t = time.perf_counter()
        built = build_sources(evidence.sources.sources, SERVICE)
        steps["build sources"] = time.perf_counter() - t
        now = datetime.now(UTC)
        incident = TimeWindow(now - timedelta(minutes=30), now)
        baseline = TimeWindow(incident.start - timedelta(minutes=60), incident.start)
        query = LogQuery(SERVICE, incident)
        for source, _cap in built:
            t = time.perf_counter()
            result = asyncio.run(source.fetch(query))
            list(result.iter_lines())
            steps[f"first read {source.name}"] = time.perf_counter() - t
            if result.status != "ok":
                problems.append(f"{source.name}: {result.status} {result.note}")
        t = time.perf_counter()
        cap = settings.evidence.max_lines
        gathered = asyncio.run(gather_windows(built, SERVICE, incident, baseline, cap))
        steps["then both windows, all five"] = time.perf_counter() - t
        t = time.perf_counter()
        digest_logs(
            (line for r in gathered.incident for line in r.iter_lines()),
            (line for r in gathered.baseline for line in r.iter_lines()),
            budget_tokens=settings.evidence.budget_tokens, counter=evidence.counter,
            redactor=ConsistentRedactor.with_secrets([]), incident=incident, baseline=baseline,
            sources=[*gathered.incident, *gathered.baseline],
        )  # fmt: skip
        steps["their digest"] = time.perf_counter() - t
        loaded = sorted(set(sys.modules) - before)
        os.write(write, json.dumps({"steps": steps, "loaded": loaded, "problems": problems}).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        print(pipe.read())
    os.waitpid(pid, 0)


def probe(mode: str, env: dict[str, str]) -> dict[str, Any]:
    import subprocess

    out = subprocess.run(
        [sys.executable, __file__, "--horse-probe", mode],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise RuntimeError(f"the {mode} horse probe failed:\n{out.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    if result["problems"]:
        raise RuntimeError(f"the {mode} horse probe did not read every source: {result['problems']}")
    return result


def report(name: str, values: list[float]) -> str:
    return (
        f"  {name:<26} p50 {statistics.median(values):5.2f} s   p95 {percentile(values, 0.95):5.2f} s"
        f"   max {max(values):5.2f} s"
    )


def stand_ins(stack: ExitStack, tmp: Path, now: datetime) -> tuple[dict[str, str], dict[str, Any]]:
    """Start a backend of each type with the same kind of stream, and write the file, the sources
    file and the kubeconfig; the worker environment that points at them, and the HTTP stand-ins."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's server logs every request
    streams = {kind: Stream(kind, errors_from=now - timedelta(minutes=25)) for kind in KINDS}
    history = (now - timedelta(hours=3), now)
    log = tmp / f"{SERVICE}.log"
    log.write_text("".join(f"{at.isoformat()} {text}\n" for at, text in streams["files"](*history)))
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    stack.callback(moto.stop)
    host, port = moto.get_host_and_port()
    moto_url = f"http://{host}:{port}"
    os.environ.update(aws_env(tmp))
    seed_cloudwatch(moto_url, streams["cloudwatch"], *history)
    http = {
        "loki": stack.enter_context(LokiStandIn(streams["loki"], {"app": SERVICE})),
        "elasticsearch": stack.enter_context(ElasticsearchStandIn(streams["elasticsearch"])),
        "kubernetes": stack.enter_context(
            KubernetesLogsStandIn(streams["kubernetes"], "shop", ["orders-0", "orders-1"], {"app": SERVICE})
        ),
    }
    kubeconfig = tmp / "kubeconfig"
    kubeconfig.write_text(http["kubernetes"].kubeconfig("bench-token"))
    sources = tmp / "sources.yaml"
    sources.write_text(sources_yaml(log, http["loki"].url, http["elasticsearch"].url, moto_url))
    env = {"KUBECONFIG": str(kubeconfig), "EVIDENCE_SOURCES_FILE": str(sources), **aws_env(tmp)}
    return env, http


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=15, help="triages per stack (default 15)")
    parser.add_argument("--probes", type=int, default=3, help="cold and warm horse probes each (default 3)")
    parser.add_argument("--horse-probe", choices=["cold", "warm"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.horse_probe:
        horse_probe(args.horse_probe)
        return 0
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-sources-")))
        llm = stack.enter_context(FakeLLM(default=instant_answer))
        five_env, http = stand_ins(stack, tmp, datetime.now(UTC))
        no_sources = {k: v for k, v in five_env.items() if k != "EVIDENCE_SOURCES_FILE"}
        llm_env = {"OPENAI_BASE_URL": llm.base_url, "OPENAI_API_KEY": "sk-bench", "LLM_MODEL": "gpt-4o-mini"}
        probes: dict[str, list[dict[str, Any]]] = {"cold": [], "warm": []}
        for _ in range(args.probes):
            for mode in ("cold", "warm"):
                probes[mode].append(probe(mode, {**five_env, **llm_env}))
        none = stack.enter_context(LocalStack(tmp / "none", env={**no_sources, **llm_env}))
        five = stack.enter_context(LocalStack(tmp / "five", env={**five_env, **llm_env}))
        stacks = {"none": none, "five": five}
        for local in stacks.values():
            wait_for_worker(local)
        totals: dict[str, list[float]] = {"none": [], "five": []}
        for n in range(args.runs):
            for tag, local in stacks.items():
                totals[tag].append(triage(local, n, tag))
        assembled = {tag: worker_figures(s, "job finished", "assemble_s") for tag, s in stacks.items()}
        warmed = {t: worker_figures(s, "worker warm", "preloaded_s") for t, s in stacks.items()}
        served = {name: server.requests for name, server in http.items()}
    print(f"/triage → posted answer, {args.runs} runs each, alternating, instant LLM; one worker per stack")
    print(report("no sources", totals["none"]))
    print(report("all five source types", totals["five"]))
    print(report("  worker: assemble, none", assembled["none"]))
    print(report("  worker: assemble, five", assembled["five"]))
    diff = statistics.median(totals["five"]) - statistics.median(totals["none"])
    ratio = statistics.median(totals["five"]) / statistics.median(totals["none"])
    print(f"  p50 difference {diff:+.2f} s ({ratio:.2f}×); requests the HTTP stand-ins served: {served}")
    if warmed["five"]:
        none_s, five_s = warmed["none"][0], warmed["five"][0]
        print(f"  the workers' warm-up at start-up: {none_s:.2f} s (no sources), {five_s:.2f} s (five)")
    if probes["cold"]:
        print_probes(probes)
    print(f"bar: p50 within 1 s of no sources: {'met' if diff <= 1 else 'not met'} ({diff:+.2f} s)")
    return 0


def print_probes(probes: dict[str, list[dict[str, Any]]]) -> None:
    print("in a forked horse: the five sources built and read once, both windows read, digested (medians):")
    for step in probes["cold"][0]["steps"]:
        cold, warm = (statistics.median(p["steps"].get(step, math.nan) for p in probes[m]) for m in probes)
        print(f"  {step:<34} cold {cold:6.3f} s   warm {warm:6.3f} s")
    cold, warm = (statistics.median(sum(p["steps"].values()) for p in probes[m]) for m in probes)
    print(f"  {'total':<34} cold {cold:6.3f} s   warm {warm:6.3f} s")
    for mode in probes:
        loaded = probes[mode][-1]["loaded"]
        shown = ", ".join(loaded[:6]) + (", …" if len(loaded) > 6 else "")
        print(f"  modules the {mode} horse imported: {len(loaded)} ({shown})")


if __name__ == "__main__":
    sys.exit(main())
