"""Benchmark: triage prompts against an LLM server that enforces its context window as vLLM does.

    python tests/benchmarks/bench_context_window.py [--windows 2048,4096,8192,32768,131072]

For each window, a digest budgeted at the whole window (distinct error templates, each quoted) and 40
long channel messages overfill it; the engine cuts the prompt to fit and asks the LLM test server
(`tests/support/fake_llm.py`), which counts the request as vLLM's ChatML template renders it, the
response-format schema included, and answers HTTP 400 with vLLM's message when it does not fit.
Printed per window: the server's prompt count, max_tokens, their sum against the window, what the
prompt kept, and the rejections. A last row runs a server whose template adds 1,500 tokens we
cannot know about: one rejection, then the cut prompt fits.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.support.fake_llm import FakeLLM  # noqa: E402
from tests.support.overfill import citing_answer, overfilled  # noqa: E402
from tests.support.prompt_evidence import items_of  # noqa: E402
from workers.evidence.tokens import TokenCounter  # noqa: E402
from workers.llm.budget import Budget  # noqa: E402
from workers.llm.client import LLMClient  # noqa: E402
from workers.llm.prompts import PromptLoader  # noqa: E402
from workers.redaction import ConsistentRedactor  # noqa: E402
from workers.settings import LLMSettings  # noqa: E402
from workers.triage.engine import Engine  # noqa: E402


def run(window: int, counter: TokenCounter, template_extra: int = 0) -> None:
    ctx = overfilled(window, counter)
    with FakeLLM(default=citing_answer, context_window=window, template_extra=template_extra) as server:
        settings = LLMSettings.model_validate(
            {
                "OPENAI_BASE_URL": server.base_url,
                "OPENAI_API_KEY": "sk-bench",
                "LLM_MODEL": "gpt-4o-mini",
                "LLM_CONTEXT_WINDOW": str(window),
            }
        )
        engine = Engine(llm=LLMClient(settings, counter), prompts=PromptLoader())
        report = engine.report(
            ctx, Budget(tokens=10**7, cost_usd=0, seconds=300), ConsistentRedactor(), lambda _record: None
        )
        last = server.chat_requests()[-1].body
        prompt, completion = server.prompt_tokens(last), last["max_tokens"]
        kept = len(items_of(last, "log")), len(items_of(last, "message"))
        shown = len(ctx.evidence.entries) if ctx.evidence else 0
        print(
            f"{window:>7} {template_extra:>6} {prompt:>7} {completion:>6} {prompt + completion:>7} "
            f"{(prompt + completion) / window:>6.1%} {kept[0]:>4}/{shown:<5} "
            f"{kept[1]:>2}/{len(ctx.messages):<3} {len(server.rejected):>9} {report.mode}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--windows", default="2048,4096,8192,32768,131072")
    args = parser.parse_args()
    counter = TokenCounter.for_configured_model("gpt-4o-mini")
    print(" window  extra  prompt  max_tk   total  share logs kept  msgs  rejected mode")
    for window in (int(w) for w in args.windows.split(",")):
        run(window, counter)
    run(8192, counter, template_extra=1500)


if __name__ == "__main__":
    main()
