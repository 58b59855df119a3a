"""Sending one client request to a model's targets, failing over until one answers.

``Upstreams.open`` walks the router's plan: it builds the request for each
target's provider (same dialect: the body with the target's model; another
dialect: translated), sends it, and moves on after a connection error, a
timeout, a 429 or a 5xx, with jittered backoff (at least what Retry-After
asked when the same target is tried again).  It returns the first usable
answer: a 200 whose body (or first stream bytes) arrived, or a 4xx the client
must see.  Nothing has reached the client when it returns, so failover never
happens after the first streamed byte.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from typing import Any, AsyncIterator

import orjson

from relayguard.dialects import adapter_for
from relayguard.errors import RelayguardError, UpstreamError, UpstreamTimeout, UpstreamUnavailable
from relayguard.exchange import Dialect
from relayguard.gateway.egress import EgressPolicy, EgressRefused
from relayguard.gateway.metrics import GatewayMetrics
from relayguard.gateway.routing import Router, Target, backoff_delay, parse_retry_after
from relayguard.translate import translate_request
from relayguard.upstream.client import UpstreamClient, UpstreamResponse

ERROR_BODY_LIMIT = 64 * 1024
ANTHROPIC_VERSION = "2023-06-01"


@dataclass
class Answer:
    """An upstream answer the client will get (status 200, or an upstream 4xx)."""

    target: Target
    dialect: Dialect  # the provider's dialect
    resp: UpstreamResponse
    attempts: int
    body: bytes = b""  # non-streaming: the whole body; streaming: the first chunk
    chunks: AsyncIterator[bytes] | None = None  # streaming: the rest
    upstream_seconds: float = 0.0


class AllTargetsFailed(UpstreamError):
    status = 502


class Upstreams:
    def __init__(self, providers: dict[str, Any], secrets: dict[str, str | None], router: Router,
                 egress: EgressPolicy, metrics: GatewayMetrics, *, retries: int, backoff_seconds: float,
                 max_response: int, rng: random.Random | None = None) -> None:
        self.providers = providers
        self.secrets = secrets
        self.router = router
        self.metrics = metrics
        self.retries = retries
        self.backoff_seconds = backoff_seconds
        self.max_response = max_response
        self._rng = rng or random.Random()
        self.clients = {name: UpstreamClient(p.base_url, p.connect_timeout, p.read_timeout, egress.check)
                        for name, p in providers.items()}

    async def start(self) -> None:
        for client in self.clients.values():
            await client.start()

    async def stop(self) -> None:
        for client in self.clients.values():
            await client.stop()

    def _request(self, target: Target, body: dict[str, Any], client_dialect: Dialect, stream: bool,
                 client_headers: list[tuple[bytes, bytes]]) -> tuple[str, list[tuple[str, str]], bytes]:
        provider = self.providers[target.provider]
        dialect: Dialect = provider.dialect
        if dialect == client_dialect:
            out = dict(body)
            out["model"] = target.model
        else:
            out = translate_request(body, client_dialect, dialect, target.model)
        if stream and dialect == "openai-chat":
            # Token accounting needs the usage chunk; clients tolerate it (it has no choices).
            out["stream_options"] = {**(out.get("stream_options") or {}), "include_usage": True}
        headers = [("content-type", "application/json")]
        if stream:
            headers.append(("accept", "text/event-stream"))
        key = self.secrets.get(target.provider)
        if key:
            headers.append(("x-api-key", key) if provider.auth == "x-api-key" else ("authorization", f"Bearer {key}"))
        if dialect == "anthropic-messages":
            same = client_dialect == dialect
            version = _last(client_headers, b"anthropic-version") if same else None
            headers.append(("anthropic-version", version.decode("latin-1") if version else ANTHROPIC_VERSION))
            beta = _last(client_headers, b"anthropic-beta") if same else None
            if beta:
                headers.append(("anthropic-beta", beta.decode("latin-1")))
        return adapter_for(dialect).paths[0], headers, orjson.dumps(out)

    async def open(self, model: str, body: dict[str, Any], client_dialect: Dialect, stream: bool,
                   client_headers: list[tuple[bytes, bytes]]) -> Answer:
        """``client_headers``: the client's (lowercased) header pairs, as the ASGI scope has them."""
        plan = self.router.plan(model)
        if not plan:
            raise UpstreamUnavailable(f"model {model!r} has no targets")
        errors: list[str] = []
        retry_after: float | None = None
        previous: Target | None = None
        for attempt in range(1 + self.retries):
            target = plan[attempt % len(plan)]
            if attempt:
                self.metrics.failovers.labels(model).inc()
                same = target == previous
                await asyncio.sleep(backoff_delay(attempt, self.backoff_seconds, self._rng,
                                                  retry_after if same else None))
            previous, retry_after = target, None
            try:
                path, headers, data = self._request(target, body, client_dialect, stream, client_headers)
            except RelayguardError:
                self.router.release_probe(target)
                raise  # the client's request cannot be translated: no point trying elsewhere
            started = time.perf_counter()
            try:
                resp = await self.clients[target.provider].send("POST", path, headers, data)
            except EgressRefused as exc:
                self.metrics.refused.labels("egress").inc()
                errors.append(f"{target.label}: {exc}")
                self.router.failed(target)
                continue
            except (UpstreamUnavailable, UpstreamTimeout) as exc:
                kind = "timeout" if isinstance(exc, UpstreamTimeout) else "connect"
                self._failed(target, kind, errors, str(exc))
                continue
            seconds = time.perf_counter() - started
            self.metrics.observe_upstream(target.provider, seconds)
            dialect = self.providers[target.provider].dialect
            if resp.status == 429 or resp.status >= 500:
                retry_after = parse_retry_after(resp.header(b"retry-after"))
                detail = await _error_text(resp)
                self._failed(target, str(resp.status), errors, f"answered {resp.status}: {detail}", retry_after)
                continue
            answer = Answer(target, dialect, resp, attempt + 1, upstream_seconds=seconds)
            if resp.status != 200:
                answer.body = await _read_small(resp)
                self.router.succeeded(target)  # it answered; the request was the problem
                return answer
            try:
                if resp.is_stream:
                    # Commit only once the first bytes arrived: a stream that dies before
                    # them fails over like any other failure.
                    answer.chunks = resp.iter_chunks().__aiter__()
                    answer.body = await answer.chunks.__anext__()
                else:
                    answer.body = await resp.read(self.max_response)
            except StopAsyncIteration:
                resp.close()
                self._failed(target, "dropped", errors, "closed the stream before sending anything")
                continue
            except (UpstreamUnavailable, UpstreamTimeout) as exc:
                resp.close()
                self._failed(target, "dropped", errors, str(exc))
                continue
            self.router.succeeded(target)
            return answer
        raise AllTargetsFailed(f"no upstream answered for model {model!r} after {len(errors)} attempt(s): "
                               + "; ".join(errors))

    def _failed(self, target: Target, kind: str, errors: list[str], detail: str,
                retry_after: float | None = None) -> None:
        self.metrics.upstream_errors.labels(target.provider, kind).inc()
        errors.append(f"{target.label} {detail}")
        self.router.failed(target, retry_after)


def _last(headers: list[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    """The last value of header ``name`` (what ``dict(headers)[name]`` gave)."""
    found = None
    for key, value in headers:
        if key == name:
            found = value
    return found


async def _read_small(resp: UpstreamResponse) -> bytes:
    try:
        return await resp.read(ERROR_BODY_LIMIT)
    except UpstreamError:
        return b""
    finally:
        resp.close()


async def _error_text(resp: UpstreamResponse) -> str:
    data = await _read_small(resp)
    try:
        obj = orjson.loads(data)
        err = obj.get("error") if isinstance(obj, dict) else None
        message = err.get("message") if isinstance(err, dict) else None
        if isinstance(message, str):
            return message[:300]
    except orjson.JSONDecodeError:
        pass
    return data[:200].decode("utf-8", "replace") or "(no body)"
