"""CloudWatchSource against moto's CloudWatch Logs server on 127.0.0.1; boto3 never reaches AWS."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.stub import Stubber
from moto.server import ThreadedMotoServer

from workers.evidence.model import LogQuery, TimeWindow
from workers.evidence.sources.cloudwatch import CloudWatchSource

# moto accepts only events from the last 14 days, so the window is recent.
_NOW = datetime.now(UTC).replace(microsecond=0)
WINDOW = TimeWindow(_NOW - timedelta(hours=1), _NOW - timedelta(minutes=10))
QUERY = LogQuery("checkout", WINDOW)
_INHERITED = (
    "AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy",
)  # fmt: skip
# One attempt, so a refused connection is an error at once; timeouts generous for a busy machine.
ONE_TRY = Config(connect_timeout=60, read_timeout=60, retries={"total_max_attempts": 1})


@pytest.fixture(autouse=True)
def _offline_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Dummy credentials, no instance metadata, no profile or proxy from the developer's machine."""
    for name in _INHERITED:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def logs(moto_url: str) -> Iterator[Any]:
    client = boto3.session.Session().client(
        "logs", region_name="us-east-1", endpoint_url=moto_url, aws_access_key_id="testing",
        aws_secret_access_key="testing", config=ONE_TRY,
    )  # fmt: skip
    yield client
    client.close()


def _put(logs: Any, group: str, stream: str, events: list[tuple[datetime, str]]) -> None:
    if group not in {
        g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    }:
        logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    logs.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[{"timestamp": int(ts.timestamp() * 1000), "message": text} for ts, text in events],
    )


def _closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.mark.asyncio
async def test_follows_next_token_over_pages_within_window_and_pattern(logs: Any) -> None:
    group = "/aws/ecs/checkout"
    in_window = [(WINDOW.start + timedelta(seconds=30 * i), f"ERROR upstream 504 #{i}") for i in range(25)]
    _put(logs, group, "task-a", [*in_window[:13], (WINDOW.start + timedelta(minutes=20), "INFO healthy")])
    _put(logs, group, "task-b", in_window[13:])
    _put(logs, group, "task-c", [(WINDOW.start - timedelta(minutes=5), "ERROR before the window")])
    calls: list[dict[str, Any]] = []
    logs.meta.events.register(
        "provide-client-params.logs.FilterLogEvents", lambda params, **_: calls.append(params)
    )
    source = CloudWatchSource(
        "cloudwatch", "/aws/ecs/{service}", filter_pattern_template="ERROR", client=logs, page_limit=10
    )

    result = await source.fetch(QUERY)

    assert (result.status, result.note) == ("ok", "")
    assert len(calls) == 3 and "nextToken" not in calls[0] and calls[2]["nextToken"]
    assert sorted(line.text for line in result.lines) == sorted(text for _, text in in_window)
    first = next(line for line in result.lines if line.text == "ERROR upstream 504 #0")
    assert (first.ts, first.source, first.labels) == (WINDOW.start, "cloudwatch", {"logStreamName": "task-a"})
    assert {line.labels["logStreamName"] for line in result.lines} == {"task-a", "task-b"}
    assert "log group /aws/ecs/checkout" in result.query and "filter pattern 'ERROR'" in result.query
    assert f"startTime={int(WINDOW.start.timestamp() * 1000)}" in result.query
    assert result.gap() is None


@pytest.mark.asyncio
async def test_cap_stops_paging_and_marks_partial(logs: Any) -> None:
    _put(
        logs, "/aws/ecs/capped", "s", [(WINDOW.start + timedelta(seconds=i), f"line {i}") for i in range(30)]
    )
    source = CloudWatchSource("cloudwatch", "/aws/ecs/{service}", client=logs, page_limit=5)

    result = await source.fetch(LogQuery("capped", WINDOW, max_lines=12))

    assert (result.status, result.note) == ("partial", "capped at 12 lines")
    assert [line.text for line in result.lines] == [f"line {i}" for i in range(12)]


