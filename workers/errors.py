"""The exception tree. Everything the product raises on purpose derives from `CopilotError`.

    CopilotError
    ├── ConfigError          bad or missing settings; the CLI prints them all and exits 2
    ├── StartupError         a fault found at start-up (port taken, Redis or Slack unreachable); one
    │                        line naming it and what to do, exit 2
    ├── UserInputError       a user's request cannot be understood; shown ephemerally, never logged
    │   ├── WindowParseError     a `/triage` time window that does not parse
    │   └── AlertPayloadError    an alert webhook body that is not what its receiver reads; HTTP 400
    ├── ServiceUnavailable   a dependency is down (Redis); the user is told, the run id is logged
    │   └── EmbeddedRedisError   the embedded Redis server could not start
    ├── PromptError          a prompt template is missing, has no version header, or lacks a variable
    ├── ExecutorError        an approved action could not be carried out; reported, never retried
    └── LLMError             the LLM gave no usable answer; triage falls back to evidence only
        ├── LLMUnavailable       unreachable, timing out, or refusing (429/5xx) after the retries
        ├── LLMOutputError       an answer that does not parse or validate, even after one repair turn
        ├── LLMContextError      the prompt does not fit the model's context window
        │   └── LLMContextOverflow   the server said so (HTTP 400 with its count); cut and retried once
        └── LLMBudgetExceeded    the investigation's token, cost or time budget is spent

Anything else is a bug: the global handlers log it with a run id and tell the user only that id.
"""

from __future__ import annotations

from collections.abc import Iterable


class CopilotError(Exception):
    """Base of every deliberate error."""


class ConfigError(CopilotError):
    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))

    def render(self) -> str:
        lines = ["incident-copilot: configuration problems:"]
        lines += [f"  - {p}" for p in self.problems]
        lines.append("Set them in the environment, a .env file, or files in SECRETS_DIR. See README.md.")
        return "\n".join(lines)


class StartupError(CopilotError):
    """Start-up cannot go on; the message names the fault and what to do about it."""


class UserInputError(CopilotError):
    """A message meant for the user who typed the command."""


class WindowParseError(UserInputError):
    pass


class AlertPayloadError(UserInputError):
    pass


class ServiceUnavailable(CopilotError):
    pass


class EmbeddedRedisError(ServiceUnavailable):
    pass


class PromptError(CopilotError):
    pass


class LLMError(CopilotError):
    pass


class LLMUnavailable(LLMError):
    pass


class LLMOutputError(LLMError):
    pass


class LLMContextError(LLMError):
    pass


class LLMContextOverflow(LLMContextError):
    """The server refused the request as longer than its window; its figures, when it gave them."""

    def __init__(self, message: str, window: int | None, prompt_tokens: int | None) -> None:
        super().__init__(message)
        self.window = window
        self.prompt_tokens = prompt_tokens


class LLMBudgetExceeded(LLMError):
    pass


class ExecutorError(CopilotError):
    """The action could not be carried out; the message says why, for the thread and the audit."""
