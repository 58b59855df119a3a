"""A deterministic, offline model provider speaking all three dialects.

What it answers, from the last user message:

- lines ``MOCK_TOOL_CALL: {"name": ..., "arguments": {...}}`` -> exactly those tool calls
  (``MOCK_TOOL_CALL_B64: <base64 of the same JSON>`` too, for tests that need a tool
  call whose words the conversation does not contain, as when a router injects it);
- a line ``MOCK_TEXT: ...`` -> that text;
- lines ``MOCK_PROBE: <token>`` -> ``probe <token>: <16 hex>``, a known answer
  that depends on the model served (``mock_models``);
- "what model are you" / "which model" -> ``I am <served model>.``;
- otherwise a small built-in script that behaves like a coding agent's model
  ("install requests" -> a ``pip install requests`` tool call, and so on), and
  for anything else a generic answer in the served model's own style.

Models (``MODELS``, listed at ``GET /v1/models``): ``mock-large``, ``mock-small``
and ``mock-fast`` answer generic prompts in measurably different ways (see
``mock_models``: long, short, clipped); any other name behaves like mock-large.

When the last message is a tool result, it answers with a short text, as a
model does after a command ran.  Same request in, same bytes out (ids are
digests of the request), so tests can compare what a client got through a
proxy with what the provider sent.

Every response carries ``x-mock-provider: <name>`` and
``x-mock-request-sha256: <hex sha256 of the raw request body received>``, so a
test (or the auditor) can tell whether a router changed the request on its way.
With a signing key, responses carry a signed envelope (docs/envelope.md) that
binds the same request digest.

Faults for tests of failover and recovery (``mock_faults``): failure rate,
status, Retry-After, delay, hang, a connection dropped mid-answer; set by flags
or live with ``POST /mock/faults`` (``{}`` clears).  ``GET /mock/stats`` returns
``{"name", "requests", "by_model", "failed"}`` (``DELETE /mock/stats`` zeroes
them); ``GET /mock/faults`` the current settings.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
from typing import Any

import orjson

from relayguard.asgi import (
    SSE_HEADERS, Receive, Scope, Send, header, lifespan, parse_json_body, read_body, send_json,
)
from relayguard.dialects import adapter_for, adapter_for_path
from relayguard.dialects.base import DialectAdapter
from relayguard.envelope import (
    ENVELOPE_HEADER, KEYSET_WELL_KNOWN, NONCE_HEADER, SigningKey, sign_response, sse_comment,
)
from relayguard.errors import RelayguardError
from relayguard.exchange import Message, Response, ToolCall, Usage
from relayguard.testing import mock_models
from relayguard.testing.mock_faults import (
    RETRY_AFTER_STATUSES, FaultSettings, FaultState, quiet_cut_warnings, send_cut_body, until_disconnect,
)

MODELS = (*mock_models.PERSONA_MODELS, "gpt-4o", "claude-sonnet-4-5")
MAX_BODY = 32 * 1024 * 1024

# (pattern on the user's words, shell command template); first match wins.
SCRIPT: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\binstall (?:rust|rustup)\b", re.I),
     "curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y"),
    (re.compile(r"\binstall uv\b", re.I), "curl -LsSf https://astral.sh/uv/install.sh | sh"),
    (re.compile(r"\binstall bun\b", re.I), "curl -fsSL https://bun.sh/install | bash"),
    (re.compile(r"\bnpm install ([@\w./-]+)|\binstall ([@\w./-]+) with npm\b", re.I), "npm install {0}"),
    (re.compile(r"\bcargo add ([\w-]+)|\badd the ([\w-]+) crate\b", re.I), "cargo add {0}"),
    (re.compile(r"\bgo get ([\w./-]+)", re.I), "go get {0}"),
    (re.compile(r"\binstall ([\w.\[\]=<>-]+)", re.I), "pip install {0}"),
    (re.compile(r"\brun (?:the )?tests\b", re.I), "python -m pytest -q"),
    (re.compile(r"\bgit status\b|\bwhat changed\b", re.I), "git status --short"),
    (re.compile(r"\blist (?:the )?files\b", re.I), "ls -la"),
]


def plan_reply(conversation: list[Message], tools: list[dict[str, Any]], model: str = "mock-large") -> Response:
    """What the mock model ``model`` says next (text and/or tool calls)."""
    last = conversation[-1] if conversation else Message("user", "")
    if last.role == "tool":
        return Response(text="The command finished. Anything else?", finish_reason="stop")
    user = next((m.text for m in reversed(conversation) if m.role == "user"), "")
    calls, text = [], ""
    for line in user.splitlines():
        line = line.strip()
        if line.startswith(("MOCK_TOOL_CALL:", "MOCK_TOOL_CALL_B64:")):
            payload = line.partition(":")[2]
            spec = orjson.loads(base64.b64decode(payload) if line.startswith("MOCK_TOOL_CALL_B64:") else payload)
            raw = orjson.dumps(spec.get("arguments", {})).decode()
            calls.append(ToolCall("", str(spec["name"]), raw, spec.get("arguments", {})))
        elif line.startswith("MOCK_TEXT:"):
            text = line.partition(":")[2].strip()
    probes = mock_models.probe_answers(model, user)
    if probes:
        text = "\n".join(filter(None, [text, *probes]))
    if not calls and not text and mock_models.asks_identity(user):
        text = mock_models.identity_answer(model)
    if not calls and not text:
        for pattern, template in SCRIPT:
            match = pattern.search(user)
            if match:
                command = template.format(*(g for g in match.groups() if g))
                calls.append(_shell_call(command, tools))
                text = "Running it now."
                break
        else:
            text = mock_models.generic_answer(model, user)
    return Response(text=text, tool_calls=calls, finish_reason="tool_calls" if calls else "stop")


def _shell_call(command: str, tools: list[dict[str, Any]]) -> ToolCall:
    """A shell tool call in the shape the client's own shell tool declares."""
    name, argv = "bash", False
    for tool in tools:
        fn = tool.get("function") if isinstance(tool.get("function"), dict) else tool
        tool_name = str(fn.get("name", ""))
        if any(w in tool_name.lower() for w in ("bash", "shell", "exec", "command", "terminal")):
            name = tool_name
            params = fn.get("parameters") or fn.get("input_schema") or {}
            prop = (params.get("properties") or {}).get("command") or {}
            argv = prop.get("type") == "array"
            break
    args: dict[str, Any] = {"command": ["bash", "-lc", command] if argv else command}
    return ToolCall("", name, orjson.dumps(args).decode(), args)


