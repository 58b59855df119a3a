"""Verify the provider's signed envelope (see docs/envelope.md).

Runs on the whole response: every tool call waits until the signature has
been checked, so a stream's calls are released only after its final envelope
comment arrived and verified.  Any change to a signed tool call, the model,
the text, the finish reason, the request digest or the nonce blocks, with a
finding that names what changed.  Without ``require``, a response that carries
no envelope passes (the upstream does not sign); with it, that blocks too.
"""

from __future__ import annotations

import time

from relayguard.envelope import ContentMismatch, EnvelopeError, KeySet, verify
from relayguard.exchange import Exchange, Finding
from relayguard.inspectors.base import Inspector


class EnvelopeCheck(Inspector):
    name = "envelope"
    needs_whole_response = True
    checks_envelopes = True

    def __init__(self, keyset: KeySet, require: bool = False) -> None:
        self.keyset = keyset
        self.require = require

    def on_response(self, exchange: Exchange) -> list[Finding]:
        response = exchange.response
        if response.envelope is None:
            if not self.require:
                return []
            return [Finding("envelope-missing", "block",
                            "the response carries no signed envelope and --require-envelope is set; "
                            "a router may have stripped it")]
        try:
            envelope = verify(response.envelope, self.keyset, response=response,
                              nonce=exchange.request.nonce, request_body=exchange.request.sent,
                              now=int(time.time()))
        except ContentMismatch as exc:
            return [Finding(exc.code, "block", f"signed response was changed on the way: {d.message}",
                            d.tool_call) for d in exc.differences] or \
                [Finding(exc.code, "block", f"signed response was changed on the way: {exc}")]
        except EnvelopeError as exc:
            return [Finding(exc.code, "block", f"envelope check failed: {exc}")]
        return [Finding("envelope-verified", "info", f"signed by key {envelope.kid}")]
