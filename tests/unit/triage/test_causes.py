"""Mechanism over symptom, at any severity, in causal order; the vocabulary as validated data."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from tests.unit.triage.context import NOW, context, entry
from workers.errors import ConfigError
from workers.models import EvidenceEntry
from workers.triage.evidence_only import evidence_only_report
from workers.triage.vocabulary import default_vocabulary, load_vocabulary


def at(e: EvidenceEntry, minutes_before_now: float, kind: str | None = None) -> EvidenceEntry:
    update: dict[str, object] = {"first_seen": NOW - timedelta(minutes=minutes_before_now)}
    if kind:
        update["kind"] = kind
    return e.model_copy(update=update)


OOM_TPL = "<TS> node-7 kernel: Out of memory: Killed process <*>"
OOM = "2026-03-14T10:45:00Z node-7 kernel: Out of memory: Killed process 4182 (java) total-vm:812kB"
GATEWAY = "2026-03-14T10:46:00Z ERROR gateway upstream connect error or disconnect/reset before headers"
CLOCK_LEAP = "2026-03-14T10:47:00Z WARN api HikariPool-1 - Thread starvation or clock leap detected"


def test_a_mechanism_at_unknown_severity_outranks_a_louder_symptom() -> None:
    entries = [
        at(entry("T1", "new", "error", "<TS> ERROR gateway upstream connect error <*>", GATEWAY, 900), 24),
        at(entry("T2", "new", "unknown", OOM_TPL, OOM, 5), 25),
    ]
    report = evidence_only_report(context(known=False, entries=entries), "x")
    top = report.hypotheses[0]
    assert top.statement == "Out of memory (OOM kill), from 10:45, ×5"
    assert top.evidence[0].quote == OOM  # the key line, quoted
    assert "→ `<TS> ERROR gateway upstream connect error <*>` ×900 from 10:46" in top.detail
    assert len(report.hypotheses) == 1  # the gateway errors are explained, not a hypothesis of their own


def test_a_mechanism_as_common_in_the_baseline_is_discounted_and_said_so() -> None:
    entries = [
        at(entry("T2", "new", "unknown", OOM_TPL, OOM, 5), 25),
        at(entry("T3", "steady", "warning", "<TS> WARN api HikariPool-1 - <*> clock leap", CLOCK_LEAP), 80),
    ]
    report = evidence_only_report(context(known=False, entries=entries), "x")
    assert [h.statement.split(",")[0] for h in report.hypotheses] == ["Out of memory (OOM kill)"]
    assert (
        "Not counted (as common in the baseline): `<TS> WARN api HikariPool-1" in report.hypotheses[0].detail
    )


def test_the_first_mechanism_comes_first_and_a_late_one_is_ranked_below() -> None:
    late_pool = "2026-03-14T11:00:00Z ERROR api HikariPool-1 - Connection is not available, request timed out"
    entries = [
        at(entry("T4", "new", "error", "<TS> ERROR api HikariPool-1 - Connection is not available <*>",
                 late_pool, 400), 10),
        at(entry("T1", "new", "error", "<TS> ERROR gateway upstream connect error <*>", GATEWAY, 900), 24),
        at(entry("T2", "new", "unknown", OOM_TPL, OOM, 5), 25),
    ]  # fmt: skip
    names = [
        h.statement.split(",")[0]
        for h in evidence_only_report(context(known=False, entries=entries), "x").hypotheses
    ]
    assert names == ["Out of memory (OOM kill)", "Connection pool exhausted"]


def test_a_change_shortly_before_the_first_failure_is_the_chain_s_first_step() -> None:
    flag = "2026-03-14T10:41:00Z INFO pricing feature flag 'v2' changed from false to true by ops"
    npe = "2026-03-14T10:43:00Z ERROR pricing java.lang.NullPointerException at Engine.price"
    entries = [
        at(
            entry("T5", "new", "error", "<TS> ERROR pricing java.lang.NullPointerException <*>", npe, 300), 27
        ),
        at(entry("T6", "new", "info", "<TS> INFO pricing feature flag <*> changed <*>", flag, 1), 29),
    ]
    top = evidence_only_report(context(known=False, entries=entries), "x").hypotheses[0]
    assert top.statement == "Feature flag change at 10:41, just before the first failures"
    assert top.evidence[0].quote == flag and "Would undoing the feature flag change stop it?" in top.checks


def test_the_shipped_vocabulary_loads_and_names_mechanisms_and_changes() -> None:
    v = default_vocabulary()
    assert v.mechanism(OOM) is not None and v.mechanism(OOM).id == "oom"  # type: ignore[union-attr]
    assert v.change("[INFO] Reloading complete") is not None
    assert v.cause_of("the kernel OOM killer killed the java process") == "oom"
    assert v.cause_of("the intern spilled coffee") == ""


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("version: 1\nmechanisms:\n  - id: x\n    name: Broken\n    signatures: ['(unclosed']\n", ":5:"),
        ("version: 1\nchanges:\n  - id: y\n    name: Thing\n    signatures: [a]\n    colour: red\n", ":6:"),
        ("version: 1\nmechanisms: [\n", ":3:"),
        ("version: 1\nmechanisms:\n  - {id: a, name: Aaa, signatures: [a]}\nchanges:\n"
         "  - {id: a, name: Bbb, signatures: [b]}\n", "ids must be unique"),
    ],
)  # fmt: skip
def test_a_bad_vocabulary_names_the_file_and_line(tmp_path: Path, text: str, where: str) -> None:
    path = tmp_path / "vocabulary.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_vocabulary(path)
    assert str(path) in str(err.value) and where in str(err.value)


def test_the_operator_s_vocabulary_replaces_the_packaged_one_and_the_cli_checks_it(tmp_path: Path) -> None:
    from bot.cli import main
    from workers.triage.vocabulary import use_vocabulary

    mine = tmp_path / "vocabulary.yaml"
    mine.write_text(
        "version: 1\nmechanisms:\n  - {id: gremlin, name: Gremlins in the rack, signatures: [gremlin]}\n"
    )
    try:
        assert use_vocabulary(mine) is default_vocabulary()
        assert default_vocabulary().mechanism("a gremlin chewed the cable").name == "Gremlins in the rack"  # type: ignore[union-attr]
        assert default_vocabulary().mechanism(OOM) is None
    finally:
        use_vocabulary(None)
    assert default_vocabulary().mechanism(OOM) is not None
    assert main(["--env-file", str(tmp_path / "none.env"), "vocabulary", "check", str(mine)]) == 0
    mine.write_text("version: 1\nmechanisms:\n  - {id: Bad Id, name: x, signatures: []}\n")
    assert main(["--env-file", str(tmp_path / "none.env"), "vocabulary", "check", str(mine)]) == 2


def test_the_model_is_shown_the_mechanisms_the_logs_show_in_causal_order() -> None:
    from workers.llm.prompts import PromptLoader
    from workers.triage.engine import Engine

    system, user = Engine(llm=None, prompts=PromptLoader(None))._render(context())
    assert (
        '{"kind": "cause", "text": "Connection pool exhausted (mechanism) [T7a6a1779], first 10:49, after '
        'deploy of a new version [T467fbf04]"}'
    ) in user.text  # the injected line T218d0d08 is no anomaly the cause explains
    assert "Name the cause, not the symptom" in system.text
