"""Start relayguard servers as real processes on free ports (tests, demo, bench).

Each server prints its base URL as its first stdout line; we wait for it, and
stop the process we started by its PID (SIGTERM, then SIGKILL if it hangs).
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import time
from dataclasses import dataclass


@dataclass
class Server:
    url: str
    proc: subprocess.Popen[bytes]

    def stop(self, timeout: float = 10.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        if self.proc.stdout:
            self.proc.stdout.close()
        return self.proc.returncode

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start(*args: str, timeout: float = 30.0, env: dict[str, str] | None = None,
          stderr: int | None = subprocess.DEVNULL) -> Server:
    """Run ``relayguard ARGS --port 0`` and return once it printed its URL."""
    cmd = [sys.executable, "-m", "relayguard", *args]
    if "--port" not in args:
        cmd += ["--port", "0"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=stderr, env={**os.environ, **(env or {})})
    assert proc.stdout is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    line = b""
    while not line.endswith(b"\n"):
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not sel.select(remaining):
            proc.kill()
            raise RuntimeError(f"{' '.join(args)}: no URL printed within {timeout}s")
        byte = proc.stdout.read1(1) if hasattr(proc.stdout, "read1") else proc.stdout.read(1)
        if not byte:
            proc.wait()
            raise RuntimeError(f"{' '.join(args)}: exited with {proc.returncode} before printing its URL")
        line += byte
    sel.close()
    return Server(line.decode().strip(), proc)
