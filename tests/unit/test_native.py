"""The compiled log pipeline (`workers/native.py`): never stale, and the same digest as plain Python."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

from tests.benchmarks import loggen
from workers import native

REPO = Path(__file__).resolve().parents[2]

# Digests every file given on the command line and prints the rendered digest as JSON. With `pure`,
# the modules that may be compiled are loaded from their sources, as on a machine without a compiler.
_DIGEST = textwrap.dedent(
    """
    import asyncio, importlib.machinery, importlib.util, json, sys
    from datetime import UTC, datetime
    from pathlib import Path

    sys.path.insert(0, sys.argv[1])
    from workers.native import COMPILED, ROOT

    class Source:
        names = {path.removesuffix(".py").replace("/", "."): ROOT / path for path in COMPILED}

        @classmethod
        def find_spec(cls, name, path=None, target=None):
            if name not in cls.names:
                return None
            loader = importlib.machinery.SourceFileLoader(name, str(cls.names[name]))
            return importlib.util.spec_from_file_location(name, cls.names[name], loader=loader)

    if sys.argv[2] == "pure":
        sys.meta_path.insert(0, Source)
    from workers.evidence.digest import digest_logs
    from workers.evidence.model import LogQuery, TimeWindow
    from workers.evidence.sources.files import FileSource
    from workers.evidence.tokens import TokenCounter
    from workers.native import compiled
    from workers.redaction import ConsistentRedactor

    window = TimeWindow(datetime(2020, 1, 1, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC))

    async def run():
        result = await FileSource("files", sys.argv[3:]).fetch(LogQuery("", window))
        return digest_logs(
            result.iter_lines(), budget_tokens=4000, counter=TokenCounter.for_configured_model("gpt-4o"),
            redactor=ConsistentRedactor(), incident=window, sources=[result],
        ).render()

    print(json.dumps({"digest": asyncio.run(run()), "compiled": compiled()}))
    """
)


def _digest(mode: str, paths: list[Path]) -> dict[str, object]:
    command = [sys.executable, "-c", _DIGEST, str(REPO), mode, *map(str, paths)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=True)
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_no_compiled_module_is_older_than_its_source() -> None:
    assert native.stale() == [], (
        "these sources changed after they were compiled, so Python still runs the old compiled code: "
        "run `.venv/bin/pip install -e '.[dev]'` again (or delete the .so files next to them)"
    )


def test_a_source_edited_after_its_build_is_reported_stale(tmp_path: Path) -> None:
    path = native.COMPILED[0]
    source = tmp_path / path
    source.parent.mkdir(parents=True)
    source.write_text("x = 1\n")
    built = source.with_suffix(EXTENSION_SUFFIXES[0])
    built.write_bytes(b"")
    os.utime(built, (1_000, 1_000))
    os.utime(source, (2_000, 2_000))
    assert native.stale(tmp_path) == [path]
    os.utime(source, (500, 500))
    assert native.stale(tmp_path) == []


def test_compiled_and_plain_python_digest_alike(tmp_path: Path) -> None:
    """Where the modules were compiled, they must give the digest their sources give, byte for byte:
    generated lines of every format, with secrets among them for the redactor."""
    start = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    paths = []
    for index, generated in enumerate(loggen.all_formats(300, 40, start)):
        lines = list(generated.lines)
        lines[::50] = [
            f"{line} token=ghp_{'aB3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3hJ6'[: 30 + i % 6]} password=hunter{i}x"
            for i, line in enumerate(lines[::50])
        ]
        path = tmp_path / f"{index}.log"
        path.write_text("\n".join(lines) + "\n")
        os.utime(path, (start.timestamp() + 86_400,) * 2)
        paths.append(path)
    pure = _digest("pure", paths)
    installed = _digest("installed", paths)
    assert pure["compiled"] == []
    built = [
        p for p in native.COMPILED if any((REPO / p).with_suffix(x).exists() for x in EXTENSION_SUFFIXES)
    ]
    assert len(installed["compiled"]) == len(built)  # type: ignore[arg-type]
    assert "[REDACTED:" in str(pure["digest"]) and "hunter" not in str(pure["digest"])
    assert installed["digest"] == pure["digest"]
