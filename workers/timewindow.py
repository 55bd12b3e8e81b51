"""Incident windows from what people type: "since 10:40", "last 30m", "from 10:40 to 11:10", and
requests about lines rather than time: "last 10 lines", "tail", "errors only".

Clock times are in the configured zone and mean their most recent past occurrence, so
"since 23:50" typed at 00:10 means yesterday 23:50.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from workers.errors import WindowParseError
from workers.models import LineRequest, Window

MAX_WINDOW = timedelta(days=7)
_CLOCK = r"(\d{1,2}:\d{2}(?::\d{2})?)"
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_RELATIVE = re.compile(
    r"\b(?:last|past)\s+(\d+)\s*(s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?|d|days?)\b", re.I
)
_RANGE = re.compile(rf"\b(?:from\s+|between\s+)?{_CLOCK}\s*(?:-|–|to|and|until)\s*{_CLOCK}", re.I)
_SINCE = re.compile(rf"\b(?:since|after|from|starting)\s+{_CLOCK}", re.I)
_BARE_CLOCK_WORD = re.compile(r"\b(?:since|from|after|between|last|past)\s+(\S+)", re.I)
_TAIL = re.compile(
    r"\b(?:the\s+)?(?:last|latest|newest|recent|tail(?:\s+of)?|final)\s+(\d+)\s+"
    r"(?:log\s+|error\s+)?(?:lines?|logs?|entries|messages|events|records)\b",
    re.I,
)
_BARE_TAIL = re.compile(r"\btail\b", re.I)
_ERRORS_ONLY = re.compile(r"\b(?:errors?\s+only|only\s+(?:the\s+)?errors?|just\s+(?:the\s+)?errors?)\b", re.I)
DEFAULT_TAIL = 20
MAX_TAIL = 200


def parse_lines(text: str) -> tuple[LineRequest, str]:
    """What the text asks of the lines ("last 10 lines", "tail", "errors only"), and the text without it."""
    tail: int | None = None
    if match := _TAIL.search(text):
        tail = int(match.group(1))
        if not 1 <= tail <= MAX_TAIL:
            raise WindowParseError(
                f"{match.group(0)!r}: I can show between 1 and {MAX_TAIL} of the newest lines; "
                "for more, give a window such as 'last 30m'"
            )
        text = text[: match.start()] + text[match.end() :]
    elif match := _BARE_TAIL.search(text):
        tail = DEFAULT_TAIL
        text = text[: match.start()] + text[match.end() :]
    errors_only = False
    if match := _ERRORS_ONLY.search(text):
        errors_only = True
        text = text[: match.start()] + text[match.end() :]
    return LineRequest(tail=tail, errors_only=errors_only), re.sub(r"\s{2,}", " ", text).strip()


def _unit_seconds(word: str) -> int:
    return _UNIT_SECONDS[word[0].lower()]


def _clock(text: str, now: datetime, zone: ZoneInfo) -> datetime:
    parts = [int(p) for p in text.split(":")]
    hour, minute, second = parts[0], parts[1], parts[2] if len(parts) > 2 else 0
    if hour > 23 or minute > 59 or second > 59:
        raise WindowParseError(f"{text!r} is not a time of day: use 24-hour HH:MM, for example 'since 10:40'")
    local_now = now.astimezone(zone)
    at = local_now.replace(hour=hour, minute=minute, second=second, microsecond=0)
    if at > local_now + timedelta(minutes=1):
        at -= timedelta(days=1)
    return at.astimezone(UTC)


def parse_window(text: str, *, now: datetime, zone: str, default_minutes: int) -> tuple[Window, str]:
    """Return the window and the text with the window phrase removed."""
    tz = ZoneInfo(zone)
    now = now.astimezone(UTC)
    if match := _RELATIVE.search(text):
        amount = int(match.group(1))
        if amount <= 0:
            raise WindowParseError(f"{match.group(0)!r} is an empty window: use for example 'last 30m'")
        seconds = amount * _unit_seconds(match.group(2))
        if seconds > MAX_WINDOW.total_seconds():  # also keeps timedelta from overflowing
            raise WindowParseError(
                f"{match.group(0)!r} is longer than 7 days: narrow it, for example 'last 2h'"
            )
        span = timedelta(seconds=seconds)
        window = Window(start=now - span, end=now, phrase=match.group(0))
    elif match := _RANGE.search(text):
        start, end = _clock(match.group(1), now, tz), _clock(match.group(2), now, tz)
        if end <= start:
            end += timedelta(days=1)
        if end > now + timedelta(minutes=1):
            raise WindowParseError(f"{match.group(0)!r} ends in the future: give a range that has happened")
        window = Window(start=start, end=end, phrase=match.group(0))
    elif match := _SINCE.search(text):
        window = Window(start=_clock(match.group(1), now, tz), end=now, phrase=match.group(0))
    else:
        if (bad := _BARE_CLOCK_WORD.search(text)) and re.match(r"\d", bad.group(1)):
            raise WindowParseError(
                f"I could not read the time in {bad.group(0)!r}: "
                "use 'since 10:40', 'from 10:40 to 11:10' or 'last 30m'"
            )
        window = Window(start=now - timedelta(minutes=default_minutes), end=now, phrase="")
        return window, text.strip()
    if window.end - window.start > MAX_WINDOW:
        raise WindowParseError(f"{window.phrase!r} is longer than 7 days: narrow it, for example 'last 2h'")
    rest = (text[: match.start()] + text[match.end() :]).strip()
    return window, re.sub(r"\s{2,}", " ", rest)
