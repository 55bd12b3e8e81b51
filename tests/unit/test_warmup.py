"""The warm-up covers every source type, and a source it cannot pre-load never stops the worker."""

from __future__ import annotations

from typing import get_args

from structlog.testing import capture_logs

from workers.evidence.config import CloudWatchConfig, FilesConfig, SourceConfig
from workers.llm.prompts import PromptLoader
from workers.triage.engine import Engine
from workers.warmup import _WARM, preload


def test_every_source_type_is_warmed() -> None:
    union = get_args(get_args(SourceConfig)[0])
    types = {t for model in union for t in get_args(model.model_fields["type"].annotation)}
    assert types == set(_WARM)


def test_a_source_that_cannot_be_preloaded_is_logged_and_the_rest_still_load() -> None:
    bad = CloudWatchConfig(name="cw", type="cloudwatch", log_group="/svc", region="not a region!")
    files = FilesConfig(name="app", type="files", paths=["/nonexistent.log"])
    with capture_logs() as logs:
        preload(Engine(llm=None, prompts=PromptLoader()), [bad, files])
    assert [(e["event"], e["source"]) for e in logs] == [("log source not pre-loaded", "cw")]
    assert "region" in logs[0]["error"].lower()