class MockProvider:
    def __init__(self, chunk_events: bool = True, sign_key: SigningKey | None = None,
                 provider: str = "relayguard-mock", faults: FaultSettings | None = None) -> None:
        self.chunk_events = chunk_events  # one write per SSE event, as real providers do
        self.sign_key = sign_key  # sign every response as a provider adopting docs/envelope.md would
        self.provider = provider
        self.state = FaultState(name=provider, settings=faults or FaultSettings())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send, _nothing, _nothing)
            return
        if scope["type"] != "http":
            return
        tags = [(b"x-mock-provider", self.provider.encode("latin-1")),
                (b"x-mock-request-sha256", hashlib.sha256(b"").hexdigest().encode())]

        async def send_tagged(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *tags]}
            await send(message)

        try:
            raw = await read_body(scope, receive, MAX_BODY)
        except RelayguardError as exc:
            await send_json(send_tagged, exc.status, _any_adapter(scope).error_body(exc.status, str(exc)))
            return
        tags[1] = (b"x-mock-request-sha256", hashlib.sha256(raw).hexdigest().encode())
        await self._route(scope, receive, send_tagged, raw)

    async def _route(self, scope: Scope, receive: Receive, send: Send, raw: bytes) -> None:
        method, path = scope["method"], scope["path"]
        if path.startswith("/mock/"):
            await self._control(method, path, send, raw)
            return
        if method == "GET" and path == KEYSET_WELL_KNOWN and self.sign_key is not None:
            await send_json(send, 200, {"keys": [self.sign_key.public().to_jwk()]})
            return
        path = path if path.startswith("/v1/") else "/v1" + path
        if method == "GET" and path == "/v1/models":
            await send_json(send, 200, {"object": "list", "data": [
                {"id": m, "object": "model", "created": 0, "owned_by": "relayguard-mock"} for m in MODELS]})
            return
        adapter = adapter_for_path(path)
        if adapter is None or method != "POST":
            await send_json(send, 404, _any_adapter(scope).error_body(404, f"mock provider has no {method} {path}"))
            return
        await self._answer(adapter, scope, receive, send, raw)

    async def _control(self, method: str, path: str, send: Send, raw: bytes) -> None:
        """The test-only endpoints: counters and live fault settings."""
        if path == "/mock/stats" and method in ("GET", "DELETE"):
            if method == "DELETE":
                self.state.reset_stats()
            await send_json(send, 200, self.state.stats())
        elif path == "/mock/faults" and method == "GET":
            await send_json(send, 200, self.state.settings.as_json())
        elif path == "/mock/faults" and method == "POST":
            try:
                self.state.configure(FaultSettings.from_json(orjson.loads(raw or b"{}")))
            except (orjson.JSONDecodeError, ValueError, TypeError) as exc:
                await send_json(send, 400, {"error": {"message": f"bad fault settings: {exc}",
                                                      "type": "invalid_request_error"}})
                return
            await send_json(send, 200, self.state.settings.as_json())
        else:
            await send_json(send, 404, {"error": {"message": f"mock provider has no {method} {path}; it serves "
                                                  "GET|DELETE /mock/stats, GET|POST /mock/faults",
                                                  "type": "not_found_error"}})

    async def _answer(self, adapter: DialectAdapter, scope: Scope, receive: Receive, send: Send,
                      raw: bytes) -> None:
        fault = self.state.draw(_peek_model(raw))
        settings = self.state.settings
        if settings.delay_ms:
            await asyncio.sleep(settings.delay_ms / 1000)
        if fault == "hang":
            await until_disconnect(receive)
            return
        if fault == "status":
            status = settings.failure_status
            extra = [(b"retry-after", str(settings.retry_after).encode())] \
                if settings.retry_after is not None and status in RETRY_AFTER_STATUSES else None
            message = f"mock provider {self.provider}: injected failure (HTTP {status})"
            await send_json(send, status, adapter.error_body(status, message), extra)
            return
        try:
            body = parse_json_body(scope, raw)
            model, stream = adapter.request_info(body)
            reply = plan_reply(adapter.conversation(body), [t for t in body.get("tools") or [] if isinstance(t, dict)],
                               model)
        except (RelayguardError, ValueError, KeyError, TypeError) as exc:
            status = getattr(exc, "status", 400)
            await send_json(send, status, adapter.error_body(status, str(exc)))
            return
        digest = hashlib.sha256(raw).hexdigest()[:24]
        for i, call in enumerate(reply.tool_calls):
            call.id = f"call_{digest[:16]}{i}"
        reply.model = model
        reply.usage = Usage(max(1, len(raw) // 4),
                            max(1, (len(reply.text) + sum(len(c.raw_arguments) for c in reply.tool_calls)) // 4))
        response_id = {"openai-chat": "chatcmpl-", "openai-responses": "resp_"}.get(adapter.name, "msg_") + digest
        body_out = adapter.build_response(reply, response_id)
        envelope = None
        if self.sign_key is not None:
            # Sign what the client will read back: the response as its adapter parses it.
            nonce = next((v.decode("latin-1") for k, v in scope["headers"] if k == NONCE_HEADER.encode()), None)
            envelope = sign_response(adapter.parse_response(body_out), self.sign_key, provider=self.provider,
                                     nonce=nonce, request_body=raw)
        if not stream:
            extra = [(ENVELOPE_HEADER.encode(), envelope.encode())] if envelope else None
            if fault == "drop":
                await send_cut_body(send, orjson.dumps(body_out), extra)
                return
            await send_json(send, 200, body_out, extra)
            return
        events = adapter.build_stream(reply, response_id)
        if envelope:
            events.insert(len(events) - 1, sse_comment(envelope))  # just before the terminal event
        await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
        if fault == "drop":
            # The first part of the events, never the terminal one; then the connection closes.
            quiet_cut_warnings()
            for event in events[:max(1, (len(events) - 1) // 2)]:
                await send({"type": "http.response.body", "body": event, "more_body": True})
            return
        if self.chunk_events:
            for event in events:
                await send({"type": "http.response.body", "body": event, "more_body": True})
        else:
            await send({"type": "http.response.body", "body": b"".join(events), "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})


def _peek_model(raw: bytes) -> str | None:
    """The requested model, for the counters (faults strike before validation)."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    model = body.get("model") if isinstance(body, dict) else None
    return model if isinstance(model, str) else None


def _any_adapter(scope: Scope) -> DialectAdapter:
    """The dialect to answer errors in: the path's, else Anthropic's for Anthropic clients, else OpenAI's."""
    path = scope["path"] if scope["path"].startswith("/v1/") else "/v1" + scope["path"]
    adapter = adapter_for_path(path)
    if adapter is not None:
        return adapter
    return adapter_for("anthropic-messages" if header(scope, b"anthropic-version") else "openai-chat")


async def _nothing() -> None:
    return None
