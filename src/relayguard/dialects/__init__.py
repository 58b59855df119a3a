"""Dialect adapters: the edge where wire formats become Exchanges and back."""

from __future__ import annotations

from relayguard.dialects.base import DialectAdapter
from relayguard.exchange import Dialect

_ADAPTERS: dict[str, DialectAdapter] = {}


def _load() -> dict[str, DialectAdapter]:
    if not _ADAPTERS:
        from relayguard.dialects.anthropic_messages import AnthropicMessages
        from relayguard.dialects.openai_chat import OpenAIChat
        from relayguard.dialects.openai_responses import OpenAIResponses

        for adapter in (OpenAIChat(), OpenAIResponses(), AnthropicMessages()):
            _ADAPTERS[adapter.name] = adapter
    return _ADAPTERS


def adapter_for(dialect: Dialect | str) -> DialectAdapter:
    try:
        return _load()[dialect]
    except KeyError:
        raise ValueError(f"unknown dialect {dialect!r}; expected one of {sorted(_load())}") from None


def adapter_for_path(path: str) -> DialectAdapter | None:
    """The adapter serving a request path, accepting it with or without the /v1 prefix."""
    if not path.startswith("/v1/"):
        path = "/v1" + path
    for adapter in _load().values():
        if path in adapter.paths:
            return adapter
    return None
