"""A real HTTP server on loopback that speaks the OpenAI API (`/v1/chat/completions`, `/v1/models`), answers
from a script, and injects faults. Tests talk to it through the real `openai` SDK, as gptnet does to a live LLM."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FAULTS = ("400", "429", "500", "503", "slow", "malformed", "401", "drop")


@dataclass
class Script:
    """Answers in request order; `faults` are spent one per request before answers resume."""

    answers: list[str]
    faults: list[str] = field(default_factory=list)
    models: tuple[str, ...] = ("test-model",)
    api_key: str | None = None  # when set, other keys get 401
    refuse_response_format: bool = False  # a server that answers 400 to structured outputs
    slow_seconds: float = 3.0
    retry_after: str = "1"
    retry_header: str = "Retry-After"  # or retry-after-ms, which OpenAI's servers send too
    error_message: str = "invalid request"  # the body's message of a 400 fault
    hang_on: int | None = None  # answer number at which to wait (for Ctrl-C tests)
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)


class _Handler(BaseHTTPRequestHandler):
    script: Script

    def log_message(self, *args: Any) -> None:  # keep test output clean
        pass

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test, or Ctrl-C)

    def _error(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        self._send(status, {"error": {"message": message, "type": "test", "code": str(status)}}, headers)

    def do_GET(self) -> None:  # noqa: N802
        if self.path.rstrip("/").endswith("/models"):
            self._send(200, {"object": "list", "data": [{"id": m, "object": "model", "created": 0,
                                                           "owned_by": "test"} for m in self.script.models]})
        else:
            self._error(404, "not found")

    def do_POST(self) -> None:  # noqa: N802
        s = self.script
        length = int(self.headers.get("Content-Length", 0))
        body = json.loads(self.rfile.read(length) or b"{}")
        s.requests.append(body)
        s.headers.append(dict(self.headers))
        if not self.path.rstrip("/").endswith("/chat/completions"):
            return self._error(404, "not found")
        if s.api_key and self.headers.get("Authorization") != f"Bearer {s.api_key}":
            return self._error(401, "Incorrect API key provided")
        if body.get("model") not in s.models:
            return self._error(404, f"The model `{body.get('model')}` does not exist")
        if s.refuse_response_format and "response_format" in body:
            return self._error(400, "response_format is not supported by this server")
        if s.faults:
            fault = s.faults.pop(0)
            if fault == "400":
                return self._error(400, s.error_message)
            if fault == "429":
                return self._error(429, "Rate limit reached", {s.retry_header: s.retry_after})
            if fault in ("500", "503"):
                return self._error(int(fault), "server trouble")
            if fault == "401":
                return self._error(401, "Incorrect API key provided")
            if fault == "malformed":
                return self._send(200, b'{"id": "x", "choices": [ this is not json')
            if fault == "slow":  # longer than the client waits: it has gone when this would answer
                time.sleep(s.slow_seconds)
                return
            if fault == "drop":
                self.close_connection = True
                return
        answered = sum(1 for r in s.requests if r.get("_answered"))
        if s.hang_on is not None and answered == s.hang_on:
            time.sleep(60)
        if not s.answers:
            return self._error(500, "the test script has no answer left")
        body["_answered"] = True
        text = s.answers.pop(0)
        prompt = sum(len(m.get("content", "")) for m in body.get("messages", [])) // 4
        completion = len(text) // 4
        self._send(200, {"id": f"chatcmpl-{len(s.requests)}", "object": "chat.completion", "created": 0,
                         "model": body["model"],
                         "choices": [{"index": 0, "finish_reason": "stop",
                                      "message": {"role": "assistant", "content": text}}],
                         "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                                   "total_tokens": prompt + completion}})


class FakeOpenAI:
    """`with FakeOpenAI(script) as server:` then point a client at `server.base_url`."""

    def __init__(self, script: Script) -> None:
        self.script = script
        handler = type("Handler", (_Handler,), {"script": script})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "FakeOpenAI":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
