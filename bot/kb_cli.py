"""`incident-copilot kb …`: ingest postmortems, list, show and search the knowledge base, export
its triplets."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from bot.cli_errors import did_you_mean, say
from workers.atrest import storage_redactor
from workers.redisconn import connect
from workers.settings import Settings

if TYPE_CHECKING:  # each subcommand imports what it needs: `kb search` starts fast
    from workers.knowledge.model import IncidentRecord
    from workers.knowledge.service import KnowledgeDeps
    from workers.postmortem.record import DraftStore


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    kb = sub.add_parser(
        "kb",
        help="the knowledge base of past incidents",
        description="Past incidents, stored in Redis (REDIS_URL, or the embedded one), searched by /triage.",
    )
    kb_sub = kb.add_subparsers(dest="kb_command", required=True, metavar="KB_COMMAND")
    ingest = kb_sub.add_parser(
        "ingest",
        help="ingest postmortems (Markdown with or without front matter, JSON, YAML) from a file or folder",
        description="Idempotent: re-ingesting updates records, never duplicates them. Prints per file "
        "what it understood; a malformed file is reported with its line and skipped.",
    )
    ingest.add_argument("path", type=Path)
    listing = kb_sub.add_parser("list", help="list stored incidents")
    listing.add_argument("--json", action="store_true", help="one JSON object per incident, per line")
    show = kb_sub.add_parser("show", help="print one incident as JSON or Markdown")
    show.add_argument("id")
    show.add_argument(
        "--format",
        choices=("json", "md"),
        default="json",
        help="json (default): the stored record, with the bot's full draft for its own postmortems; "
        "md: the document (the full draft for the bot's postmortems)",
    )
    export = kb_sub.add_parser(
        "export-triplets",
        help="write every (symptom, root cause, fix) triplet as JSON lines",
        description="One line per triplet, with its record, provenance, review state and, for the bot's "
        "own postmortems, the decision tree that led to it. Fit for evaluation or training sets.",
    )
    export.add_argument("--out", type=Path, help="file to write (default: standard output)")
    kb_sub.add_parser(
        "calibrate",
        help="set the novelty threshold by leave-one-out on this knowledge base",
        description="Search each labelled past incident (its symptoms and log signature) against all the "
        "others; it is known when another record has the same cause (a cause:<name> tag, the team's Same "
        "cause clicks, else the vocabulary mechanism its root cause names), novel otherwise. Stores the "
        "threshold that best separates them, which /triage and the CLI then use, and prints how well it "
        "separates. `kb ingest` runs it too.",
    )
    search = kb_sub.add_parser("search", help="search past incidents")
    search.add_argument("text")
    search.add_argument("-k", type=int, default=5, help="how many matches (default 5)")
    search.add_argument("--json", action="store_true", help="one JSON object per match, per line")


def run_kb(settings: Settings, args: argparse.Namespace) -> int:
    from workers.knowledge.service import KnowledgeDeps

    handle = connect(settings.redis, storage_redactor(settings))
    try:
        knowledge = KnowledgeDeps.build(handle.client, settings.llm)
        if args.kb_command == "ingest":
            return _ingest(knowledge, args.path)
        if args.kb_command == "list":
            records = sorted(knowledge.store.all(), key=lambda r: r.id)
            for record in records:
                when = f"{record.started_at:%Y-%m-%d}" if record.started_at else "          "
                if args.json:
                    print(json.dumps(_listed(record), ensure_ascii=False))
                else:
                    print(f"{record.id:<28} {when}  {record.title}")
            if not records:
                say("the knowledge base is empty; add postmortems with `incident-copilot kb ingest PATH`")
            return 0
        if args.kb_command in ("show", "export-triplets"):
            from workers.postmortem.record import DraftStore, dumps_rows, triplet_rows
        if args.kb_command == "show":
            return _show(knowledge, DraftStore(handle.client), args.id, args.format)
        if args.kb_command == "export-triplets":
            rows = dumps_rows(triplet_rows(knowledge.store, DraftStore(handle.client)))
            if args.out is None:
                print(rows, end="")
            else:
                args.out.write_text(rows)
                print(f"{rows.count(chr(10))} triplets written to {args.out}")
            return 0
        if args.kb_command == "calibrate":
            return _calibrate(knowledge)
        matches = knowledge.search(args.text, k=args.k)
        if not matches:
            say(f"no past incident matches {args.text!r}")
        for m in matches:
            if args.json:
                print(json.dumps(m.model_dump(mode="json"), ensure_ascii=False))
                continue
            print(f"{m.score:5.2f}  {m.record_id:<28} {m.title}")
            if m.root_cause:
                print(f"       root cause: {m.root_cause}")
            if m.fix:
                print(f"       fix: {m.fix}")
        return 0
    finally:
        handle.close()


def _show(knowledge: KnowledgeDeps, drafts: DraftStore, record_id: str, fmt: str) -> int:
    from workers.knowledge.render import record_markdown
    from workers.postmortem.render import markdown

    found = knowledge.store.get(record_id)
    if found is None:
        ids = [r.id for r in knowledge.store.all()]
        say(f"no incident {record_id!r} in the knowledge base{did_you_mean(record_id, ids)}")
        return 1
    pm = drafts.get(record_id) if found.provenance == "bot" else None
    if fmt == "md":
        print(markdown(pm) if pm else record_markdown(found), end="")
    else:
        data = found.model_dump(mode="json")
        if pm is not None:
            data["draft"] = pm.model_dump(mode="json")
        print(json.dumps(data, indent=2, ensure_ascii=False))
    return 0


def _ingest(knowledge: KnowledgeDeps, path: Path) -> int:
    from workers.knowledge.ingest import ingest_path

    if not path.exists():
        say(f"{path} does not exist")
        return 2
    report = ingest_path(path)
    records = [r for f in report.files for r in f.records]
    result = knowledge.store.upsert(records)
    for f in report.files:
        if f.problem is not None:
            where = f"{f.problem.path}:{f.problem.line}" if f.problem.line else str(f.problem.path)
            print(f"skipped  {where}: {f.problem.message}")
        else:
            print(f"ok       {f.path}: {', '.join(f.record_ids)} ({', '.join(f.fields_found)})")
    print(
        f"{len(result.created)} created, {len(result.updated)} updated, {len(result.unchanged)} unchanged, "
        f"{sum(1 for f in report.files if f.problem)} files skipped"
    )
    if result.created or result.updated:
        print(f"novelty: {knowledge.calibrate().describe()}")
    return 1 if any(f.problem for f in report.files) else 0


def _calibrate(knowledge: KnowledgeDeps) -> int:
    cal = knowledge.calibrate()
    labels = ", ".join(f"{n} by {source}" for source, n in sorted(cal.labels.items())) or "none"
    print(f"novelty {cal.describe()}")
    print(f"records: {cal.records}; labelled: {labels}; searched: {cal.queried}")
    if cal.calibrated:
        for rule, fit in cal.fits.items():
            chosen = " (chosen)" if rule == cal.rule else ""
            print(
                f"  rule {rule}: threshold {fit.threshold:.2f}, {fit.novel_flagged:.0%} novel flagged, "
                f"{fit.known_flagged:.0%} known falsely flagged{chosen}"
            )
        print(f"known incidents whose nearest past incident has the same cause: {cal.nearest_right:.0%}")
    return 0


def run_backtest(settings: Settings, logs: Path | None, *, as_json: bool) -> int:
    """`incident-copilot backtest`: per incident, then overall."""
    import dataclasses
    import time

    from workers.knowledge.service import KnowledgeDeps
    from workers.runtime import build_engine
    from workers.triage.backtest import backtest

    if logs is not None and not logs.is_dir():
        say(f"--logs {logs} is not a folder")
        return 2
    started, cpu = time.monotonic(), time.process_time()
    handle = connect(settings.redis, storage_redactor(settings))
    try:
        result = backtest(
            KnowledgeDeps.build(handle.client, settings.llm), build_engine(settings), settings, logs=logs
        )
    finally:
        handle.close()
    precision, recall = result.novelty()
    totals = {
        "mode": result.mode,
        "replayed": len(result.replays),
        "unlabelled": result.unlabelled,
        "first": result.share("first"),
        "top3": result.share("top3"),
        "novelty_precision": precision,
        "novelty_recall": recall,
        "calibration": {c: {"n": n, "right": r} for c, (n, r) in result.calibration().items()},
        "wall_s": round(time.monotonic() - started, 2),
        "cpu_s": round(time.process_time() - cpu, 2),
    }
    if as_json:
        print(json.dumps({"replays": [dataclasses.asdict(r) for r in result.replays], **totals}, indent=2))
        return 0
    for r in result.replays:
        marks = f"{'first' if r.first else 'top3' if r.top3 else 'miss':<5}"
        novel = "novel" if r.novel else "known"
        due = (
            ""
            if r.novel == r.should_be_novel
            else f" (should be {'novel' if r.should_be_novel else 'known'})"
        )
        print(f"{r.record_id:<24} {marks} {novel}{due:<20} [{r.confidence}] {r.evidence:<9} {r.claim[:90]}")
    if not result.replays:
        print("no labelled past incident to replay: tag them cause:<name>, or see `kb calibrate`")
        return 1
    print(
        f"{len(result.replays)} replayed ({result.mode}; {result.unlabelled} unlabelled skipped): "
        f"right cause first {totals['first']:.2f}, in the top three {totals['top3']:.2f}; "
        f"novelty precision {precision:.2f}, recall {recall:.2f}"
    )
    for c, (n, right) in result.calibration().items():
        print(f"  stated {c}: {n} incidents, first hypothesis right in {right:.0%}")
    print(f"backtest took {totals['wall_s']:.1f} s wall, {totals['cpu_s']:.1f} s CPU")
    return 0


def _listed(record: IncidentRecord) -> dict[str, object]:
    when = record.started_at.isoformat() if record.started_at else None
    return {"id": record.id, "started_at": when, "title": record.title, "services": record.services}
