"""The proxy: dialect -> pipeline -> upstream -> pipeline -> dialect.

One ASGI app serves the guard (and, configured differently, the red-team
router): it reads the client's request in whatever dialect the path names,
runs the request stage, forwards to the upstream, and runs every complete tool
call through the response stage before the client sees it.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import sys
import traceback
from dataclasses import dataclass

import orjson

from relayguard.asgi import (
    SSE_HEADERS, Receive, Scope, Send, header, lifespan, parse_json_body, read_body, send_bytes, send_json,
)
from relayguard.dialects import adapter_for, adapter_for_path
from relayguard.dialects.base import DialectAdapter
from relayguard.envelope import ENVELOPE_HEADER, NONCE_HEADER, SSE_PREFIX, new_nonce
from relayguard.errors import NotFound, RelayguardError, UpstreamError
from relayguard.exchange import Exchange, Finding, Request
from relayguard.pipeline import Pipeline
from relayguard.session import session_of
from relayguard.stream import StreamAssembler
from relayguard.translog import TransparencyLog, entry_from_exchange
from relayguard.translog.writer import BatchedLogWriter
from relayguard.upstream.client import UpstreamClient, UpstreamResponse, end_to_end

VERDICT_HEADER = b"x-relayguard-verdict"
# Read-only endpoints forwarded without inspection: they carry no tool calls.
PASSTHROUGH = {("GET", "/v1/models"), ("POST", "/v1/messages/count_tokens")}


@dataclass(frozen=True)
class ProxySettings:
    upstream: str
    max_body: int = 10 * 1024 * 1024
    max_response: int = 64 * 1024 * 1024
    connect_timeout: float = 10.0
    read_timeout: float = 600.0
    verdict_header: bool = True  # the red-team router does not announce itself
    strip_envelope: bool = False  # the red-team router's "drop the signature" attack


class ProxyApp:
    def __init__(self, settings: ProxySettings, pipeline: Pipeline, log: TransparencyLog | None = None) -> None:
        self.settings = settings
        self.pipeline = pipeline
        self.log = log  # every finished exchange is appended (digests and metadata only)
        self._log_writer = BatchedLogWriter(log) if log is not None else None
        self.upstream = UpstreamClient(settings.upstream, settings.connect_timeout, settings.read_timeout)
        self._ids = itertools.count(1)
        self._id_prefix = os.urandom(4).hex()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send, self.upstream.start, self._stop)
            return
        if scope["type"] != "http":
            return
        path = scope["path"]
        adapter = adapter_for_path(path)
        try:
            if _v1(path).startswith("/v1/models") and scope["method"] == "GET" or \
                    (scope["method"], _v1(path)) in PASSTHROUGH:
                await self._passthrough(scope, receive, send)
            elif adapter is None or scope["method"] != "POST":
                raise NotFound(f"relayguard does not serve {scope['method']} {path}; it serves POST "
                               "/v1/chat/completions, /v1/responses, /v1/messages and GET /v1/models")
            else:
                await self._exchange(adapter, scope, receive, send)
        except RelayguardError as exc:
            target = adapter or _guess_adapter(scope)
            await send_json(send, exc.status, target.error_body(exc.status, str(exc)))
        except Exception:  # noqa: BLE001 - a bug must not kill the server nor pass a response unchecked
            traceback.print_exc(file=sys.stderr)
            target = adapter or _guess_adapter(scope)
            await send_json(send, 500, target.error_body(500, "relayguard internal error (see the guard's log)"))

    async def _stop(self) -> None:
        await self.upstream.stop()
        if self._log_writer is not None:
            await self._log_writer.stop()  # writes what is queued, signs a final tree head

    def _record(self, exchange: Exchange) -> None:
        """Queue the finished exchange for the transparency log (batched on a
        writer thread: the client never waits for the disk)."""
        if self._log_writer is None:
            return
        if not exchange.session:
            try:
                exchange.session = session_of(exchange)
            except (TypeError, ValueError, AttributeError):  # an odd body: log it without a session
                exchange.session = ""
        self._log_writer.record(
            entry_from_exchange(exchange, request_sha256=hashlib.sha256(exchange.request.sent).digest()))

    async def _passthrough(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = await read_body(scope, receive, self.settings.max_body)
        resp = await self.upstream.send(scope["method"], _path_qs(scope), _forward_headers(scope),
                                        body or None)
        try:
            data = await resp.read(self.settings.max_response)
        finally:
            resp.release()
        await _send_upstream_bytes(send, resp, data)

    async def _exchange(self, adapter: DialectAdapter, scope: Scope, receive: Receive, send: Send) -> None:
        raw = await read_body(scope, receive, self.settings.max_body)
        body = parse_json_body(scope, raw)
        model, stream = adapter.request_info(body)
        exchange = Exchange(
            id=f"rg-{self._id_prefix}-{next(self._ids)}",
            request=Request(adapter.name, scope["path"], body, raw, scope["headers"], model, stream),
            upstream=self.upstream.base_url,
        )
        blocking = self.pipeline.run_request(exchange)
        if blocking:
            message = "relayguard blocked the request: " + "; ".join(f.message for f in blocking)
            self._record(exchange)
            await send_json(send, 403, adapter.error_body(403, message))
            return
        request = exchange.request
        request.sent = orjson.dumps(request.body) if request.body_changed else raw
        headers = _forward_headers(scope)
        if self.pipeline.checks_envelopes:
            # A fresh nonce binds the provider's signature to this request (no replay);
            # a client that sent its own keeps it, so a chain of guards agrees.
            request.nonce = request.header(NONCE_HEADER.encode()) or new_nonce()
            headers = [(k, v) for k, v in headers if k.lower() != NONCE_HEADER] + [(NONCE_HEADER, request.nonce)]
        resp = await self.upstream.send("POST", _path_qs(scope), headers, request.sent)
        try:
            if resp.status == 200 and resp.is_stream:
                await self._stream(adapter, exchange, resp, send)
            else:
                await self._whole(adapter, exchange, resp, send)
        finally:
            resp.close()  # a no-op after a full read; drops a connection left mid-stream

    async def _whole(self, adapter: DialectAdapter, exchange: Exchange, resp: UpstreamResponse,
                     send: Send) -> None:
        data = await resp.read(self.settings.max_response)
        if resp.status != 200:
            # The upstream's own error, in its own words: nothing in it runs on the client.
            await _send_upstream_bytes(send, resp, data)
            return
        try:
            body = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise BadGateway("upstream answered 200 with a body that is not JSON") from None
        if not isinstance(body, dict):
            raise BadGateway("upstream answered 200 with a JSON body that is not an object")
        try:
            response = adapter.parse_response(body)
        except (AttributeError, TypeError, ValueError, LookupError) as exc:
            raise BadGateway(f"upstream response does not fit the {adapter.name} format ({exc})") from None
        response.raw = data
        response.envelope = resp.header(ENVELOPE_HEADER.encode())
        if self.settings.strip_envelope:
            resp.headers = [(k, v) for k, v in resp.headers if k != ENVELOPE_HEADER.encode()]
        exchange.response = response
        for call in response.tool_calls:
            self.pipeline.run_tool_call(exchange, call)
        self.pipeline.run_response(exchange)
        if any(c.blocked_reason or c.new_raw_arguments is not None for c in response.tool_calls):
            data = orjson.dumps(adapter.apply(body, response.tool_calls))
        extra = [(k, v) for k, v in resp.headers if k != b"content-type"]
        if self.settings.verdict_header:
            extra.append((VERDICT_HEADER, exchange.verdict().value.encode()))
        self._record(exchange)
        await send_bytes(send, 200, data, b"application/json", extra)

    async def _stream(self, adapter: DialectAdapter, exchange: Exchange, resp: UpstreamResponse,
                      send: Send) -> None:
        codec = adapter.stream_codec()
        exchange.response = codec.response
        assembler = StreamAssembler(codec, lambda call: self.pipeline.run_tool_call(exchange, call),
                                    finish=lambda: self.pipeline.run_response(exchange),
                                    defer=self.pipeline.needs_whole_response)
        headers = [(k, v) for k, v in resp.headers if k not in (b"content-type", b"cache-control")]
        await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS + headers})
        error: str | None = None
        try:
            async for chunk in resp.iter_chunks():
                out = assembler.feed(chunk)
                if self.settings.strip_envelope:
                    out = [b for b in out if not b.startswith(SSE_PREFIX)]
                if out:
                    await send({"type": "http.response.body", "body": b"".join(out), "more_body": True})
            out = assembler.close()
            if not assembler.complete:
                error = "upstream closed the stream before it was complete"
        except RelayguardError as exc:
            out, error = [], str(exc)
        except (AttributeError, TypeError, ValueError, LookupError) as exc:
            out, error = [], f"upstream stream does not fit the {adapter.name} format ({exc})"
        if error:
            # Held tool calls are dropped: a call never seen whole is never released.
            out.append(codec.error_event("relayguard: " + error))
            exchange.findings.append(Finding("stream-error", "warn", error))
        self._record(exchange)
        await send({"type": "http.response.body", "body": b"".join(out), "more_body": False})


class BadGateway(UpstreamError):
    status = 502


def _v1(path: str) -> str:
    return path if path.startswith("/v1/") else "/v1" + path


def _path_qs(scope: Scope) -> str:
    path = _v1(scope["path"])
    qs = scope.get("query_string") or b""
    return path + ("?" + qs.decode("latin-1") if qs else "")


def _forward_headers(scope: Scope) -> list[tuple[str, str]]:
    return [(k.decode("latin-1"), v.decode("latin-1")) for k, v in end_to_end(scope["headers"])]


async def _send_upstream_bytes(send: Send, resp: UpstreamResponse, data: bytes) -> None:
    extra = [(k, v) for k, v in resp.headers if k != b"content-type"]
    ctype = resp.content_type.encode("latin-1") or b"application/json"
    await send_bytes(send, resp.status, data, ctype, extra)


def _guess_adapter(scope: Scope) -> DialectAdapter:
    """For errors on paths no dialect owns: answer in Anthropic's format to
    Anthropic clients (they send anthropic-version), else in OpenAI's."""
    if header(scope, b"anthropic-version") is not None or "messages" in scope["path"]:
        return adapter_for("anthropic-messages")
    return adapter_for("openai-chat")

