"""Run one engine (a checkout of the project) over the triage evaluation set; one JSON line per case.

    python tests/benchmarks/triage_eval_runner.py ENGINE_ROOT EVAL_DIR

Used by bench_triage_eval.py for this branch and for the previous release (main) in the same run, so
it only uses what both have: the KB ingest and store, `KnowledgeDeps`, the /triage job's knowledge
step (`KnowledgeDeps.for_evidence`, in main `workers.jobs.triage._similar`), the local digest and
the engine; and the leave-one-out calibration (`KnowledgeDeps.calibrate`) when the engine has it.
Evidence-only: no LLM. Redis: an embedded server in a temporary directory, stopped at the end.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT, EVAL = Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve()
sys.path.insert(0, str(ROOT))
for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "REDIS_URL", "EMBEDDINGS_MODEL"):
    os.environ.pop(var, None)

from workers.evidence.local import digest_files  # noqa: E402
from workers.knowledge.ingest import ingest_path  # noqa: E402
from workers.knowledge.service import KnowledgeDeps  # noqa: E402
from workers.llm.budget import Budget  # noqa: E402
from workers.models import ChannelMessage, IncidentContext, TriageRequest, Window  # noqa: E402
from workers.redaction import ConsistentRedactor  # noqa: E402
from workers.redisconn import EmbeddedRedis, _client  # noqa: E402
from workers.runtime import build_engine  # noqa: E402
from workers.settings import Settings  # noqa: E402
from workers.triage.views import evidence_view  # noqa: E402


def main() -> None:
    settings = Settings.load(env_file=None)
    engine = build_engine(settings)
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedRedis(Path(tmp) / "redis", persist=False)
        try:
            client = _client(server.ensure_running())
            knowledge = KnowledgeDeps.build(client, settings.llm)
            knowledge.store.upsert(ingest_path(EVAL / "kb").records)
            if hasattr(knowledge, "calibrate"):  # the novelty threshold by leave-one-out on the KB
                print(json.dumps({"calibration": knowledge.calibrate().describe()}), flush=True)
            for case_dir in sorted((EVAL / "cases").iterdir()):
                print(json.dumps(run_case(case_dir, settings, engine, knowledge)), flush=True)
            client.close()
        finally:
            server.stop()


def run_case(
    case_dir: Path, settings: Settings, engine: object, knowledge: KnowledgeDeps
) -> dict[str, object]:
    case = json.loads((case_dir / "case.json").read_text())
    logs = [str(p) for p in sorted((case_dir / "logs").glob("*.log"))]
    baseline = [str(p) for p in sorted((case_dir / "baseline").glob("*.log"))]
    digest = asyncio.run(digest_files(case["text"], logs, baseline, settings, None))
    view = evidence_view(digest, "", digest.sources)
    messages = [ChannelMessage(**json.loads(line)) for line in (case_dir / "channel.jsonl").open()]
    request = TriageRequest(
        run_id="bench",
        incident_id=case["id"],
        team_id="",
        channel_id="",
        channel_name="bench",
        requester_id="",
        text=case["text"],
        window=Window(start=digest.incident.start, end=digest.incident.end),
        placeholder_ts="",
        requested_at=digest.incident.end,
    )
    ctx = IncidentContext(
        request=request,
        incident=None,
        channel_name="bench",
        requester_name="",
        messages=messages,
        evidence=view,
        knowledge=_knowledge(knowledge, case["text"], view),
    )
    report = engine.report(ctx, Budget.for_severity(settings.llm, ""), ConsistentRedactor(), lambda _r: None)  # type: ignore[attr-defined]
    return {
        "id": case["id"],
        "hypotheses": [
            {
                "statement": h.statement,
                "detail": getattr(h, "detail", ""),
                "quotes": [r.quote for r in h.evidence if r.quote],
                "incidents": [r.id for r in h.evidence if r.kind == "incident"],
            }
            for h in report.hypotheses
        ],
        "novel": report.novel,
        "novelty_reason": report.novelty_reason,
        "kb_novel": bool(ctx.knowledge and ctx.knowledge.novel),
        "kb_reason": ctx.knowledge.reason if ctx.knowledge else "",
    }


def _knowledge(knowledge: KnowledgeDeps, text: str, view: object) -> object:
    if hasattr(knowledge, "for_evidence"):
        return knowledge.for_evidence(text, view)
    from workers.jobs.triage import _similar  # type: ignore[attr-defined]  # main's

    return _similar(knowledge, text, view)


if __name__ == "__main__":
    main()
