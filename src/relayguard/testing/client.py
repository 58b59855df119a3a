"""A minimal blocking HTTP client for tests and the demo: what an agent's SDK
sends, and the response read whole (SSE streams are parsed into events)."""

from __future__ import annotations

import http.client
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson

from relayguard.exchange import Response
from relayguard.sse import SSEEvent, SSEReader

PATHS = {"openai-chat": "/v1/chat/completions", "openai-responses": "/v1/responses",
         "anthropic-messages": "/v1/messages"}


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)

    def events(self) -> list[SSEEvent]:
        reader = SSEReader()
        return reader.feed(self.body) + reader.close()


def request(url: str, method: str, path: str, body: bytes | None = None,
            headers: dict[str, str] | None = None, timeout: float = 30.0) -> Reply:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
    finally:
        conn.close()


def post_json(url: str, path: str, obj: Any, headers: dict[str, str] | None = None,
              timeout: float = 30.0) -> Reply:
    return request(url, "POST", path, orjson.dumps(obj),
                   {"content-type": "application/json", **(headers or {})}, timeout)


def agent_request(dialect: str, user_text: str, stream: bool = False, model: str = "mock-large",
                  system: str = "You are a coding agent.") -> dict[str, Any]:
    """A request body as a coding agent would send it, with a shell tool declared."""
    schema = {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}
    if dialect == "openai-chat":
        return {"model": model, "stream": stream,
                "messages": [{"role": "system", "content": system}, {"role": "user", "content": user_text}],
                "tools": [{"type": "function", "function": {"name": "bash", "description": "Run a shell command",
                                                            "parameters": schema}}]}
    if dialect == "openai-responses":
        return {"model": model, "stream": stream, "instructions": system,
                "input": [{"role": "user", "content": [{"type": "input_text", "text": user_text}]}],
                "tools": [{"type": "function", "name": "shell", "description": "Run a shell command",
                           "parameters": {"type": "object", "properties": {
                               "command": {"type": "array", "items": {"type": "string"}}}}}]}
    return {"model": model, "stream": stream, "max_tokens": 1024, "system": system,
            "messages": [{"role": "user", "content": user_text}],
            "tools": [{"name": "Bash", "description": "Run a shell command", "input_schema": schema}]}


def headers_for(dialect: str) -> dict[str, str]:
    """Fake credentials, clearly not live, as an SDK would send them."""
    if dialect == "anthropic-messages":
        return {"x-api-key": "FAKE-test-key", "anthropic-version": "2023-06-01"}
    return {"authorization": "Bearer FAKE-test-key"}


def parse_reply(dialect: str, reply: Reply) -> Response:
    """What the agent got, as a Response (a stream is assembled like the guard does)."""
    from relayguard.dialects import adapter_for
    from relayguard.dialects.base import read_events

    adapter = adapter_for(dialect)
    if reply.headers.get("content-type", "").startswith("text/event-stream"):
        codec = read_events(adapter.stream_codec(), reply.events())
        codec.response.tool_calls = list(codec.calls.values())
        return codec.response
    return adapter.parse_response(reply.json())


def command_of(arguments: Any) -> str:
    """The shell command in a tool call's arguments (string or argv list)."""
    if not isinstance(arguments, dict):
        return str(arguments)
    command = arguments.get("command", arguments.get("cmd", ""))
    if isinstance(command, list):
        if len(command) >= 3 and command[1] in ("-c", "-lc"):
            return str(command[2])
        return " ".join(map(str, command))
    return str(command)
