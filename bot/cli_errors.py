"""How the command line reports failure: one line on standard error that names the problem and
what to do, and a non-zero exit code; never a traceback (`LOG_LEVEL=debug` adds one).

Exit codes: 0 done (also when the reader of our output, `head` say, went away early), 1 something
it depends on failed or is unreachable, 2 the input is wrong or missing.
"""

from __future__ import annotations

import difflib
import os
import sys
import traceback
from collections.abc import Callable, Iterable

PROG = "incident-copilot"


def say(message: str) -> None:
    print(f"{PROG}: {message}", file=sys.stderr)


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """' (did you mean restart?)' for a near miss among `choices`, else ''."""
    close = difflib.get_close_matches(name, sorted(set(choices)), n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def _debug() -> bool:
    return os.environ.get("LOG_LEVEL", "").lower() == "debug"


def _reader_left() -> int:
    # Further writes (and the interpreter's flush at exit) go nowhere instead of failing again.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 0


def _explain(exc: BaseException) -> tuple[str, int]:
    """The message and exit code for a failure that escaped a command."""
    import redis

    if isinstance(exc, redis.AuthenticationError):
        return f"Redis refused our credentials ({exc}); check the password in REDIS_URL", 1
    if isinstance(exc, redis.ConnectionError | redis.TimeoutError):
        return (
            f"cannot reach Redis ({exc}); check REDIS_URL (unset it to use the embedded Redis) "
            "and that the server is running",
            1,
        )
    if isinstance(exc, redis.RedisError):
        return f"Redis answered with an error: {exc}", 1
    slack = _slack_problem(exc)
    if slack:
        return slack, 1
    if isinstance(exc, FileNotFoundError) and exc.filename:
        return f"{exc.filename}: no such file or folder", 2
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.filename}: {exc.strerror or exc}", 2
    if isinstance(exc, ConnectionError | TimeoutError):
        return f"a connection failed: {exc}", 1
    return f"unexpected {type(exc).__name__}: {exc} (LOG_LEVEL=debug prints where)", 1


def _slack_problem(exc: BaseException) -> str:
    try:
        from slack_sdk.errors import SlackApiError, SlackClientError
    except ImportError:  # pragma: no cover - slack_sdk is a dependency
        return ""
    if isinstance(exc, SlackApiError):
        return f"Slack answered {exc.response.get('error', exc.response.status_code)}; check SLACK_BOT_TOKEN"
    if isinstance(exc, SlackClientError):
        return f"cannot reach Slack ({exc}); check SLACK_API_URL and the network"
    if type(exc).__module__.startswith("urllib") and "slack" in str(exc).lower():
        return f"cannot reach Slack ({exc}); check SLACK_API_URL and the network"
    return ""


def guarded(command: Callable[[], int]) -> int:
    """Run `command`, turning any failure into one line and an exit code."""
    try:
        code = command()
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        return _reader_left()
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        message, code = _explain(exc)
        if _debug():
            traceback.print_exc()
        say(message)
        return code
