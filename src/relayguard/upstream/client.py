"""The pooled HTTP client that talks to the upstream (a provider or a router).

One aiohttp session per server process, keep-alive connections reused across
requests.  aiohttp's exceptions are mapped onto relayguard's error tree here so
nothing downstream depends on the HTTP library.
"""

from __future__ import annotations

import asyncio
import functools
from typing import AsyncIterator, Callable

import aiohttp

from relayguard.errors import UpstreamTimeout, UpstreamUnavailable

# Hop-by-hop headers (RFC 9110 section 7.6.1) and ones the proxy sets itself.
HOP_BY_HOP = frozenset({
    b"connection", b"keep-alive", b"proxy-authenticate", b"proxy-authorization", b"proxy-connection",
    b"te", b"trailer", b"trailers", b"transfer-encoding", b"upgrade", b"host", b"content-length",
    b"accept-encoding", b"content-encoding", b"date", b"server",
})


def end_to_end(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The end-to-end headers of a message: without the hop-by-hop set and
    without any header its Connection header names (RFC 9110 section 7.6.1)."""
    drop = HOP_BY_HOP
    for key, value in headers:
        if key == b"connection":
            drop = drop | {name.strip().lower() for name in value.split(b",")}
    return [(k, v) for k, v in headers if k not in drop]


def normalise_base(url: str) -> str:
    """An upstream's root URL; a trailing /v1 (as SDK base URLs have) is accepted."""
    url = url.rstrip("/")
    if url.endswith("/v1"):
        url = url[:-3]
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"upstream URL must start with http:// or https://, got {url!r}")
    return url


class UpstreamResponse:
    def __init__(self, resp: aiohttp.ClientResponse, read_timeout: float) -> None:
        self._resp = resp
        self.status = resp.status
        self.content_type = resp.headers.get("content-type", "")
        self._read_timeout = read_timeout

    @functools.cached_property
    def headers(self) -> list[tuple[bytes, bytes]]:
        """The end-to-end headers as lowercased bytes pairs (the guard relays them; built on
        first use: the gateway reads at most Retry-After).  Assignable, as before."""
        return end_to_end([(k.lower(), v) for k, v in self._resp.raw_headers])

    def header(self, name: bytes) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value.decode("latin-1")
        return None

    @property
    def is_stream(self) -> bool:
        return self.content_type.startswith("text/event-stream")

    async def read(self, limit: int) -> bytes:
        chunks, size = [], 0
        try:
            async for chunk in self._resp.content.iter_any():
                size += len(chunk)
                if size > limit:
                    raise UpstreamUnavailable(f"upstream response is larger than {limit} bytes")
                chunks.append(chunk)
        except asyncio.TimeoutError:  # first: aiohttp's timeout is also a ClientError
            raise UpstreamTimeout(f"upstream sent nothing for {self._read_timeout:g}s") from None
        except (aiohttp.ClientError, ConnectionError) as exc:
            raise UpstreamUnavailable(f"upstream closed the connection mid-response ({exc})") from None
        return b"".join(chunks)

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._resp.content.iter_any():
                yield chunk
        except asyncio.TimeoutError:
            raise UpstreamTimeout(f"upstream stream stalled for {self._read_timeout:g}s") from None
        except (aiohttp.ClientError, ConnectionError) as exc:
            raise UpstreamUnavailable(f"upstream closed the stream early ({exc})") from None

    def release(self) -> None:
        self._resp.release()

    def close(self) -> None:
        self._resp.close()


class UpstreamClient:
    def __init__(self, base_url: str, connect_timeout: float = 10.0, read_timeout: float = 600.0,
                 egress_check: Callable[[str], None] | None = None) -> None:
        self.base_url = normalise_base(base_url)
        self.egress_check = egress_check  # the gateway's allowlist: raises for a refused destination
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300, enable_cleanup_closed=True)
        timeout = aiohttp.ClientTimeout(total=None, connect=self.connect_timeout, sock_read=self.read_timeout)
        # auto_decompress: the upstream may compress; the guard must read plain JSON.
        self._session = aiohttp.ClientSession(connector=connector, timeout=timeout, auto_decompress=True,
                                              skip_auto_headers=("User-Agent",))

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(self, method: str, path_qs: str, headers: list[tuple[str, str]],
                   body: bytes | None) -> UpstreamResponse:
        if self._session is None:
            await self.start()
        assert self._session is not None
        url = self.base_url + path_qs
        if self.egress_check is not None:
            self.egress_check(url)
        try:
            resp = await self._session.request(method, url, headers=headers, data=body, allow_redirects=False)
        except asyncio.TimeoutError:
            raise UpstreamTimeout(f"upstream {self.base_url} did not answer in time") from None
        except (aiohttp.ClientError, ConnectionError, OSError) as exc:
            raise UpstreamUnavailable(f"cannot reach upstream {self.base_url} ({exc})") from None
        return UpstreamResponse(resp, self.read_timeout)
