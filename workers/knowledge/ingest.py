"""Postmortems (Markdown with or without YAML front matter, JSON, YAML) into `IncidentRecord`s.

Walking a folder (a git checkout too), a file is skipped silently, and listed in
`IngestReport.skipped`, when it is not a postmortem:
- a hidden file; hidden directories (`.git/`, `.github/`…) are not even entered (nor listed);
- a suffix other than .md/.markdown/.json/.yaml/.yml;
- a Markdown file without front matter that is a README/LICENSE/CONTRIBUTING/CHANGELOG/CODE_OF_CONDUCT,
  lies in a `template(s)` folder or has "template" in its name, or has fewer than two recognised incident
  sections with text (summary, symptoms, root cause, trigger, resolution, impact, fault);
- a JSON/YAML document that is not a record or a list of records (no `id` or `title` key in any of
  them; a list with some records is parsed, and an item that is not one reported).
A file given explicitly is always parsed and reported in `files`.
Anything malformed is reported as an `IngestProblem` and its file skipped.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from workers.knowledge.ingest_markdown import PostmortemError, parse_markdown
from workers.knowledge.model import IncidentRecord, Provenance
from workers.yamllines import load_yaml

SUFFIXES: dict[str, Provenance] = {
    ".md": "markdown", ".markdown": "markdown", ".json": "json", ".yaml": "yaml", ".yml": "yaml",
}  # fmt: skip
NOT_POSTMORTEMS = re.compile(
    r"^(readme|license|licence|contributing|changelog|code_of_conduct|copying)\b", re.I
)
MAX_FILE_BYTES = 5_000_000  # the largest real postmortem we have seen is ~200 KB; logs belong elsewhere


@dataclass(frozen=True)
class IngestProblem:
    path: Path
    line: int | None
    message: str


@dataclass
class FileResult:
    """What one file gave: its records (and their ids), the fields found, or why it was skipped."""

    path: Path
    record_ids: list[str]
    fields_found: list[str]
    problem: IngestProblem | None = None
    records: list[IncidentRecord] = field(default_factory=list)


@dataclass
class IngestReport:
    files: list[FileResult] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)

    @property
    def records(self) -> list[IncidentRecord]:
        return [r for f in self.files for r in f.records]

    @property
    def problems(self) -> list[IngestProblem]:
        return [f.problem for f in self.files if f.problem is not None]


def ingest_path(path: Path) -> IngestReport:
    """Parse one file, or every postmortem under a folder (sorted, so ids collide deterministically)."""
    report = IngestReport()
    if path.is_file():
        report.files.append(ingest_file(path, path.parent, explicit=True))
        return report
    seen: dict[str, Path] = {}
    for file in _walk(path):
        if file.name.startswith(".") or file.suffix.lower() not in SUFFIXES:
            report.skipped.append(file)
            continue
        result = ingest_file(file, path)
        if result.problem is None and not result.records:
            report.skipped.append(file)
            continue
        if clash := next((i for i in result.record_ids if i in seen), None):
            result = _failed(file, None, f"duplicate id {clash!r}, already in {seen[clash]}")
        seen.update(dict.fromkeys(result.record_ids, file))
        report.files.append(result)
    return report


def _walk(root: Path) -> list[Path]:
    files: list[Path] = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        files += [Path(folder, n) for n in names]
    return sorted(files)


def ingest_file(path: Path, root: Path, explicit: bool = False) -> FileResult:
    """One file's records; `explicit` files are parsed even when they look like a README or template."""
    provenance = SUFFIXES.get(path.suffix.lower(), "markdown")
    source = path.relative_to(root).as_posix()
    try:
        if (size := path.stat().st_size) > MAX_FILE_BYTES:
            over = f"{size / 1e6:.1f} MB, over the {MAX_FILE_BYTES / 1e6:g} MB limit for one postmortem"
            return _failed(path, None, over)
        data = path.read_bytes()
    except OSError as exc:
        return _failed(path, None, f"cannot read: {exc}")
    try:  # newlines as read_text() would give them; a leading byte order mark dropped
        text = data.decode("utf-8").removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    except UnicodeDecodeError as exc:  # the line of the first byte that is not UTF-8
        bad = f"not UTF-8 text (byte 0x{data[exc.start]:02x}): a binary file?"
        return _failed(path, data.count(b"\n", 0, exc.start) + 1, bad)
    try:
        if provenance == "markdown":
            if not explicit and _looks_like_boilerplate(path, root) and not text.startswith("---"):
                return FileResult(path, [], [])
            raw = parse_markdown(text, path.stem)
            docs = [raw] if raw is not None else []
        else:
            docs = _load_structured(text, provenance)
            if not explicit and not any(isinstance(d, dict) and ("id" in d or "title" in d) for d in docs):
                return FileResult(path, [], [])
    except PostmortemError as exc:
        return _failed(path, exc.line, exc.message)
    except RecursionError:
        return _failed(path, None, "nested too deeply to be a postmortem record")
    records: list[IncidentRecord] = []
    for doc in docs:
        index = len(records) if len(docs) > 1 else None
        if not isinstance(doc, dict):
            line = _line_of(text, provenance, index, ())
            return _failed(path, line, f"expected a record (a mapping), got {type(doc).__name__}")
        doc.setdefault("provenance", provenance)
        doc.setdefault("source_file", source)
        try:
            records.append(IncidentRecord.model_validate(_normalise(doc)))
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            line = _line_of(text, provenance, index, err["loc"])
            return _failed(path, line, f"invalid record: {where}: {err['msg']}")
    ids = [r.id for r in records]
    if (again := next((n for n, i in enumerate(ids) if i in ids[:n]), None)) is not None:
        line = _line_of(text, provenance, again, ("id",))
        return _failed(path, line, f"duplicate id {ids[again]!r}, twice in this file")
    found = [n for n in IncidentRecord.model_fields if n not in ("provenance", "source_file")]
    fields = [n for n in found if any(getattr(r, n) not in (None, "", []) for r in records)]
    return FileResult(path, [r.id for r in records], fields, records=records)


