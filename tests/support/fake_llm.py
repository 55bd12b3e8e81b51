"""A real OpenAI-compatible HTTP server on loopback that scripts answers and faults.

    with FakeLLM() as llm:
        llm.script(Reply(json.dumps({...})), Fault(429, retry_after="1"), ...)
        ... OPENAI_BASE_URL=llm.base_url ...
        llm.requests  # every request: path, headers, JSON body

Without a script entry the `default` callable answers (given the request body), else a 500.

With `context_window` set it enforces the window as vLLM does: the chat request is counted as the
ChatML template renders it (`<|im_start|>role\ncontent<|im_end|>\n` per message, then
`<|im_start|>assistant\n`; each special token counts 1) with the model's tokenizer (or `encoding`),
plus the JSON schema of a `json_schema` response format as OpenAI counts it; a prompt that fills
the window, or a `max_tokens` that does not fit after it, gets vLLM's HTTP 400 and message.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    content: str
    usage: tuple[int, int] | None = (100, 50)  # prompt, completion tokens; None: no usage block
    finish_reason: str = "stop"


@dataclass
class Fault:
    status: int = 500
    body: str = '{"error": {"message": "internal error", "type": "server_error"}}'
    retry_after: str | None = None
    delay_s: float = 0.0  # sleep first (a slow server)
    close: bool = False  # drop the connection without answering


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class FakeLLM:
    default: Callable[[dict[str, Any]], str] | None = None
    context_window: int | None = None
    encoding: str | None = None  # count with this encoding instead of the model's
    template_extra: int = 0  # tokens its chat template adds (a default system prompt, say)
    requests: list[Seen] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)  # the 400 messages sent for a too-long request
    _queue: deque[Reply | Fault] = field(default_factory=deque)
    _server: ThreadingHTTPServer | None = None

    def script(self, *steps: Reply | Fault) -> None:
        self._queue.extend(steps)

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def chat_requests(self) -> list[Seen]:
        return [r for r in self.requests if r.path.split("?")[0].endswith("/chat/completions")]

    def __enter__(self) -> FakeLLM:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                fake.requests.append(Seen(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                too_long = fake._too_long(body) if self.path.endswith("/chat/completions") else None
                if too_long is not None:
                    fake.rejected.append(too_long)
                    error = {"message": too_long, "type": "BadRequestError", "param": None, "code": 400}
                    self._send(400, {"error": error})
                    return
                step = fake._queue.popleft() if fake._queue else None
                if isinstance(step, Fault):
                    fake._fault(self, step)
                elif self.path.split("?")[0].endswith("/embeddings"):
                    data = [{"index": i, "embedding": [1.0, float(i)]} for i, _ in enumerate(body["input"])]
                    self._send(200, {"data": data, "model": body.get("model")})
                elif step is None and fake.default is None:
                    fake._fault(self, Fault())
                else:
                    reply = step if isinstance(step, Reply) else Reply(fake.default(body))  # type: ignore[misc]
                    self._send(200, _completion(body, reply))

            def _send(
                self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
            ) -> None:
                raw = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(raw)

        self._handler = Handler
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def prompt_tokens(self, body: dict[str, Any]) -> int:
        """The request's prompt as the server counts it (see the module docstring)."""
        from workers.evidence.tokens import TokenCounter

        counter = (
            TokenCounter.for_model(self.encoding)
            if self.encoding
            else TokenCounter.for_configured_model(body.get("model", ""))
        )
        total = sum(counter.count(f"{m['role']}\n{m['content']}") + 3 for m in body["messages"])
        total += 1 + counter.count("assistant\n") + self.template_extra
        shape = (body.get("response_format") or {}).get("json_schema")
        if shape:
            total += counter.count(json.dumps(shape["schema"]))
        return total

    def _too_long(self, body: dict[str, Any]) -> str | None:
        window = self.context_window
        if window is None:
            return None
        prompt = self.prompt_tokens(body)
        wanted = body.get("max_tokens") or body.get("max_completion_tokens") or 0
        if prompt >= window:
            return (
                f"This model's maximum context length is {window} tokens. However, your request has "
                f"{prompt} input tokens. Please reduce the length of the input messages."
            )
        if wanted > window - prompt:
            return (
                f"'max_tokens' or 'max_completion_tokens' is too large: {wanted}. This model's maximum "
                f"context length is {window} tokens and your request has {prompt} input tokens "
                f"({wanted} > {window} - {prompt})."
            )
        return None

    @staticmethod
    def _fault(handler: Any, fault: Fault) -> None:
        if fault.delay_s:
            time.sleep(fault.delay_s)
        if fault.close:
            handler.close_connection = True
            handler.connection.close()
            return
        headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
        handler._send(fault.status, json.loads(fault.body), headers)


def _completion(body: dict[str, Any], reply: Reply) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "fake"),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply.content},
                "finish_reason": reply.finish_reason,
            }
        ],
    }
    if reply.usage is not None:
        p, c = reply.usage
        out["usage"] = {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}
    return out
