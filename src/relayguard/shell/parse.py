"""parse / parse_script: inline under a CPU deadline, or in the worker process."""

from __future__ import annotations

from relayguard.shell import worker as _worker
from relayguard.shell.model import (
    ARG_OTHER,
    Command,
    INLINE_BYTES,
    MAX_SCRIPT_BYTES,
    PARSE_BUDGET_SECONDS,
    ParsedScript,
    ShellParseError,
    _WORKER_BUDGET_SECONDS,
)
from relayguard.shell.state import _NeedsIsolation
from relayguard.shell.walker import _Walker


def parse_script(script: str) -> ParsedScript:
    """Parse ``script``; see the ``relayguard.shell`` docstring.  Raises ShellParseError."""
    if not isinstance(script, str):
        raise ShellParseError("shell script must be a string")
    if len(script) > MAX_SCRIPT_BYTES:
        raise ShellParseError(f"shell script longer than {MAX_SCRIPT_BYTES} bytes")
    if _worker._IN_WORKER:
        return _parse_here(script, _WORKER_BUDGET_SECONDS, None)
    try:
        return _parse_here(script, PARSE_BUDGET_SECONDS, INLINE_BYTES)
    except _NeedsIsolation:
        pass
    try:
        return _worker._WORKER.parse(script)
    except _worker._WorkerUnavailable:
        # No worker process here: best effort, under the CPU deadline.
        return _parse_here(script, PARSE_BUDGET_SECONDS, None)


def _parse_here(script: str, budget: float, inline_bytes: int | None) -> ParsedScript:
    walker = _Walker(budget, inline_bytes)
    try:
        walker.script(script, 0, None, None, ARG_OTHER)
        commands = walker.finish()
    except RecursionError:
        raise ShellParseError("shell script nested too deeply") from None
    return ParsedScript(commands, walker.has_error)


def parse(script: str) -> list[Command]:
    """The commands ``script`` would run.  Raises ShellParseError."""
    return list(parse_script(script).commands)
