"""AWS CloudWatch Logs: `FilterLogEvents` over the window, following `nextToken` until done or capped."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from workers.evidence.model import LogLine, LogQuery, SourceResult, SourceStatus
from workers.evidence.records import line_from


def _millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _status(lines: list[LogLine], note: str) -> SourceStatus:
    if note:
        return "partial" if lines else "error"
    return "ok" if lines else "empty"


class CloudWatchSource:
    """One log group per service; `{service}` in the group and filter pattern is filled in per query."""

    def __init__(
        self,
        name: str,
        log_group_template: str,
        *,
        filter_pattern_template: str = "",
        region: str = "us-east-1",
        endpoint_url: str | None = None,
        client: Any | None = None,
        timeout_s: float = 10,
        page_limit: int = 10000,
    ) -> None:
        self.name = name
        self._group_template = log_group_template
        self._pattern_template = filter_pattern_template
        self._region = region
        self._endpoint_url = endpoint_url
        self._client = client
        self._timeout_s = timeout_s
        self._page_limit = page_limit

    async def fetch(self, query: LogQuery) -> SourceResult:
        started = time.monotonic()
        params = {
            "logGroupName": self._group_template.replace("{service}", query.service),
            "filterPattern": self._pattern_template.replace("{service}", query.service),
            "startTime": _millis(query.window.start),
            "endTime": _millis(query.window.end),
        }
        lines: list[LogLine] = []
        stop = threading.Event()
        try:
            pull = asyncio.to_thread(self._pull, params, query.max_lines, lines, stop)
            note = await asyncio.wait_for(pull, self._timeout_s)
        except TimeoutError:
            stop.set()  # the worker thread stops before its next page
            lines = list(lines)
            note = f"timeout after {self._timeout_s:g} s"
        return SourceResult(
            source=self.name,
            status=_status(lines, note),
            query=(
                f"log group {params['logGroupName']}, filter pattern {params['filterPattern']!r}, "
                f"{query.window.start.isoformat()} – {query.window.end.isoformat()} "
                f"(startTime={params['startTime']}, endTime={params['endTime']})"
            ),
            window=query.window,
            lines=lines,
            note=note,
            elapsed_s=time.monotonic() - started,
        )

    def _pull(
        self, params: dict[str, Any], max_lines: int, lines: list[LogLine], stop: threading.Event
    ) -> str:
        """Append events page by page (blocking); return why it stopped short, or "" when complete."""
        client = self._client if self._client is not None else self._new_client()
        try:
            token: str | None = None
            while not stop.is_set():
                room = max_lines - len(lines)
                paging = {"nextToken": token} if token else {}
                page = client.filter_log_events(**params, limit=min(self._page_limit, room), **paging)
                lines.extend(self._line(event) for event in page.get("events", [])[:room])
                token = page.get("nextToken")
                if not token:
                    return ""
                if len(lines) >= max_lines:
                    return f"capped at {max_lines} lines"
            return ""
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code") or "ClientError")
            return f"{code} after {len(lines)} lines" if lines else code
        except BotoCoreError as exc:  # no credentials, endpoint unreachable, connect/read timeouts
            name = type(exc).__name__
            return f"{name} after {len(lines)} lines" if lines else name
        finally:
            if self._client is None:
                client.close()

    def _new_client(self) -> Any:
        """A client of our own: bounded connect/read times and few retries, so a dead endpoint fails fast."""
        config = Config(
            connect_timeout=self._timeout_s,
            read_timeout=self._timeout_s,
            retries={"mode": "standard", "total_max_attempts": 2},
        )
        session = boto3.session.Session()  # one per client: the default session is not thread-safe
        return session.client(
            "logs", region_name=self._region, endpoint_url=self._endpoint_url, config=config
        )

    def _line(self, event: dict[str, Any]) -> LogLine:
        return line_from(
            str(event.get("message", "")).rstrip("\r\n"),
            datetime.fromtimestamp(event["timestamp"] / 1000, tz=UTC) if "timestamp" in event else None,
            self.name,
            {"logStreamName": str(event.get("logStreamName", ""))},
        )
