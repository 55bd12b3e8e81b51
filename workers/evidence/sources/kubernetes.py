"""Kubernetes pod logs: the pods a label selector picks, and for a crash loop the previous container too.

Each log is read with `timestamps=True` and `sinceSeconds` reaching back past the window start; the
RFC 3339 prefix the API server puts on every line places it, and lines outside the window are dropped.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import urllib3
from kubernetes import config as kube_config
from kubernetes.client import ApiClient, Configuration, CoreV1Api, V1ContainerStatus, V1Pod
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from workers.evidence.model import LogLine, LogQuery, SourceResult, SourceStatus, TimeWindow
from workers.evidence.records import line_from

_TROUBLE = (ApiException, urllib3.exceptions.HTTPError)


@dataclass(frozen=True)
class _Stream:
    """One container log to read: the current instance, or the previous (crashed) one."""

    pod: str
    container: str
    previous: bool

    def label(self) -> str:
        return f"pod {self.pod}/{self.container}" + (" (previous)" if self.previous else "")


@dataclass
class _Read:
    lines: list[LogLine] = field(default_factory=list)
    note: str = ""


def _crashed(status: V1ContainerStatus) -> bool:
    """Whether the container has a terminated instance whose log `previous=True` returns."""
    state, last = status.state, status.last_state
    waiting = state.waiting.reason if state and state.waiting else None
    terminated = bool(state and state.terminated) or bool(last and last.terminated)
    return status.restart_count > 0 or waiting == "CrashLoopBackOff" or terminated


def _has_run(status: V1ContainerStatus) -> bool:
    """False for a container still waiting for its first start: it has no log yet."""
    return status.restart_count > 0 or status.state is None or status.state.waiting is None


def _statuses(pod: V1Pod) -> dict[str, V1ContainerStatus]:
    return {s.name: s for s in (pod.status.container_statuses if pod.status else None) or []}


def _pod_name(pod: V1Pod) -> str:
    return (pod.metadata.name if pod.metadata else None) or ""


def _split_stamp(raw: str) -> tuple[datetime | None, str]:
    """The timestamp the API server put before the line, and the line as the container wrote it."""
    stamp, _, text = raw.partition(" ")
    try:
        return datetime.fromisoformat(stamp).astimezone(UTC), text
    except ValueError:
        return None, raw


def _status(lines: list[LogLine], failed: bool, capped: bool) -> SourceStatus:
    if failed:
        return "partial" if lines else "error"
    if capped:
        return "partial"
    return "ok" if lines else "empty"


class KubernetesSource:
    """Logs of the pods in `namespace` that match `selector_template` (`{service}` filled in per query)."""

    def __init__(
        self,
        name: str,
        namespace: str,
        selector_template: str,
        *,
        api_client: Any | None = None,
        host: str | None = None,
        token: str | None = None,
        container: str | None = None,
        timeout_s: float = 10,
        max_pods: int = 20,
    ) -> None:
        self.name = name
        self._namespace = namespace
        self._selector_template = selector_template
        self._api_client: ApiClient | None = api_client
        self._host = host
        self._token = token
        self._container = container
        self._timeout_s = timeout_s
        self._max_pods = max_pods

    async def fetch(self, query: LogQuery) -> SourceResult:
        started = time.monotonic()
        selector = self._selector_template.replace("{service}", query.service)
        since_s = max(1, math.ceil(time.time() - query.window.start.timestamp() + self._timeout_s))
        try:
            api = (
                self._api_client
                if self._api_client is not None
                else await asyncio.to_thread(self._new_client)
            )
        except ConfigException as exc:
            described = self._describe(selector, self._container or "all", since_s, query.window)
            return self._result(query, described, [], "error", f"no cluster configuration: {exc}", started)
        try:
            return await self._fetch_with(CoreV1Api(api), query, selector, since_s, started)
        finally:
            if self._api_client is None:
                api.close()  # type: ignore[no-untyped-call]

    async def _fetch_with(
        self, core: CoreV1Api, query: LogQuery, selector: str, since_s: int, started: float
    ) -> SourceResult:
        deadline = started + self._timeout_s

        def remaining() -> float:
            return max(deadline - time.monotonic(), 0.001)

        described = self._describe(selector, self._container or "all", since_s, query.window)
        try:
            listing = asyncio.to_thread(self._list_pods, core, selector, remaining())
            pods = await asyncio.wait_for(listing, remaining())
        except TimeoutError:
            return self._result(query, described, [], "error", self._timeout_note(), started)
        except _TROUBLE as exc:
            return self._result(query, described, [], "error", f"listing pods: {self._explain(exc)}", started)
        if not pods:
            return self._result(query, described, [], "empty", f"no pods match {selector}", started)

        notes: list[str] = []
        if len(pods) > self._max_pods:
            notes.append(f"read {self._max_pods} of {len(pods)} pods")
        crashed_first = sorted(
            pods, key=lambda p: (not any(map(_crashed, _statuses(p).values())), _pod_name(p))
        )
        streams = [s for pod in crashed_first[: self._max_pods] for s in self._streams(pod)]
        containers = ",".join(sorted({s.container for s in streams})) or self._container or "none"
        described = self._describe(selector, containers, since_s, query.window)
        if not streams:
            return self._result(
                query, described, [], "empty", f"no started containers in {len(pods)} pods", started
            )

        reads = {
            asyncio.create_task(asyncio.to_thread(self._read, core, s, since_s, query, remaining())): s
            for s in streams
        }
        _, pending = await asyncio.wait(reads, timeout=remaining())
        lines: list[LogLine] = []
        failed = False
        for task, stream in reads.items():
            if task in pending:
                task.cancel()  # the worker thread ends on its own read timeout
                read = _Read(note=self._timeout_note())
            else:
                read = task.result()
            lines.extend(read.lines)
            if read.note:
                failed = True
                notes.append(f"{stream.label()}: {read.note}")
        lines.sort(key=lambda line: line.ts or query.window.start)
        capped = len(lines) > query.max_lines or len(pods) > self._max_pods
        if len(lines) > query.max_lines:
            del lines[query.max_lines :]
            notes.append(f"capped at {query.max_lines} lines")
        return self._result(
            query, described, lines, _status(lines, failed, capped), "; ".join(notes), started
        )

    def _new_client(self) -> ApiClient:
        """A client of our own: `host`, else the pod's service account, else the local kubeconfig."""
        config = Configuration()
        if self._host:
            config.host = self._host
        else:
            try:
                kube_config.load_incluster_config(client_configuration=config)  # type: ignore[no-untyped-call]
            except ConfigException:
                kube_config.load_kube_config(client_configuration=config)  # type: ignore[no-untyped-call]
        if self._token:
            config.api_key = {"authorization": self._token}
            config.api_key_prefix = {"authorization": "Bearer"}
        config.retries = 0  # one attempt per request: the fetch's deadline is the whole budget
        return ApiClient(config)

    def _list_pods(self, core: CoreV1Api, selector: str, timeout_s: float) -> list[V1Pod]:
        pods = core.list_namespaced_pod(self._namespace, label_selector=selector, _request_timeout=timeout_s)
        return list(pods.items)

    def _streams(self, pod: V1Pod) -> list[_Stream]:
        statuses = _statuses(pod)
        wanted = (
            [self._container]
            if self._container
            else [c.name for c in (pod.spec.containers if pod.spec else [])]
        )
        streams: list[_Stream] = []
        for container in wanted:
            status = statuses.get(container)
            if status is None or not _has_run(status):
                continue
            streams.append(_Stream(_pod_name(pod), container, previous=False))
            if _crashed(status):
                streams.append(_Stream(_pod_name(pod), container, previous=True))
        return streams

    def _read(
        self, core: CoreV1Api, stream: _Stream, since_s: int, query: LogQuery, timeout_s: float
    ) -> _Read:
        """One container log (blocking), read only as far as the window's end; trouble becomes the note."""
        labels = {"pod": stream.pod, "container": stream.container, "namespace": self._namespace}
        if stream.previous:
            labels["previous"] = "true"
        read = _Read()
        try:
            response = self._open_log(core, stream, since_s, timeout_s)
            try:
                for raw in response:
                    ts, text = _split_stamp(raw.decode("utf-8", "replace").rstrip("\r\n"))
                    if ts is not None and ts > query.window.end:
                        break
                    if ts is None or ts >= query.window.start:
                        read.lines.append(line_from(text, ts, self.name, labels))
                    if len(read.lines) > query.max_lines:  # one over, so the merge knows it was cut
                        break
            finally:
                response.close()  # stops the transfer when we left before its end
                response.release_conn()
        except ApiException as exc:
            # 400 to `previous=True`: there is no terminated instance to read, which is not a failure.
            if not (stream.previous and exc.status == 400):
                read.note = self._explain(exc)
        except urllib3.exceptions.HTTPError as exc:
            read.note = self._explain(exc)
        return read

    def _open_log(
        self, core: CoreV1Api, stream: _Stream, since_s: int, timeout_s: float
    ) -> urllib3.BaseHTTPResponse:
        """The log as an unread HTTP response, so a long one is read only as far as needed."""
        response = core.read_namespaced_pod_log(
            stream.pod,
            self._namespace,
            container=stream.container,
            previous=stream.previous,
            since_seconds=since_s,
            timestamps=True,
            _request_timeout=(timeout_s, timeout_s),
            _preload_content=False,
        )
        return cast(urllib3.BaseHTTPResponse, response)  # typed `str`, but unpreloaded it is the raw response

    def _explain(self, exc: Exception) -> str:
        if isinstance(exc, ApiException):
            return f"HTTP {exc.status} {exc.reason or ''}".rstrip()
        cause = exc.reason if isinstance(exc, urllib3.exceptions.MaxRetryError) else exc
        if isinstance(cause, urllib3.exceptions.NewConnectionError):  # checked first: it subclasses a timeout
            return "cannot connect to the API server"
        if isinstance(cause, urllib3.exceptions.TimeoutError):
            return self._timeout_note()
        return type(cause).__name__

    def _timeout_note(self) -> str:
        return f"timeout after {self._timeout_s:g} s"

    def _describe(self, selector: str, containers: str, since_s: int, window: TimeWindow) -> str:
        return (
            f"namespace={self._namespace} selector={selector} containers={containers} "
            f"sinceSeconds={since_s} timestamps=true "
            f"window={window.start.isoformat()} – {window.end.isoformat()}"
        )

    def _result(
        self,
        query: LogQuery,
        described: str,
        lines: list[LogLine],
        status: SourceStatus,
        note: str,
        started: float,
    ) -> SourceResult:
        return SourceResult(
            source=self.name, status=status, query=described, window=query.window, lines=lines, note=note,
            elapsed_s=time.monotonic() - started,
        )  # fmt: skip
