"""The minimal hand-written passthrough proxy: relayguard's Python ceiling.

A raw ASGI app (no framework) on uvicorn with uvloop and httptools, and one
pooled aiohttp.ClientSession created at lifespan startup.  Per request it does
only what any proxy must: read the client's body, parse it with orjson (to be
able to route), forward the bytes and the end-to-end headers to
UPSTREAM + path, and return the upstream's status and body (event streams are
relayed chunk by chunk as they arrive).  Nothing else: no inspection, no
dialect model, no error mapping beyond 400/502.

    python bench/passthrough.py --upstream http://127.0.0.1:8080 --port 0

prints its base URL as the first line on stdout, serves until SIGINT/SIGTERM,
then exits 0.  It deliberately does not import relayguard.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's directory is sys.path[0]; other benchmarks there
# (bench/secret_scan.py, formerly) would shadow standard-library modules of the same name.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import asyncio
import contextlib
import signal
import socket
from typing import Any, Iterator

import aiohttp
import orjson
import uvicorn

HOP_BY_HOP = frozenset({
    b"connection", b"keep-alive", b"proxy-authenticate", b"proxy-authorization", b"proxy-connection",
    b"te", b"trailer", b"transfer-encoding", b"upgrade", b"host", b"content-length",
})
ERROR_HEADERS = [(b"content-type", b"application/json")]


class Passthrough:
    def __init__(self, upstream: str) -> None:
        upstream = upstream.rstrip("/")
        self.upstream = upstream[:-3] if upstream.endswith("/v1") else upstream
        self.session: aiohttp.ClientSession | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    self.session = aiohttp.ClientSession(
                        connector=aiohttp.TCPConnector(limit=0),
                        timeout=aiohttp.ClientTimeout(total=None, sock_read=600))
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    if self.session is not None:
                        await self.session.close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return

    async def _http(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        # 1. The client's whole body.
        message = await receive()
        body = message.get("body", b"")
        if message.get("more_body"):
            chunks = [body]
            while message.get("more_body"):
                message = await receive()
                chunks.append(message.get("body", b""))
            body = b"".join(chunks)
        # 2. Parse it, as any proxy must to route (model, stream flag).
        if body:
            try:
                orjson.loads(body)
            except orjson.JSONDecodeError:
                await _reply(send, 400, b'{"error":{"message":"invalid JSON"}}')
                return
        # 3. Forward the bytes and the end-to-end headers.
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"] if k not in HOP_BY_HOP]
        url = self.upstream + scope["path"]
        if scope["query_string"]:
            url += "?" + scope["query_string"].decode("latin-1")
        assert self.session is not None
        try:
            async with self.session.request(scope["method"], url, data=body or None, headers=headers,
                                            allow_redirects=False) as resp:
                ctype = resp.headers.get("content-type", "application/json").encode("latin-1")
                # 4. Relay status and body: streams chunk by chunk, the rest whole.
                if ctype.startswith(b"text/event-stream"):
                    await send({"type": "http.response.start", "status": resp.status,
                                "headers": [(b"content-type", ctype), (b"cache-control", b"no-cache")]})
                    async for chunk in resp.content.iter_any():
                        await send({"type": "http.response.body", "body": chunk, "more_body": True})
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                    return
                data = await resp.read()
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            await _reply(send, 502, orjson.dumps({"error": {"message": f"upstream: {exc}"}}))
            return
        await send({"type": "http.response.start", "status": resp.status,
                    "headers": [(b"content-type", ctype), (b"content-length", str(len(data)).encode())]})
        await send({"type": "http.response.body", "body": data})


async def _reply(send: Any, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": ERROR_HEADERS + [(b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # Our own handlers (below) stop the server; uvicorn's would re-raise the
        # signal after shutdown and make the exit status non-zero.
        yield


async def _serve(server: uvicorn.Server, sock: socket.socket) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda: setattr(server, "should_exit", True))
    await server.serve(sockets=[sock])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--upstream", required=True, help="upstream root URL, e.g. http://127.0.0.1:8080")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    args = parser.parse_args(argv)

    sock = socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    sock.listen(2048)
    host, port = sock.getsockname()[:2]
    print(f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}", flush=True)

    config = uvicorn.Config(Passthrough(args.upstream), loop="none", http="httptools", lifespan="on",
                            log_level="warning", access_log=False, server_header=False, proxy_headers=False,
                            timeout_graceful_shutdown=5)
    import uvloop

    uvloop.run(_serve(_Server(config), sock))
    return 0


if __name__ == "__main__":
    sys.exit(main())
