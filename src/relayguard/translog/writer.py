"""Batched appends from an event loop to the transparency log.

Servers (the guard, the gateway) record one entry per finished exchange.  One
SQLite transaction per batch on one writer thread costs ~20 us per entry, where
one thread handoff per entry cost ~20x that, so entries are queued and written
every FLUSH_SECONDS or BATCH entries.  The client never waits for the disk;
``stop`` writes what is queued, then closes the log (which signs a final head).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import sys

from relayguard.translog.store import TransparencyLog

BATCH = 256
FLUSH_SECONDS = 0.02


class BatchedLogWriter:
    def __init__(self, log: TransparencyLog) -> None:
        self.log = log
        self._batch: list[bytes] = []
        self._timer: asyncio.TimerHandle | None = None
        self._writes: set[asyncio.Future[object]] = set()
        self._thread = concurrent.futures.ThreadPoolExecutor(1, "relayguard-log")

    def record(self, entry: bytes) -> None:
        """Queue one encoded entry (call from the event loop)."""
        self._batch.append(entry)
        if len(self._batch) >= BATCH:
            self.flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(FLUSH_SECONDS, self.flush)

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._batch:
            return
        batch, self._batch = self._batch, []
        write = asyncio.get_running_loop().run_in_executor(self._thread, self.log.append_many, batch)
        self._writes.add(write)
        write.add_done_callback(self._done)

    def _done(self, write: "asyncio.Future[object]") -> None:
        self._writes.discard(write)
        if not write.cancelled() and write.exception() is not None:
            print(f"relayguard: transparency log append failed: {write.exception()}", file=sys.stderr)

    async def stop(self) -> None:
        self.flush()
        await asyncio.gather(*self._writes, return_exceptions=True)
        self._thread.shutdown(wait=True)
        self.log.close()
