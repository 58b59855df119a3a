"""The worker process for large scripts (run as ``python -m relayguard.shell --worker``)."""

from __future__ import annotations

import atexit
import dataclasses
import os
import queue
import subprocess
import sys
import threading

import orjson

from relayguard.shell.model import (
    Command,
    ParsedScript,
    ShellParseError,
    WORKER_TIMEOUT_SECONDS,
)
from relayguard.shell.state import _parser


# ---------------------------------------------------------------------------
# The worker process for large scripts.
#
# Protocol on stdin/stdout: 4-byte big-endian length, then the payload.  The
# request is the script (UTF-8, surrogates passed through); the answer is JSON,
# {"e": message} or {"h": has_error, "c": [command fields...]}.  The worker
# sends an empty message when it is ready.

_IN_WORKER = False
# Every Command field crosses the pipe (tuples travel as JSON lists).
_FIELDS = tuple(f.name for f in dataclasses.fields(Command) if f.init)


class _WorkerUnavailable(Exception):
    pass


def _freeze(value: object) -> object:
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def _encode_result(result: ParsedScript) -> bytes:
    return orjson.dumps({"h": result.has_error, "c": [
        [getattr(c, name) for name in _FIELDS] for c in result.commands]})


def _decode_result(body: bytes) -> ParsedScript:
    data = orjson.loads(body)
    if "e" in data:
        raise ShellParseError(str(data["e"]))
    commands = tuple(Command(**{name: _freeze(value) for name, value in zip(_FIELDS, row)})
                     for row in data["c"])
    return ParsedScript(commands, bool(data["h"]))


def _read_message(stream) -> bytes | None:  # type: ignore[no-untyped-def]
    header = stream.read(4)
    if len(header) < 4:
        return None
    size = int.from_bytes(header, "big")
    body = stream.read(size)
    return body if len(body) == size else None


def _write_message(stream, body: bytes) -> None:  # type: ignore[no-untyped-def]
    stream.write(len(body).to_bytes(4, "big") + body)
    stream.flush()


class _Worker:
    """One lazily started worker process, killed (by its handle) on timeout."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.proc: subprocess.Popen[bytes] | None = None
        self.answers: queue.Queue[bytes | None] = queue.Queue()
        self.pid_of_owner = 0
        self.failures = 0

    def _start(self) -> None:
        # .../relayguard/shell/worker.py -> the directory holding the relayguard package
        package_parent = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env = dict(os.environ)
        env["PYTHONPATH"] = package_parent + os.pathsep + env.get("PYTHONPATH", "")
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "relayguard.shell", "--worker"], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, close_fds=True)
        except OSError as exc:
            raise _WorkerUnavailable(str(exc)) from None
        answers: queue.Queue[bytes | None] = queue.Queue()

        def reader() -> None:
            assert proc.stdout is not None
            while True:
                msg = _read_message(proc.stdout)
                answers.put(msg)
                if msg is None:
                    return

        threading.Thread(target=reader, name="relayguard-shell-worker", daemon=True).start()
        try:
            ready = answers.get(timeout=30)
        except queue.Empty:
            ready = None
        if ready != b"":
            self._stop(proc)
            raise _WorkerUnavailable("the shell parser worker did not start")
        self.proc, self.answers, self.pid_of_owner = proc, answers, os.getpid()

    @staticmethod
    def _stop(proc: subprocess.Popen[bytes]) -> None:
        try:
            proc.kill()
            proc.wait(timeout=5)
        except Exception:  # noqa: BLE001 - already gone
            pass

    def close(self) -> None:
        with self.lock:
            if self.proc is not None and self.pid_of_owner == os.getpid():
                self._stop(self.proc)
            self.proc = None

    def parse(self, script: str) -> ParsedScript:
        with self.lock:
            if self.proc is not None and self.pid_of_owner != os.getpid():
                self.proc = None  # forked: that worker belongs to the parent process
            if self.proc is None or self.proc.poll() is not None:
                if self.failures >= 3:
                    raise _WorkerUnavailable("the shell parser worker keeps failing to start")
                try:
                    self._start()
                except _WorkerUnavailable:
                    self.failures += 1
                    raise
            proc = self.proc
            assert proc is not None and proc.stdin is not None
            try:
                _write_message(proc.stdin, script.encode("utf-8", "surrogatepass"))
                body = self.answers.get(timeout=WORKER_TIMEOUT_SECONDS)
            except queue.Empty:
                self._stop(proc)
                self.proc = None
                raise ShellParseError("shell script too expensive to parse") from None
            except OSError:
                body = None
            if body is None:  # the worker died (a crash in the parser)
                self._stop(proc)
                self.proc = None
                raise ShellParseError("the shell parser failed on this script")
            return _decode_result(body)


_WORKER = _Worker()
atexit.register(_WORKER.close)


def _worker_main() -> None:
    from relayguard.shell.parse import parse_script  # parse imports this module

    global _IN_WORKER
    _IN_WORKER = True
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    _parser()
    _write_message(stdout, b"")
    while True:
        body = _read_message(stdin)
        if body is None:
            return
        try:
            answer = _encode_result(parse_script(body.decode("utf-8", "surrogatepass")))
        except ShellParseError as exc:
            answer = orjson.dumps({"e": str(exc)})
        except Exception as exc:  # noqa: BLE001 - report, keep serving
            answer = orjson.dumps({"e": f"shell parser error ({type(exc).__name__})"})
        _write_message(stdout, answer)
