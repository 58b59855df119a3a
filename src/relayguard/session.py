"""Which agent session a request belongs to (the vault's scope, the log's key)."""

from __future__ import annotations

import hashlib

import orjson

from relayguard.exchange import Exchange

SESSION_HEADER = b"x-relayguard-session"


def session_of(exchange: Exchange) -> str:
    """The client's own session id when it sends one, else a digest of how the
    conversation began: the same across every turn of one conversation."""
    given = exchange.request.header(SESSION_HEADER)
    if given:
        return "h:" + given[:128]
    from relayguard.dialects import adapter_for

    opening = adapter_for(exchange.request.dialect).opening(exchange.request.body)
    return "c:" + hashlib.sha256(orjson.dumps(opening)).hexdigest()[:32]
