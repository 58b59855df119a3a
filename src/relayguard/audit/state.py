"""The resumable state file: one JSON line per finished call (and per canary hit).

The first line describes the run (plan key, seed, the run's secret, the canary
listener's port).  A killed run leaves at most one torn last line, which is
ignored; a resumed run loads every result, skips those calls and appends the
rest.  The file holds the run's canary values: it is created 0600.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from typing import Any

import orjson

from relayguard.audit.model import CallResult, Hit
from relayguard.errors import ConfigError

VERSION = 1
MAX_STATE = 256 * 1024 * 1024


def plan_key(settings: dict[str, Any]) -> str:
    """What must not change between a run and its resumption."""
    return hashlib.sha256(orjson.dumps(settings, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]


@dataclass
class Loaded:
    header: dict[str, Any]
    results: dict[tuple[int, str], CallResult] = field(default_factory=dict)
    hits: list[Hit] = field(default_factory=list)


class StateFile:
    def __init__(self, path: str | None) -> None:
        self.path = path
        self._fd: int | None = None

    def load(self) -> Loaded | None:
        """The saved run, or None when there is no state yet."""
        if not self.path or not os.path.exists(self.path) or os.path.getsize(self.path) == 0:
            return None
        if os.path.getsize(self.path) > MAX_STATE:
            raise ConfigError(f"state file {self.path} is larger than {MAX_STATE} bytes; is it the right file?")
        with open(self.path, "rb") as fh:
            lines = fh.read().split(b"\n")
        records = []
        for line in lines:
            if not line.strip():
                continue
            try:
                records.append(orjson.loads(line))
            except orjson.JSONDecodeError:  # the torn last line of a killed run: that call is made again
                continue
        if not records or records[0].get("type") != "header" or records[0].get("version") != VERSION:
            raise ConfigError(f"{self.path} is not a relayguard audit state file (v{VERSION}); "
                              "use another --state path or remove it")
        loaded = Loaded(records[0])
        try:
            for rec in records[1:]:
                if rec.get("type") == "call":
                    result = CallResult.from_json(rec["result"])
                    loaded.results[(result.step, result.target)] = result
                elif rec.get("type") == "hit":
                    loaded.hits.append(Hit(**rec["hit"]))
        except (KeyError, TypeError) as exc:
            raise ConfigError(f"state file {self.path} has a malformed record ({exc}); "
                              "remove it to start over") from None
        return loaded

    def start(self, header: dict[str, Any] | None) -> None:
        """Open for appending; write ``header`` first when starting a new file."""
        if not self.path:
            return
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        size = os.fstat(self._fd).st_size
        if size and os.pread(self._fd, 1, size - 1) != b"\n":
            os.write(self._fd, b"\n")  # end a torn line so the next record starts clean
        if header is not None:
            self._append({"type": "header", "version": VERSION, **header})

    def add_call(self, result: CallResult) -> None:
        self._append({"type": "call", "result": result.to_json()})

    def add_hit(self, hit: Hit) -> None:
        self._append({"type": "hit", "hit": hit.to_json()})

    def _append(self, record: dict[str, Any]) -> None:
        if self._fd is not None:
            os.write(self._fd, orjson.dumps(record) + b"\n")  # one write per line: a kill tears at most one

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
