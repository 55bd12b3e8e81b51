"""`incident-copilot backtest --eval`: a slice of the labelled evaluation set through the real runner, in
evidence-only mode (beside a second release) and with an OpenAI-compatible LLM on loopback."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.evals.triage.build import build
from tests.support.fake_llm import FakeLLM
from tests.support.prompt_evidence import items_of
from workers.triage import evalset

REPO = Path(__file__).resolve().parents[2]
SLICE = ("E01-oom", "E03-dns", "E16-network_partition")  # dev known (red herring), held-out known, dev novel
TIMEOUT_S = 600


@pytest.fixture(scope="module")
def eval_slice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    full, part = tmp_path_factory.mktemp("eval"), tmp_path_factory.mktemp("slice")
    build(full)
    shutil.copytree(full / "kb", part / "kb")
    for case in SLICE:
        shutil.copytree(full / "cases" / case, part / "cases" / case)
    return part


def _backtest(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "REDIS_", "LLM_"))}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "--env-file", os.devnull, "backtest", *args],
        cwd=REPO,
        env=base | (env or {}),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )


def test_evidence_only_backtest_prints_the_slice_figures_beside_the_compared_release(
    eval_slice: Path,
) -> None:
    out = _backtest("--eval", str(eval_slice), "--compare", str(REPO))
    assert out.returncode == 0, out.stderr[-2000:]
    rows = re.findall(
        r"^(this release|compared release)\s+(dev|held-out|all)\s+(\d+)((?:\s+[\d.na]+){5})$",
        out.stdout,
        re.M,
    )
    figures = {
        (engine, split): (int(n), [float(v) for v in values.split()]) for engine, split, n, values in rows
    }
    # Both cases with a past incident of their class: named first, quoted, not novel; the novel one flagged.
    assert figures[("this release", "all")] == (3, [1.0, 1.0, 1.0, 0.0, 1.0])
    assert figures[("this release", "held-out")][0] == 1 and figures[("this release", "dev")][0] == 2
    assert figures[("compared release", "all")] == figures[("this release", "all")]  # the same tree twice
    assert "E01-oom" in out.stdout and "E03-dns" not in out.stdout  # held-out cases: figures only
    assert "rule score" in out.stdout and "by leave-one-out on 34 past incidents" in out.stdout
    assert re.search(r"3 cases in [\d.]+ s wall, [\d.]+ s CPU \(evidence-only\)", out.stdout)


def test_bad_sets_and_trees_are_named_with_what_to_do(tmp_path: Path, eval_slice: Path) -> None:
    out = _backtest("--eval", str(tmp_path))
    assert out.returncode == 2 and "expected a labelled set with kb/ and cases/" in out.stdout
    out = _backtest("--eval", str(eval_slice), "--compare", str(tmp_path))
    assert out.returncode == 2 and "not a source tree of incident-copilot" in out.stdout
    out = _backtest("--compare", str(REPO))
    assert out.returncode == 2 and "--compare needs --eval" in out.stdout


def _careful_model(body: dict[str, Any]) -> str:
    """A model that names the first recognised cause and cites the newest log line it saw."""
    causes = [c["text"] for c in items_of(body, "cause")]
    logs = [i for i in items_of(body, "log") if i["change"] == "new" and i["line"]] or items_of(body, "log")
    claim = f"Model says: {causes[0]}" if causes else "Model says: nothing recognised"
    cite = [{"kind": "log", "id": logs[0]["id"], "quote": logs[0]["line"][:40]}] if logs else []
    summary = {"what": "users see errors", "cause": claim, "cause_confidence": "medium", "next": "check"}
    return json.dumps(
        {
            "summary": summary,
            "hypotheses": [
                {"statement": claim, "confidence": "medium", "evidence": cite, "checks": [], "actions": []}
            ],
        }
    )


@pytest.fixture
def llm() -> Iterator[FakeLLM]:
    with FakeLLM(default=_careful_model) as server:
        yield server


def test_llm_mode_backtest_scores_the_models_answers(eval_slice: Path, llm: FakeLLM) -> None:
    env = {"OPENAI_BASE_URL": llm.base_url, "OPENAI_API_KEY": "sk-test-key", "LLM_MODEL": "gpt-4o-mini"}
    out = _backtest("--eval", str(eval_slice), "--json", env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    [run] = json.loads(out.stdout).values()
    answers = run["answers"]
    assert {a["mode"] for a in answers.values()} == {"llm"}
    assert len(llm.chat_requests()) == len(SLICE)  # one prompt per case, to the configured endpoint
    cases = evalset.load_cases(eval_slice)
    for case in cases:
        first = answers[case["id"]]["hypotheses"][0]["statement"]
        assert first.startswith("Model says: "), first  # the model's claim, grounded, is what is scored
        said = [
            r
            for r in llm.chat_requests()
            if any(i["text"] == case["text"] for i in items_of(r.body, "report"))
        ]
        assert len(said) == 1  # the case's own symptom text went to the model
    by_split = run["figures"]
    assert by_split["all"]["n"] == 3 and by_split["all"]["first"] == 1.0  # the model named each cause
    assert by_split["all"]["false_novel"] == 0.0 and by_split["all"]["novel_hit"] == 1.0


def test_kb_calibrate_prints_each_rule_and_the_one_leave_one_out_chose(
    eval_slice: Path, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "REDIS_", "LLM_"))}
    env["REDIS_EMBEDDED_DIR"] = str(tmp_path / "redis")

    def kb(*args: str) -> str:
        out = subprocess.run(
            [sys.executable, "-m", "bot.cli", "--env-file", os.devnull, "kb", *args],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=TIMEOUT_S, check=True,
        )  # fmt: skip
        return out.stdout

    kb("ingest", str(eval_slice / "kb"))
    printed = kb("calibrate")
    rules = re.findall(
        r"^  rule (score|score\+cause): threshold [\d.]+, (\d+)% novel flagged, (\d+)% known", printed, re.M
    )
    assert [r[0] for r in rules] == ["score", "score+cause"]
    [chosen] = re.findall(r"^  rule (\S+): .*\(chosen\)$", printed, re.M)
    fits = {name: int(novel) - int(known) for name, novel, known in rules}
    assert fits[chosen] == max(fits.values())  # the rule that separates best (Youden's J) is the one kept
    assert f"rule {chosen}, by leave-one-out on 34 past incidents" in printed
