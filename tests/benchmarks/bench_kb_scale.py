"""Benchmark: the knowledge base at scale, in real processes against a real (embedded) Redis.

    python tests/benchmarks/bench_kb_scale.py [--records 100000] [--peer REF] [--url REDIS_URL]

Loads N generated postmortems (bench_kb's generator: services, symptoms, causes, fixes, log templates)
into an embedded Redis once, then, for this branch and for the previous release (`--peer`, default
peer.PREVIOUS_RELEASE, exported with `git archive`), each in a fresh process:
- first load: `KnowledgeDeps.build` + the first search (the index built or loaded);
- RSS of that process after it (the index's memory, per process);
- search p50 / p99 over 300 /triage-like queries (text, two templates, a service);
- add one record: `store.upsert` in another process's client, then the time until a search in this
  process returns it (what the bot and workers see);
- CLI: `incident-copilot kb search` as a subprocess, wall time; and what it spends: the CPU time of
  importing the command line and the knowledge modules alone ("imports"), the rest being the index
  loaded from its snapshot in Redis and the search.
`--url` measures against a Redis that already holds the records (loading 100k takes minutes on a busy
machine); the probe's new record is removed again. Beside each wall time, the CPU time it took
("(CPU)": p99 of a search; the CLI's user + system time),
which a machine shared with other work disturbs much less; the load average is printed at the end.
Bars at 100k records: add visible ≤ 1 s, RSS ≤ 400 MB, CLI kb search ≤ 2 s, search p99 ≤ 50 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.benchmarks.peer import PREVIOUS_RELEASE, export  # noqa: E402

IMPORTS = (
    "import time; c = time.process_time(); import bot.cli, workers.knowledge.service; "
    "print(time.process_time() - c)"
)

PROBE = r"""
import json, random, sys, time
sys.path.insert(0, sys.argv[1])
from tests.benchmarks.bench_kb import MODES, SERVICES, WORDS, generated, rss_mb
from workers.knowledge.service import KnowledgeDeps
from workers.knowledge.store import KnowledgeStore
from workers.settings import LLMSettings
import redis
client = redis.Redis.from_url(sys.argv[2])
t0 = time.perf_counter()
deps = KnowledgeDeps.build(client, LLMSettings())
deps.search("warm up", k=1)
first = time.perf_counter() - t0
rss = rss_mb()
rng = random.Random(11)
times, cpu = [], []
for _ in range(300):
    symptom, _, _, templates, _ = rng.choice(MODES)
    text = f"{rng.choice(SERVICES)} {symptom} {' '.join(rng.sample(WORDS, 2))}"
    t0, c0 = time.perf_counter(), time.process_time()
    deps.similar(text, templates[:2], rng.choice(SERVICES))
    times.append((time.perf_counter() - t0) * 1000)
    cpu.append((time.process_time() - c0) * 1000)
times.sort()
cpu.sort()
other = redis.Redis.from_url(sys.argv[2])
new = generated(1, random.Random(99))[0]
new = new.model_copy(update={"id": "NEW-zebra-quokka", "title": "zebra quokka outage"})
t0 = time.perf_counter()
KnowledgeStore(other).upsert([new])
while not any(m.record_id == "NEW-zebra-quokka" for m in deps.search("zebra quokka", k=3)):
    time.sleep(0.01)
visible = time.perf_counter() - t0
KnowledgeStore(other).delete("NEW-zebra-quokka")
figures = {"first_s": first, "rss_mb": rss, "p50_ms": times[150], "p99_ms": times[296]}
print(json.dumps({**figures, "cpu_p99_ms": cpu[296], "add_visible_s": visible}))
"""


def load(url: str, n: int) -> None:
    import redis

    from tests.benchmarks.bench_kb import generated
    from workers.knowledge.store import KnowledgeStore

    client = redis.Redis.from_url(url)
    store = KnowledgeStore(client)
    if len(store.ids()) >= n:
        return
    records = generated(n, random.Random(5))
    for start in range(0, n, 5000):
        store.upsert(records[start : start + 5000])


def measure(root: Path, url: str, env: dict[str, str]) -> dict[str, float]:
    probe = subprocess.run(
        [sys.executable, "-c", PROBE, str(root), url],
        cwd=root, env=env, capture_output=True, text=True, timeout=3600,
    )  # fmt: skip
    if probe.returncode != 0:
        raise SystemExit(f"probe failed in {root}:\n{probe.stderr[-3000:]}")
    figures: dict[str, float] = json.loads(probe.stdout.strip().splitlines()[-1])
    t0, before = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    cli = subprocess.run(
        [sys.executable, "-m", "bot.cli", "--env-file", os.devnull, "kb", "search", "pool exhausted"],
        cwd=root, env={**env, "PYTHONPATH": str(root), "REDIS_URL": url},
        capture_output=True, text=True, timeout=3600,
    )  # fmt: skip
    figures["cli_search_s"] = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    figures["cli_cpu_s"] = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    if cli.returncode != 0:
        raise SystemExit(f"kb search failed in {root}:\n{cli.stderr[-3000:]}")
    imports = subprocess.run(
        [sys.executable, "-c", IMPORTS], cwd=root, env={**env, "PYTHONPATH": str(root)},
        capture_output=True, text=True, check=True, timeout=600,
    )  # fmt: skip
    figures["cli_imports_cpu_s"] = float(imports.stdout.strip())
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument(
        "--peer", default=PREVIOUS_RELEASE, help="git ref of the previous release ('' to skip)"
    )
    parser.add_argument("--url", help="a Redis already holding the records (default: a fresh embedded one)")
    args = parser.parse_args()
    from workers.redisconn import EmbeddedRedis

    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "REDIS_", "EMBEDDINGS_"))}
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedRedis(Path(tmp) / "redis", persist=False)
        try:
            url = args.url or server.ensure_running()
            t0 = time.perf_counter()
            load(url, args.records)
            print(f"{args.records:,} records loaded into Redis in {time.perf_counter() - t0:.0f} s")
            roots = [("this branch", REPO)]
            if args.peer:
                roots.append((f"peer {args.peer}", export(args.peer, Path(tmp) / "peer")))
            print(
                f"{'engine':<14}{'first load':>12}{'RSS MB':>9}{'p50 ms':>9}{'p99 ms':>9}{'(CPU)':>8}"
                f"{'add→visible':>13}{'CLI search':>12}{'(CPU)':>8}{'imports':>9}"
            )
            for label, root in roots:
                f = measure(root, url, env)
                print(
                    f"{label:<14}{f['first_s']:>11.1f}s{f['rss_mb']:>9.0f}{f['p50_ms']:>9.1f}{f['p99_ms']:>9.1f}"
                    f"{f['cpu_p99_ms']:>8.1f}{f['add_visible_s']:>12.2f}s{f['cli_search_s']:>11.1f}s{f['cli_cpu_s']:>7.1f}s"
                    f"{f['cli_imports_cpu_s']:>8.2f}s"
                )
        finally:
            if not args.url:
                server.stop()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print("bars at 100k: add visible ≤ 1 s, RSS ≤ 400 MB, CLI kb search ≤ 2 s, search p99 ≤ 50 ms")


if __name__ == "__main__":
    main()
