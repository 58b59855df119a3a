"""HTTP to the router and the reference, and their replies read as an agent reads them.

Blocking and sequential on purpose: a call-count trigger counts requests in
order, and the budget is checked before each one.  One kept-alive connection
per endpoint.  Everything a reply contains is attacker-controlled: sizes are
bounded, parse failures become a failed call, never an exception.
"""

from __future__ import annotations

import hashlib
import http.client
import socket
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson

from relayguard.audit.model import CallResult, ToolUse
from relayguard.dialects import adapter_for
from relayguard.dialects.base import read_events
from relayguard.envelope import ENVELOPE_HEADER, find_in_sse
from relayguard.errors import ConfigError
from relayguard.exchange import Response
from relayguard.sse import SSEReader

PATHS = {"openai-chat": "/v1/chat/completions", "openai-responses": "/v1/responses",
         "anthropic-messages": "/v1/messages"}
MAX_REPLY = 16 * 1024 * 1024
MAX_TEXT = 16 * 1024  # characters of answer text kept per call
MAX_ARGS = 16 * 1024
DIGEST_HEADERS = ("x-mock-request-sha256", "x-request-sha256")


class Unreachable(Exception):
    """The endpoint cannot be connected to (refused, unknown host, timed out)."""


@dataclass
class HttpReply:
    status: int
    headers: dict[str, str]
    body: bytes


class Endpoint:
    def __init__(self, name: str, url: str, timeout: float, api_key: str = "") -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"--{name} must be an http(s) URL such as http://127.0.0.1:8080, got {url!r}")
        self.name, self.url, self.timeout, self.api_key = name, url.rstrip("/"), timeout, api_key
        self._https = parts.scheme == "https"
        self._host, self._port = parts.hostname, parts.port
        prefix = parts.path.rstrip("/")
        self._prefix = prefix[:-3] if prefix.endswith("/v1") else prefix
        self._conn: http.client.HTTPConnection | None = None

    def check_reachable(self) -> None:
        """Open a TCP connection (no request: nothing is counted or billed)."""
        port = self._port or (443 if self._https else 80)
        try:
            socket.create_connection((self._host, port), timeout=min(self.timeout, 10.0)).close()
        except OSError as exc:
            raise Unreachable(f"cannot connect to the {self.name} at {self.url} "
                              f"({exc.strerror or exc}); is it running, and is the URL right?") from None

    def auth_headers(self, dialect: str) -> dict[str, str]:
        key = self.api_key or "relayguard-audit-no-key"
        if dialect == "anthropic-messages":
            return {"x-api-key": key, "anthropic-version": "2023-06-01"}
        return {"authorization": f"Bearer {key}"}

    def request(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> HttpReply:
        """One request; reconnects once when a kept-alive connection was closed."""
        for attempt in (1, 2):
            reused = self._conn is not None
            conn = self._connection()
            try:
                conn.request(method, self._prefix + path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read(MAX_REPLY + 1)
                if len(data) > MAX_REPLY:
                    self.close()
                    raise http.client.HTTPException(f"reply larger than {MAX_REPLY} bytes")
                reply = HttpReply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
                if resp.will_close:
                    self.close()
                return reply
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as exc:
                self.close()
                if attempt == 2 or not reused:  # only a stale kept-alive connection is worth a retry
                    raise Unreachable(f"the {self.name} at {self.url} dropped the connection ({exc})") from None
            except (OSError, http.client.HTTPException) as exc:  # refused, unreachable, timed out, garbled
                self.close()
                raise Unreachable(f"cannot reach the {self.name} at {self.url} ({exc.strerror or exc})") from None
        raise AssertionError("unreachable")

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            self._conn = cls(self._host, self._port, timeout=self.timeout)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def call(endpoint: Endpoint, dialect: str, body: bytes, headers: dict[str, str], *, step: int, target: str,
         order: int) -> tuple[CallResult, Response | None, str | None]:
    """Send ``body``; returns the result, the parsed response and the envelope transport string."""
    started = time.time()
    result = CallResult(step=step, target=target, order=order, sent_at=started, elapsed_ms=0,
                        request_sha256=hashlib.sha256(body).hexdigest())
    all_headers = {"content-type": "application/json", "accept": "application/json, text/event-stream",
                   **headers, **endpoint.auth_headers(dialect)}
    reply = endpoint.request("POST", PATHS[dialect], body, all_headers)
    result.elapsed_ms = int((time.time() - started) * 1000)
    result.status = reply.status
    for name in DIGEST_HEADERS:
        value = reply.headers.get(name, "").strip().lower()
        if value:
            result.reported_sha256 = value[:64]
            break
    if reply.status != 200:
        result.error = f"HTTP {reply.status}: {reply.body[:300].decode('utf-8', 'replace')}"
        return result, None, None
    try:
        response, envelope = _parse(dialect, reply)
    except Exception as exc:  # noqa: BLE001 - anything a hostile reply triggers is a failed call
        result.error = f"reply does not fit the {dialect} format ({type(exc).__name__}: {str(exc)[:200]})"
        return result, None, None
    result.ok = True
    result.model = response.model[:200]
    result.text = response.text[:MAX_TEXT]
    result.finish_reason = response.finish_reason[:64]
    result.tool_calls = [ToolUse(c.name[:200], c.raw_arguments[:MAX_ARGS],
                                 c.arguments if len(c.raw_arguments) <= MAX_ARGS else None)
                         for c in response.tool_calls[:32]]
    usage = response.usage
    result.tokens = (usage.input_tokens + usage.output_tokens) or (len(body) + len(reply.body)) // 4
    return result, response, envelope


def _parse(dialect: str, reply: HttpReply) -> tuple[Response, str | None]:
    adapter = adapter_for(dialect)  # type: ignore[arg-type]
    if not reply.headers.get("content-type", "").startswith("text/event-stream"):
        body = orjson.loads(reply.body)
        if not isinstance(body, dict):
            raise ValueError("the reply is not a JSON object")
        return adapter.parse_response(body), reply.headers.get(ENVELOPE_HEADER)
    reader = SSEReader()
    codec = read_events(adapter.stream_codec(), reader.feed(reply.body) + reader.close())
    if not codec.complete:
        raise ValueError("the stream ended before its terminal event")
    codec.response.tool_calls = list(codec.calls.values())
    return codec.response, find_in_sse(reply.body) or reply.headers.get(ENVELOPE_HEADER)


def fetch_json(endpoint: Endpoint, path: str, limit: int = 1 << 20) -> Any:
    """GET a small JSON document (the reference's key set, its model list); None when absent."""
    reply = endpoint.request("GET", path, None, {"accept": "application/json", **endpoint.auth_headers("openai-chat")})
    if reply.status != 200 or len(reply.body) > limit:
        return None
    try:
        return orjson.loads(reply.body)
    except orjson.JSONDecodeError:
        return None
