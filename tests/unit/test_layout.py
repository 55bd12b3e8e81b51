"""The dependency rule: `bot` may import `workers`; `workers` never imports `bot`."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_workers_never_import_bot() -> None:
    files = sorted((ROOT / "workers").rglob("*.py"))
    assert len(files) > 10
    offenders = {
        str(f.relative_to(ROOT)): sorted(n for n in _imports(f) if n == "bot" or n.startswith("bot."))
        for f in files
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def _reads_environment(node: ast.AST) -> bool:
    return any(
        (isinstance(n, ast.Attribute) and n.attr in {"environ", "getenv"})
        or (isinstance(n, ast.Name) and n.id == "getenv")
        for n in ast.walk(node)
    )


def test_nothing_reads_the_environment_at_import_time() -> None:
    """Settings are built once at start-up: module-level code never consults the environment."""
    checked = 0
    for f in sorted((ROOT / "workers").rglob("*.py")) + sorted((ROOT / "bot").rglob("*.py")):
        for node in ast.parse(f.read_text()).body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                continue
            checked += 1
            assert not _reads_environment(node), f"{f}: {ast.unparse(node)}"
    assert checked > 50
