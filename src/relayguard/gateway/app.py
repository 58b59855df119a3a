"""The gateway: a self-hosted router with virtual keys, limits, failover and signed answers.

Per request: authenticate the virtual key, check its model scope, admit it
against its rpm/tpm/budget limits, send it to the model's targets with
failover (``upstreams``), answer in the client's dialect (``respond``), sign
the answer, account tokens and cost, and append the exchange to the
transparency log.  Provider keys live only in this process; clients never see
them, and the gateway never forwards a client's credentials upstream.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import itertools
import os
import sys
import time
import traceback
from typing import Any

import orjson

from relayguard.asgi import SSE_HEADERS, Receive, Scope, Send, header, lifespan, parse_json_body, read_body, send_bytes, send_json
from relayguard.dialects import adapter_for, adapter_for_path
from relayguard.dialects.base import DialectAdapter
from relayguard.envelope import ENVELOPE_HEADER, KEYSET_WELL_KNOWN, NONCE_HEADER, SigningKey, sign_response
from relayguard.errors import BadRequest, ClientError, NotFound, RelayguardError
from relayguard.exchange import Exchange, Request, Response, Usage
from relayguard.gateway.admin import Admin
from relayguard.gateway.metrics import GatewayMetrics
from relayguard.gateway.respond import ClientStream, pump, whole
from relayguard.gateway.upstreams import Answer, Upstreams
from relayguard.session import session_of
from relayguard.translog import TransparencyLog, entry_from_exchange
from relayguard.translog.writer import BatchedLogWriter

ROUTE_HEADER = b"x-relayguard-route"
ENVELOPE_HEADER_BYTES = ENVELOPE_HEADER.encode()
OUTPUT_LIMIT_FIELDS = ("max_tokens", "max_completion_tokens", "max_output_tokens")  # first int one wins
USAGE_FLUSH_SECONDS = 0.5


class Unauthorized(ClientError):
    status = 401


class Forbidden(ClientError):
    status = 403


class GatewayApp:
    def __init__(self, *, name: str, upstreams: Upstreams, keys: Any, limiter: Any, prices: Any,
                 admin_token: str, metrics: GatewayMetrics, signing_key: SigningKey | None = None,
                 log: TransparencyLog | None = None, max_body: int = 10 * 1024 * 1024,
                 request_log: bool = True) -> None:
        self.name = name
        self.upstreams = upstreams
        self.keys = keys
        self.limiter = limiter
        self.prices = prices
        self.metrics = metrics
        self.signing_key = signing_key
        self.max_body = max_body
        self.request_log = request_log
        self.admin = Admin(admin_token, keys, upstreams.router, set(upstreams.router.models))
        self._log = BatchedLogWriter(log) if log is not None else None
        self._usage_thread = concurrent.futures.ThreadPoolExecutor(1, "relayguard-usage")
        self._usage_task: asyncio.Task[None] | None = None
        self._ids = itertools.count(1)
        self._id_prefix = os.urandom(4).hex()
        self._ready = False

    # -- lifecycle --------------------------------------------------------------------------

    async def _start(self) -> None:
        await self.upstreams.start()
        self._usage_task = asyncio.create_task(self._flush_usage_forever())
        self._ready = True

    async def _stop(self) -> None:
        self._ready = False
        if self._usage_task is not None:
            self._usage_task.cancel()
        await self.upstreams.stop()
        await asyncio.get_running_loop().run_in_executor(self._usage_thread, self.keys.flush)
        self._usage_thread.shutdown(wait=True)
        if self._log is not None:
            await self._log.stop()

    async def _flush_usage_forever(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(USAGE_FLUSH_SECONDS)
            try:
                await loop.run_in_executor(self._usage_thread, self.keys.flush)
            except Exception as exc:  # noqa: BLE001 - keep serving; totals stay in memory
                print(f"relayguard gateway: writing usage failed: {exc}", file=sys.stderr)

    # -- routing of paths ---------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send, self._start, self._stop)
            return
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        adapter = adapter_for_path(path)
        try:
            if adapter is not None and method == "POST":
                await self._exchange(adapter, scope, receive, send)
            elif path.startswith("/admin/"):
                status, obj = await self.admin.handle(scope, receive)
                await send_json(send, status, obj)
            elif method == "GET" and path == "/metrics":
                self.metrics.cooling.set(sum(1 for s in self.upstreams.router.state().values() if not s["healthy"]))
                await send_bytes(send, 200, self.metrics.render(), self.metrics.content_type)
            elif method == "GET" and path == "/healthz":
                await send_json(send, 200, {"status": "ok"})
            elif method == "GET" and path == "/readyz":
                await self._readyz(send)
            elif method == "GET" and path == KEYSET_WELL_KNOWN and self.signing_key is not None:
                await send_json(send, 200, {"keys": [self.signing_key.public().to_jwk()]})
            elif method == "GET" and path in ("/v1/models", "/models"):
                key = self._authenticate(scope)
                models = sorted(m for m in self.upstreams.router.models if not key.models or m in key.models)
                await send_json(send, 200, {"object": "list", "data": [
                    {"id": m, "object": "model", "created": 0, "owned_by": self.name} for m in models]})
            else:
                raise NotFound(f"the gateway does not serve {method} {path}; it serves POST /v1/chat/completions, "
                               "/v1/responses, /v1/messages, GET /v1/models, /metrics, /healthz, /readyz and /admin/")
        except RelayguardError as exc:
            await self._error(send, scope, adapter, exc)
        except Exception:  # noqa: BLE001 - a bug must not kill the server
            traceback.print_exc(file=sys.stderr)
            await self._error(send, scope, adapter, RelayguardError("relayguard gateway internal error"))

    async def _error(self, send: Send, scope: Scope, adapter: DialectAdapter | None, exc: RelayguardError) -> None:
        target = adapter or (adapter_for("anthropic-messages") if header(scope, b"anthropic-version")
                             else adapter_for("openai-chat"))
        extra = []
        retry_after = getattr(exc, "retry_after", None)
        if retry_after:
            extra.append((b"retry-after", str(int(retry_after)).encode()))
        await send_json(send, exc.status, target.error_body(exc.status, str(exc)), extra)

    async def _readyz(self, send: Send) -> None:
        state = self.upstreams.router.state()
        down = [m for m, targets in self.upstreams.router.models.items()
                if not any(state[t.label]["healthy"] for t in targets)]
        ok = self._ready and not down
        await send_json(send, 200 if ok else 503, {"ready": ok, "models_without_healthy_target": down,
                                                   "targets": state})

    # -- the client's exchange ---------------------------------------------------------------

    def _authenticate(self, scope: Scope) -> Any:
        secret = None
        auth = header(scope, b"authorization")
        if auth is not None and auth[:7].lower() == b"bearer ":
            secret = auth[7:].strip().decode("latin-1")
        if not secret:
            value = header(scope, b"x-api-key")
            secret = value.decode("latin-1").strip() if value else None
        if not secret:
            self.metrics.refused.labels("no-key").inc()
            raise Unauthorized("missing virtual key: send it as 'Authorization: Bearer KEY' (OpenAI clients) or "
                               "'x-api-key: KEY' (Anthropic clients); an admin issues keys with POST /admin/keys")
        key = self.keys.lookup(secret)
        if key is None:
            self.metrics.refused.labels("bad-key").inc()
            raise Unauthorized("invalid or revoked virtual key")
        return key

    async def _exchange(self, adapter: DialectAdapter, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        raw = await read_body(scope, receive, self.max_body)
        key = self._authenticate(scope)
        body = parse_json_body(scope, raw)
        model, stream = adapter.request_info(body)
        if model not in self.upstreams.router.models:
            raise NotFound(f"model {model!r} is not served here; models: "
                           + ", ".join(sorted(self.upstreams.router.models)))
        if key.models and model not in key.models:
            self.metrics.refused.labels("scope").inc()
            raise Forbidden(f"virtual key {key.id} may not use model {model!r}; it may use: {', '.join(key.models)}")
        tokens, cost = self._estimate(model, body, len(raw), key)
        try:
            admission = self.limiter.admit(key, tokens, cost)
        except RelayguardError as exc:
            self.metrics.refused.labels("budget" if exc.status == 402 else "rate").inc()
            raise
        status, usage, answer = 502, Usage(), None
        exchange = Exchange(id=f"gw-{self._id_prefix}-{next(self._ids)}",
                            request=Request(adapter.name, scope["path"], body, raw, scope["headers"], model, stream))
        try:
            answer = await self.upstreams.open(model, body, adapter.name, stream, scope["headers"])
            exchange.upstream = self.upstreams.clients[answer.target.provider].base_url
            status = answer.resp.status
            if status != 200:
                await self._upstream_error(send, adapter, answer)
            elif stream:
                exchange.response = await self._stream(adapter, scope, raw, answer, send, exchange.id)
            else:
                exchange.response = await self._whole(adapter, scope, raw, answer, send, exchange.id)
            usage = exchange.response.usage
        except RelayguardError as exc:
            status = exc.status
            raise
        finally:
            actual_cost = self._account(key, model, answer, usage, raw, exchange.response)
            self.limiter.settle(admission, usage.input_tokens + usage.output_tokens, actual_cost)
            self.metrics.observe_request(model, status, time.perf_counter() - started)
            if answer is not None and status == 200:
                self._record(exchange)
            if self.request_log:
                self._log_line(key, model, answer, status, started, usage, actual_cost)

    def _estimate(self, model: str, body: dict[str, Any], size: int, key: Any) -> tuple[int, float]:
        limit = None
        for field in OUTPUT_LIMIT_FIELDS:
            value = body.get(field)
            if isinstance(value, int):
                limit = value
                break
        worst_tokens, worst_cost = 0, 0.0
        for target in self.upstreams.router.models[model]:
            tokens, cost = self.prices.estimate(target.model, size, limit)
            if cost is None:
                if key.budget_usd is not None:
                    raise Forbidden(f"model {target.model!r} has no price in the gateway's price table, so a key "
                                    "with a budget cannot use it; add a [[price]] entry to the config")
                cost = 0.0
            worst_tokens, worst_cost = max(worst_tokens, tokens), max(worst_cost, cost)
        return worst_tokens, worst_cost

    def _signer(self, scope: Scope, raw: bytes):  # type: ignore[no-untyped-def]
        if self.signing_key is None:
            return None
        nonce = header(scope, NONCE_HEADER.encode())
        key, name = self.signing_key, self.name

        def sign(response: Response) -> str:
            return sign_response(response, key, provider=name, nonce=nonce.decode("latin-1") if nonce else None,
                                 request_body=raw)
        return sign

    async def _whole(self, adapter: DialectAdapter, scope: Scope, raw: bytes, answer: Answer, send: Send,
                     response_id: str) -> Response:
        model = answer.target.model
        data, response = whole(answer.body, answer.dialect, adapter.name, model, response_id)
        extra = [(ROUTE_HEADER, answer.target.label.encode())]
        signer = self._signer(scope, raw)
        if signer is not None:
            extra.append((ENVELOPE_HEADER_BYTES, signer(response).encode()))
        await send_bytes(send, 200, data, b"application/json", extra)
        return response

    async def _stream(self, adapter: DialectAdapter, scope: Scope, raw: bytes, answer: Answer, send: Send,
                      response_id: str) -> Response:
        stream = ClientStream(answer.dialect, adapter.name, answer.target.model, response_id, self._signer(scope, raw))
        await send({"type": "http.response.start", "status": 200,
                    "headers": SSE_HEADERS + [(ROUTE_HEADER, answer.target.label.encode())]})

        async def send_body(data: bytes) -> None:
            await send({"type": "http.response.body", "body": data, "more_body": True})

        try:
            error = await pump(stream, answer.body, answer.chunks, send_body)
        finally:
            answer.resp.close()
        tail = b""
        if error:
            self.metrics.upstream_errors.labels(answer.target.provider, "stream").inc()
            tail = stream.error_event("relayguard gateway: " + error)
        await send({"type": "http.response.body", "body": tail, "more_body": False})
        return stream.response

    async def _upstream_error(self, send: Send, adapter: DialectAdapter, answer: Answer) -> None:
        """An upstream 4xx: the request was wrong.  Pass the provider's words on in the client's dialect."""
        message = answer.body[:2000].decode("utf-8", "replace")
        try:
            obj = orjson.loads(answer.body)
            err = obj.get("error") if isinstance(obj, dict) else None
            message = err["message"] if isinstance(err, dict) and isinstance(err.get("message"), str) else message
        except orjson.JSONDecodeError:
            pass
        status = answer.resp.status
        await send_json(send, status, adapter.error_body(status, f"upstream {answer.target.label}: {message}"),
                        [(ROUTE_HEADER, answer.target.label.encode())])

    def _account(self, key: Any, model: str, answer: Answer | None, usage: Usage, raw: bytes,
                 response: Response) -> float:
        if answer is None or answer.resp.status != 200:
            return 0.0
        if not (usage.input_tokens or usage.output_tokens):
            # No usage reported: estimate from sizes (~4 bytes a token) rather than count nothing.
            usage.input_tokens = max(1, len(raw) // 4)
            usage.output_tokens = max(1, (len(response.text) + sum(len(c.raw_arguments) for c in response.tool_calls)) // 4)
        cost = self.prices.cost(answer.target.model, usage.input_tokens, usage.output_tokens) or 0.0
        self.keys.record(key.id, model, usage.input_tokens, usage.output_tokens, cost)
        self.metrics.observe_usage(model, usage.input_tokens, usage.output_tokens, cost)
        return cost

    def _record(self, exchange: Exchange) -> None:
        if self._log is None:
            return
        try:
            exchange.session = session_of(exchange)
        except (TypeError, ValueError, AttributeError):
            exchange.session = ""
        exchange.request.sent = exchange.request.raw
        self._log.record(entry_from_exchange(exchange, request_sha256=hashlib.sha256(exchange.request.raw).digest()))

    def _log_line(self, key: Any, model: str, answer: Answer | None, status: int, started: float, usage: Usage,
                  cost: float) -> None:
        # Structured, one JSON object per request; ids and figures only, never a key or a prompt.
        line = {"ts": round(time.time(), 3), "event": "request", "key": key.id, "model": model,
                "target": answer.target.label if answer else None, "attempts": answer.attempts if answer else None,
                "status": status, "ms": round((time.perf_counter() - started) * 1000, 2),
                "input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens, "cost_usd": round(cost, 8)}
        sys.stderr.buffer.write(orjson.dumps(line) + b"\n")
        sys.stderr.flush()


__all__ = ["BadRequest", "Forbidden", "GatewayApp", "Unauthorized"]
