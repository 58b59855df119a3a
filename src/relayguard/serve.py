"""Run an ASGI app the way every relayguard server runs: bind first, print the
base URL as the first line on stdout, serve until SIGINT/SIGTERM, exit 0."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import sys
from typing import Any, Iterator

import uvicorn


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def base_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def serve(app: Any, host: str, port: int, banner: str = "") -> int:
    try:
        sock = bind(host, port)
    except OSError as exc:
        print(f"relayguard: cannot listen on {host}:{port}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    print(base_url(sock), flush=True)
    if banner:
        print(banner, file=sys.stderr, flush=True)
    config = uvicorn.Config(app, loop="none", http="httptools", lifespan="on", log_level="warning",
                            access_log=False, server_header=False, proxy_headers=False, timeout_graceful_shutdown=5)
    server = _Server(config)
    try:
        import uvloop
    except ImportError:  # uvloop is not built for every platform
        asyncio.run(_serve(server, sock))
    else:
        uvloop.run(_serve(server, sock))
    return 0


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # uvicorn re-raises the signal after shutdown, which would make the
        # process exit non-zero; relayguard's servers exit 0 on SIGINT/SIGTERM.
        yield


async def _serve(server: uvicorn.Server, sock: socket.socket) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda: setattr(server, "should_exit", True))
    await server.serve(sockets=[sock])
