"""Run one release's engine over a labelled evaluation set; one JSON line per case on standard output.

    python workers/triage/evalrun.py ENGINE_ROOT EVAL_DIR [--env-file FILE]

`ENGINE_ROOT` is a source tree of the project (this one, or another release exported with
`git archive`), imported instead of the installed package, so `incident-copilot backtest --eval`
and tests/benchmarks/bench_triage_eval.py put two releases side by side with the same runner. The
set's `kb/` is ingested into an embedded Redis of its own (stopped at the end), novelty is calibrated
by leave-one-out on it when the engine can, then each case goes through the path `incident-copilot
triage` takes: its logs and baseline digested, the knowledge base asked, the channel's messages
read, `Engine.report`. Settings (evidence-only, or an LLM) come from the environment and
`--env-file`, as for the CLI. A release from before the CLI shared /triage's context goes through
the /triage job's knowledge step and `Engine.report` instead.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from pathlib import Path
from typing import Any


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("root", type=Path)
    parser.add_argument("eval_dir", type=Path)
    parser.add_argument("--env-file", type=Path)
    args = parser.parse_args(argv)
    here = str(Path(__file__).resolve().parent)
    sys.path[:] = [str(args.root.resolve()), *(p for p in sys.path if p != here)]  # the engine under test

    from workers.knowledge.ingest import ingest_path
    from workers.knowledge.service import KnowledgeDeps
    from workers.redisconn import EmbeddedRedis, _client
    from workers.runtime import build_engine
    from workers.settings import Settings

    settings = Settings.load(env_file=args.env_file)
    engine = build_engine(settings)
    eval_dir = args.eval_dir.resolve()
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedRedis(Path(tmp) / "redis", persist=False)
        try:
            client = _client(server.ensure_running())
            knowledge = KnowledgeDeps.build(client, settings.llm)
            knowledge.store.upsert(ingest_path(eval_dir / "kb").records)
            if hasattr(knowledge, "calibrate"):
                print(json.dumps({"calibration": knowledge.calibrate().describe()}), flush=True)
            for case_dir in sorted(p for p in (eval_dir / "cases").iterdir() if p.is_dir()):
                print(json.dumps(run_case(case_dir, settings, engine, knowledge)), flush=True)
            client.close()
        finally:
            server.stop()
    return 0


def run_case(case_dir: Path, settings: Any, engine: Any, knowledge: Any) -> dict[str, Any]:
    from workers.evidence.local import digest_files

    case = json.loads((case_dir / "case.json").read_text())
    logs = [str(p) for p in sorted((case_dir / "logs").glob("*.log"))]
    baseline = [str(p) for p in sorted((case_dir / "baseline").glob("*.log"))]
    digest = asyncio.run(digest_files(case["text"], logs, baseline, settings, None))
    channel = case_dir / "channel.jsonl"
    try:
        from workers.triage.local import local_context, local_report, read_messages
    except ImportError:  # a release whose CLI did not share /triage's context
        report, ctx = _job_path(case, digest, channel, settings, engine, knowledge)
    else:
        messages = read_messages(channel) if channel.exists() else []
        ctx = local_context(case["text"], digest, settings, messages=messages, knowledge=knowledge)
        report = local_report(ctx, settings)
    return {
        "id": case["id"],
        "mode": report.mode,
        "hypotheses": [
            {
                "statement": h.statement,
                "detail": getattr(h, "detail", ""),
                "confidence": h.confidence,
                "quotes": [r.quote for r in h.evidence if r.quote],
                "incidents": [r.id for r in h.evidence if r.kind == "incident"],
            }
            for h in report.hypotheses
        ],
        "novel": report.novel,
        "novelty_reason": report.novelty_reason,
        "kb_reason": ctx.knowledge.reason if ctx.knowledge else "",
    }


def _job_path(
    case: dict[str, Any], digest: Any, channel: Path, settings: Any, engine: Any, knowledge: Any
) -> tuple[Any, Any]:
    """The /triage job's context and `Engine.report`, with the API every release has."""
    from workers.jobs.triage import _similar  # type: ignore[attr-defined]
    from workers.llm.budget import Budget
    from workers.models import ChannelMessage, IncidentContext, TriageRequest, Window
    from workers.redaction import ConsistentRedactor
    from workers.triage.views import evidence_view

    view = evidence_view(digest, "", digest.sources)
    messages = [ChannelMessage(**json.loads(line)) for line in channel.open()] if channel.exists() else []
    window = Window(start=digest.incident.start, end=digest.incident.end)
    request = TriageRequest(
        run_id="backtest", incident_id=case["id"], team_id="", channel_id="", channel_name="backtest",
        requester_id="", text=case["text"], window=window, placeholder_ts="", requested_at=window.end,
    )  # fmt: skip
    ctx = IncidentContext(
        request=request,
        incident=None,
        channel_name="backtest",
        requester_name="",
        messages=messages,
        evidence=view,
        knowledge=_similar(knowledge, case["text"], view),
    )
    budget = Budget.for_severity(settings.llm, "")
    return engine.report(ctx, budget, ConsistentRedactor(), lambda _record: None), ctx


if __name__ == "__main__":
    sys.exit(main())
