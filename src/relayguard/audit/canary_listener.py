"""The local HTTP listener that URL canaries point at.

Binds 127.0.0.1 only (a resumed run asks for the port it had, so canaries
planted before the restart still land here).  Any request to it is recorded:
no honest party ever has a reason to call these URLs.  What it keeps is
bounded (count, path length, header length); it reads no request body.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from relayguard.audit.canaries import HOOK_PREFIX
from relayguard.audit.model import Hit

MAX_HITS = 1000


class CanaryListener:
    def __init__(self, port: int = 0) -> None:
        try:
            self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        except OSError:
            if not port:
                raise
            self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self.port: int = self._server.server_address[1]
        self._lock = threading.Lock()
        self._hits: list[Hit] = []
        self._taken = 0
        self._thread = threading.Thread(target=self._server.serve_forever, name="canary-listener", daemon=True)
        self._thread.start()

    def record(self, hit: Hit) -> None:
        with self._lock:
            if len(self._hits) < MAX_HITS:
                self._hits.append(hit)

    def new_hits(self) -> list[Hit]:
        """Hits since the last call."""
        with self._lock:
            out = self._hits[self._taken:]
            self._taken = len(self._hits)
        return out

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler(listener: CanaryListener) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _any(self) -> None:
            path = self.path[:512]
            token = path[len(HOOK_PREFIX):].split("?")[0].split("/")[0] if path.startswith(HOOK_PREFIX) else ""
            listener.record(Hit(time.time(), self.command[:16], path, token[:64],
                                (self.headers.get("user-agent") or "")[:200], self.client_address[0]))
            self.send_response(200)
            self.send_header("content-type", "text/plain")
            self.send_header("content-length", "3")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(b"ok\n")

        do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = do_PATCH = _any

        def log_message(self, *args: object) -> None:  # quiet: hits go to the report
            pass

    return Handler
