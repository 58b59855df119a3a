"""The mock provider's fault injection and request counters.

Settings (command-line flags, or a JSON object POSTed to ``/mock/faults``):

    fail_rate        0..1: that fraction of requests fails (seeded RNG, ``seed``)
    status           the failure's HTTP status (400..599, default 500); given
                     without fail_rate (and so are hang, drop_mid_stream): every
                     request fails
    retry_after      seconds sent as ``Retry-After`` (only with status 429 or 503)
    delay_ms         wait this long before the response headers (every request)
    hang             a failing request is read, then never answered until the
                     client disconnects
    drop_mid_stream  a failing request gets part of its answer, then the
                     connection closes (no terminal event, no complete body)
    seed             the RNG seed (default 0); every change of settings reseeds

A failing request hangs if ``hang``, else is cut if ``drop_mid_stream``, else
gets ``status`` with an error body in its dialect.  Only requests to the model
endpoints count and fail; ``/v1/models``, the key set and ``/mock/*`` never do.
"""

from __future__ import annotations

import logging
import random
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from relayguard.asgi import JSON, Receive, Send

RETRY_AFTER_STATUSES = (429, 503)
MAX_DELAY_MS = 600_000


@dataclass(frozen=True)
class FaultSettings:
    fail_rate: float | None = None
    status: int | None = None
    retry_after: int | None = None
    delay_ms: int = 0
    hang: bool = False
    drop_mid_stream: bool = False
    seed: int = 0

    def validate(self, spell: Callable[[str], str] = str) -> None:
        """Raise ValueError naming the first problem and what to give instead;
        ``spell`` writes a setting's name as the caller knows it (e.g. as a flag)."""
        def is_int(v: Any) -> bool:
            return type(v) is int

        fail_rate, status, retry_after, delay_ms, hang, drop, seed = map(spell, (
            "fail_rate", "status", "retry_after", "delay_ms", "hang", "drop_mid_stream", "seed"))
        checks = [
            (self.fail_rate is not None and not (type(self.fail_rate) in (int, float) and 0 <= self.fail_rate <= 1),
             f"{fail_rate} must be a number from 0 to 1, got {self.fail_rate!r}"),
            (self.status is not None and not (is_int(self.status) and 400 <= self.status <= 599),
             f"{status} must be an HTTP error status from 400 to 599, got {self.status!r}"),
            (self.retry_after is not None and not (is_int(self.retry_after) and self.retry_after >= 0),
             f"{retry_after} must be a whole number of seconds >= 0, got {self.retry_after!r}"),
            (self.retry_after is not None and self.failure_status not in RETRY_AFTER_STATUSES,
             f"{retry_after} is sent with status 429 or 503 only; give {status} 429 or {status} 503 "
             f"(the failure status is {self.failure_status})"),
            (not (is_int(self.delay_ms) and 0 <= self.delay_ms <= MAX_DELAY_MS),
             f"{delay_ms} must be a whole number from 0 to {MAX_DELAY_MS}, got {self.delay_ms!r}"),
            (type(self.hang) is not bool, f"{hang} must be true or false, got {self.hang!r}"),
            (type(self.drop_mid_stream) is not bool, f"{drop} must be true or false, got {self.drop_mid_stream!r}"),
            (self.hang is True and self.drop_mid_stream is True, f"{hang} and {drop} exclude each other: choose one"),
            (not is_int(self.seed), f"{seed} must be an integer, got {self.seed!r}"),
        ]
        for failed, message in checks:
            if failed:
                raise ValueError(message)

    @classmethod
    def from_json(cls, obj: Any) -> "FaultSettings":
        """Settings from a ``/mock/faults`` body; ``{}`` is no fault at all."""
        if not isinstance(obj, dict):
            raise ValueError("POST /mock/faults takes a JSON object, e.g. {\"fail_rate\": 1.0, \"status\": 503}")
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(obj) - known)
        if unknown:
            raise ValueError(f"unknown fault setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        settings = cls(**{k: v for k, v in obj.items() if v is not None})  # null: the default
        settings.validate()
        return settings

    @property
    def failure_status(self) -> int:
        return self.status if self.status is not None else 500

    @property
    def fails_every_request(self) -> bool:
        return self.fail_rate is None and (self.status is not None or self.hang or self.drop_mid_stream)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class FaultState:
    """Live settings and counters of one mock process (used from its event loop only)."""

    name: str = "relayguard-mock"
    settings: FaultSettings = field(default_factory=FaultSettings)
    requests: int = 0
    failed: int = 0
    by_model: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.settings.validate()
        self._rng = random.Random(self.settings.seed)

    def configure(self, settings: FaultSettings) -> None:
        settings.validate()
        self.settings = settings
        self._rng = random.Random(settings.seed)

    def draw(self, model: str | None) -> str | None:
        """Count one model request and say how it fails: "hang", "drop", "status" or None."""
        self.requests += 1
        if model is not None:
            self.by_model[model] = self.by_model.get(model, 0) + 1
        s = self.settings
        if s.fail_rate is not None:
            fails = self._rng.random() < s.fail_rate
        else:
            fails = s.fails_every_request
        if not fails:
            return None
        self.failed += 1
        return "hang" if s.hang else "drop" if s.drop_mid_stream else "status"

    def stats(self) -> dict[str, Any]:
        return {"name": self.name, "requests": self.requests, "by_model": dict(self.by_model),
                "failed": self.failed}

    def reset_stats(self) -> None:
        self.requests, self.failed, self.by_model = 0, 0, {}


async def until_disconnect(receive: Receive) -> None:
    """Never answer: wait until the client gives up and closes the connection."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def send_cut_body(send: Send, body: bytes, extra: list[tuple[bytes, bytes]] | None) -> None:
    """Announce the whole body's length, send half of it, then leave: the server closes the connection."""
    quiet_cut_warnings()
    headers = [(b"content-type", JSON), (b"content-length", str(len(body)).encode()), *(extra or [])]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body[:len(body) // 2], "more_body": True})


class _CutFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "without completing response" not in record.getMessage()


_cut_filter = _CutFilter()


def quiet_cut_warnings() -> None:
    """The server logs an error for every response left incomplete: here that is the point."""
    logger = logging.getLogger("uvicorn.error")
    if _cut_filter not in logger.filters:
        logger.addFilter(_cut_filter)