def _failed(path: Path, line: int | None, message: str) -> FileResult:
    return FileResult(path, [], [], IngestProblem(path, line, message))


def _looks_like_boilerplate(path: Path, root: Path) -> bool:
    parts = [p.lower() for p in path.relative_to(root).parts[:-1]]
    return (
        bool(NOT_POSTMORTEMS.match(path.name))
        or "template" in path.stem.lower()
        or bool({"template", "templates"} & set(parts))
    )


def _load_structured(text: str, provenance: Provenance) -> list[Any]:
    """The documents of a JSON or YAML file: one record or a list of them."""
    try:
        data = json.loads(text) if provenance == "json" else load_yaml(text, MAX_FILE_BYTES)
    except json.JSONDecodeError as exc:
        raise PostmortemError(exc.lineno, f"malformed JSON: {exc.msg}") from exc
    except yaml.YAMLError as exc:
        raise PostmortemError.from_yaml(exc, 0) from exc
    if data is None:
        return []
    return data if isinstance(data, list) else [data]


def _normalise(doc: dict[str, Any]) -> dict[str, Any]:
    """Accept what people write by hand: `date` for started_at, dates without times, times without a zone
    (taken as UTC), comma-separated lists."""
    out = {str(k): v for k, v in doc.items()}
    if "date" in out:
        out.setdefault("started_at", out.pop("date"))
    for key in ("started_at", "resolved_at", "updated_at"):
        value = out.get(key)
        if isinstance(value, str):  # JSON has no dates; what fromisoformat rejects pydantic reports
            with contextlib.suppress(ValueError):
                value = datetime.fromisoformat(value.strip())
        if isinstance(value, date) and not isinstance(value, datetime):
            value = datetime(value.year, value.month, value.day)
        if isinstance(value, datetime):  # a time without a zone is UTC, whatever the format
            out[key] = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    for key in ("services", "tags", "links", "symptoms", "root_causes", "action_items", "log_signature"):
        if isinstance(out.get(key), str):
            out[key] = [s.strip() for s in out[key].split("," if key in ("services", "tags") else "\n")]
            out[key] = [s for s in out[key] if s]
    for key in ("id", "title", "severity"):
        if isinstance(out.get(key), int | float):
            out[key] = str(out[key])
    return out


def _line_of(text: str, provenance: Provenance, index: int | None, loc: tuple[int | str, ...]) -> int | None:
    """The 1-based line of the value at `loc` (in item `index` of a list), found through YAML's node marks."""
    body = text
    if provenance == "markdown":  # only front matter can hold a misplaced value; its lines are the file's
        lines = text.splitlines()
        opened = bool(lines) and lines[0].strip() == "---"
        end = next((n for n, line in enumerate(lines[1:], 1) if line.strip() in ("---", "...")), 0)
        body = "\n".join(lines[:end]) if opened else ""
    try:
        node = yaml.compose(body, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    path = ([index] if index is not None else []) + list(loc)
    for step in path:
        if isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
            node = node.value[step]
        elif isinstance(node, yaml.MappingNode):
            keys = {"started_at": ("started_at", "date")}.get(str(step), (str(step),))
            match = next((v for k, v in node.value if k.value in keys), None)
            if match is None:
                break
            node = match
        else:
            break
    return int(node.start_mark.line) + 1 if node is not None else None