@pytest.mark.asyncio
async def test_missing_log_group_is_an_error_gap_with_its_own_client(moto_url: str) -> None:
    source = CloudWatchSource("cloudwatch", "/aws/ecs/{service}", endpoint_url=moto_url, timeout_s=120)

    result = await source.fetch(LogQuery("no-such-service", WINDOW))

    assert (result.status, result.note, result.lines) == ("error", "ResourceNotFoundException", [])
    assert result.gap() == f"cloudwatch: ResourceNotFoundException, window {WINDOW.label()}"
    assert "/aws/ecs/no-such-service" in result.query


@pytest.mark.asyncio
async def test_group_without_matching_events_is_empty(logs: Any, moto_url: str) -> None:
    _put(logs, "/aws/ecs/quiet", "s", [(WINDOW.start + timedelta(minutes=1), "INFO all good")])
    source = CloudWatchSource(
        "cloudwatch", "/aws/ecs/{service}", filter_pattern_template="ERROR", endpoint_url=moto_url
    )

    result = await source.fetch(LogQuery("quiet", WINDOW))

    assert (result.status, result.note, result.lines) == ("empty", "", [])


@pytest.mark.asyncio
async def test_endpoint_down_is_an_error_note_and_fails_fast() -> None:
    url = _closed_port()
    client = boto3.session.Session().client("logs", region_name="us-east-1", endpoint_url=url, config=ONE_TRY)
    source = CloudWatchSource("cloudwatch", "/aws/ecs/{service}", client=client)

    started = time.monotonic()
    result = await source.fetch(QUERY)
    client.close()

    assert (result.status, result.note) == ("error", "EndpointConnectionError")
    assert time.monotonic() - started < 60  # no waiting out retries and timeouts


@pytest.mark.asyncio
async def test_missing_credentials_is_an_error_note(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    source = CloudWatchSource("cloudwatch", "/aws/ecs/{service}", endpoint_url=_closed_port())

    result = await source.fetch(QUERY)

    assert (result.status, result.note) == ("error", "NoCredentialsError")


@pytest.mark.asyncio
async def test_error_after_a_page_keeps_the_lines_as_partial(logs: Any) -> None:
    events = [{"timestamp": 0, "message": f"ERROR {n}\n", "logStreamName": "s"} for n in ("one", "two")]
    with Stubber(logs) as stub:
        stub.add_response("filter_log_events", {"events": events, "nextToken": "t1"})
        stub.add_client_error(
            "filter_log_events", service_error_code="ThrottlingException", http_status_code=400
        )
        result = await CloudWatchSource("cloudwatch", "/aws/ecs/{service}", client=logs).fetch(QUERY)

    assert (result.status, result.note) == ("partial", "ThrottlingException after 2 lines")
    assert [line.text for line in result.lines] == ["ERROR one", "ERROR two"]  # trailing newline dropped


class _StallsAfterFirstPage:
    """A logs client whose second `FilterLogEvents` call hangs until released."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def filter_log_events(self, **params: Any) -> dict[str, Any]:
        if "nextToken" in params:
            self.release.wait(120)
            return {"events": [], "nextToken": "again"}
        return {"events": [{"timestamp": 1, "message": "early", "logStreamName": "s"}], "nextToken": "t1"}


@pytest.mark.asyncio
async def test_timeout_keeps_lines_already_read() -> None:
    client = _StallsAfterFirstPage()
    source = CloudWatchSource("cloudwatch", "/aws/ecs/{service}", client=client, timeout_s=2)

    result = await source.fetch(QUERY)
    client.release.set()

    assert (result.status, result.note) == ("partial", "timeout after 2 s")
    assert [line.text for line in result.lines] == ["early"]
    assert result.elapsed_s < 60  # cut by its timeout, not by the 120 s stall
