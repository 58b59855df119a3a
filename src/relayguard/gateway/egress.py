"""The egress allowlist: the gateway connects to its configured providers and nowhere else.

Every upstream connection the gateway opens goes through ``UpstreamClient.send``,
which asks ``EgressPolicy.check`` first.  Allowed is (host, port) of each
provider's base URL plus what the config lists under ``[egress] allow``; a
refused destination raises (the request fails over or fails, never leaks) and
is counted and logged.  Redirects are never followed, so an upstream cannot
steer the gateway elsewhere.
"""

from __future__ import annotations

from typing import Callable
from urllib.parse import urlsplit

from relayguard.errors import UpstreamUnavailable


class EgressRefused(UpstreamUnavailable):
    status = 502


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().rstrip(".")
    try:
        port = parts.port
    except ValueError:
        port = None
    return host, port or (443 if parts.scheme == "https" else 80)


class EgressPolicy:
    """``allows(host, port)`` is the configuration's rule (GatewayConfig.egress_allows)."""

    def __init__(self, allows: Callable[[str, int], bool], on_refused: Callable[[str], None] | None = None) -> None:
        self._allows = allows
        self._on_refused = on_refused
        self._allowed_bases: set[str] = set()  # scheme://host:port prefixes already allowed

    def check(self, url: str) -> None:
        base = url[:url.find("/", url.find("//") + 2)] if url.count("/") > 2 else url
        if base in self._allowed_bases:  # the per-request fast path: a base already judged
            return
        host, port = _host_port(url)
        if host and self._allows(host, port):
            if len(self._allowed_bases) < 64:
                self._allowed_bases.add(base)
            return
        if self._on_refused is not None:
            self._on_refused(f"{host}:{port}")
        raise EgressRefused(f"relayguard gateway refused to connect to {host}:{port}: not a configured "
                            "provider (add it as a [[provider]] or under [egress] allow)")
