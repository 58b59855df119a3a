"""Cross-dialect translation for the gateway: a client speaking one API dialect
served by an upstream speaking another (docs/translation.md).

    translate_request(body, source, target, model)            client request -> upstream request
    translate_response(body, source, target, model, id)       upstream body -> client body
    StreamTranslator(source, target, model, id)               upstream SSE -> client SSE, incrementally

Requests go through a dialect-neutral form (``model.Chat``); responses through
the adapters' own ``Response`` (``parse_response`` / ``build_response``), and
streams through the adapters' StreamCodecs, so format knowledge stays in
``relayguard.dialects`` wherever it already lives.
"""

from relayguard.translate.requests import translate_request
from relayguard.translate.responses import translate_response
from relayguard.translate.stream import StreamTranslator

__all__ = ["StreamTranslator", "translate_request", "translate_response"]
