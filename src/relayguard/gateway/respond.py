"""Turning an upstream answer into the client's answer: translated, parsed, signed.

Whatever dialect the provider spoke, the client gets its own; the gateway then
parses exactly what the client will read (with the client dialect's adapter
or stream codec) and signs that, so a guard downstream verifying the envelope
compares like with like.  In a stream the envelope goes out as an SSE comment
just before the terminal event.
"""

from __future__ import annotations

from typing import AsyncIterator, Callable

import orjson

from relayguard.dialects import adapter_for
from relayguard.dialects.base import read_events
from relayguard.envelope import sse_comment
from relayguard.errors import RelayguardError, StreamError, UpstreamUnavailable
from relayguard.exchange import Dialect, Response
from relayguard.sse import SSEReader
from relayguard.translate import StreamTranslator, translate_response

Signer = Callable[[Response], str]  # response as the client reads it -> envelope transport string


def whole(data: bytes, source: Dialect, target: Dialect, model: str, response_id: str) -> tuple[bytes, Response]:
    """A non-streaming 200 body from the provider -> (bytes for the client, the client's view)."""
    try:
        body = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise UpstreamUnavailable("upstream answered 200 with a body that is not JSON") from None
    if not isinstance(body, dict):
        raise UpstreamUnavailable("upstream answered 200 with a JSON body that is not an object")
    if source != target:
        body = translate_response(body, source, target, model, response_id)
        data = orjson.dumps(body)
    try:
        response = adapter_for(target).parse_response(body)
    except (AttributeError, TypeError, ValueError, LookupError) as exc:
        raise UpstreamUnavailable(f"upstream response does not fit the {source} format ({exc})") from None
    response.raw = data
    return data, response


class ClientStream:
    """Upstream SSE bytes in, client SSE bytes out, with the client's view assembled
    on the way (for token accounting and the envelope)."""

    def __init__(self, source: Dialect, target: Dialect, model: str, response_id: str,
                 signer: Signer | None) -> None:
        self.translator = StreamTranslator(source, target, model, response_id) if source != target else None
        self.codec = adapter_for(target).stream_codec()
        self.reader = SSEReader()
        self.signer = signer
        self.signed = False

    @property
    def response(self) -> Response:
        return self.codec.response

    @property
    def complete(self) -> bool:
        return self.codec.complete

    def feed(self, chunk: bytes) -> bytes:
        data = b"".join(self.translator.feed(chunk)) if self.translator else chunk
        return self._client_bytes(self.reader.feed(data))

    def close(self) -> bytes:
        data = b"".join(self.translator.close()) if self.translator else b""
        events = self.reader.feed(data) + self.reader.close() if data else self.reader.close()
        return self._client_bytes(events)

    def _client_bytes(self, events: list) -> bytes:  # type: ignore[type-arg]
        out = []
        for event in events:
            if not event.comment:
                read_events(self.codec, (event,))
                if self.codec.complete and self.signer is not None and not self.signed:
                    # The terminal event: the whole answer is known; sign it before the end.
                    self.signed = True
                    out.append(sse_comment(self.signer(self.codec.response)))
            elif event.data.startswith("relayguard-envelope "):
                continue  # a provider's own envelope signs the provider's bytes, not ours
            out.append(event.raw)
        return b"".join(out)

    @property
    def upstream_error(self) -> str | None:
        """An error the upstream reported inside a translated stream (already sent on)."""
        return self.translator.error if self.translator is not None else None

    def error_event(self, message: str) -> bytes:
        # The translator numbers events (Responses sequence_number) in step with what it wrote.
        return self.translator.error_event(message) if self.translator else self.codec.error_event(message)


async def pump(stream: ClientStream, first: bytes, rest: AsyncIterator[bytes] | None,
               send_body: Callable[[bytes], object]) -> str | None:
    """Feed the upstream's stream through; returns an error message when it broke."""
    try:
        out = stream.feed(first)
        if out:
            await send_body(out)  # type: ignore[misc]
        if rest is not None:
            async for chunk in rest:
                out = stream.feed(chunk)
                if out:
                    await send_body(out)  # type: ignore[misc]
        out = stream.close()
        if out:
            await send_body(out)  # type: ignore[misc]
    except RelayguardError as exc:
        return str(exc)
    except (AttributeError, TypeError, ValueError, LookupError) as exc:
        return f"upstream stream does not fit its format ({exc})"
    if stream.upstream_error is not None:
        return None  # the client already got the upstream's own error event, in its dialect
    if not stream.complete:
        return "upstream closed the stream before it was complete"
    return None


__all__ = ["ClientStream", "Signer", "StreamError", "pump", "whole"]
