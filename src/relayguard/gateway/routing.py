"""Which upstream target serves a request, and in which order to fail over.

For a model alias the router returns an attempt plan: a target whose
cool-down just ended goes first (a recovery probe, one request at a time: if
it still fails, the request fails over at once), then one target chosen by
weight among the healthy ones, then the other healthy targets in configured
order, then targets still cooling as a last resort (better a slow answer than
none).

Health is per target (provider + upstream model).  ``failure_threshold``
consecutive failures (connection errors, timeouts, 429, 5xx) cool a target
down for ``cooldown_seconds``, or for as long as a ``Retry-After`` asked; after
that one request probes it (half-open): success makes it healthy again, failure
cools it down once more for twice as long (capped).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Callable, Sequence

MAX_COOLDOWN = 600.0


@dataclass(frozen=True, slots=True)
class Target:
    provider: str
    model: str
    weight: float = 1.0

    @property
    def label(self) -> str:
        return f"{self.provider}/{self.model}"


@dataclass(slots=True)
class Health:
    failures: int = 0  # consecutive
    cooling_until: float = 0.0
    cooldown: float = 0.0  # the last cool-down length (doubles while probes fail)
    probing: bool = False  # a recovery probe is in flight


class Router:
    def __init__(self, models: dict[str, Sequence[Target]], *, failure_threshold: int = 3,
                 cooldown_seconds: float = 30.0, clock: Callable[[], float] = time.monotonic,
                 rng: random.Random | None = None) -> None:
        self.models = {name: tuple(targets) for name, targets in models.items()}
        self.failure_threshold = max(1, failure_threshold)
        self.cooldown_seconds = cooldown_seconds
        self._clock = clock
        self._rng = rng or random.Random()
        self.health: dict[Target, Health] = {t: Health() for ts in self.models.values() for t in ts}

    def plan(self, model: str) -> list[Target]:
        """The targets to try for ``model``, in order (empty for an unknown model)."""
        targets = self.models.get(model, ())
        now = self._clock()
        if len(targets) == 1:
            # The common case, one target: healthy, it is the whole plan; otherwise the general
            # path below decides (a probe, or a last resort while cooling).
            h = self.health[targets[0]]
            if h.cooling_until <= now and not h.probing and not h.cooldown:
                return [targets[0]]
        healthy, probes, cooling = [], [], []
        for t in targets:
            h = self.health[t]
            if h.cooling_until <= now and not h.probing:
                (probes if h.cooldown else healthy).append(t)
            else:
                cooling.append(t)
        plan = []
        if probes:
            # One request at a time probes a target that was cooling; others keep away.
            self.health[probes[0]].probing = True
            plan.append(probes[0])
        weighted = [t for t in healthy if t.weight > 0]
        if len(weighted) == 1:
            plan.append(weighted[0])
        elif weighted:
            plan.append(self._rng.choices(weighted, weights=[t.weight for t in weighted])[0])
        plan += [t for t in healthy if t not in plan]
        plan += probes[1:]
        plan += sorted(cooling, key=lambda t: self.health[t].cooling_until)
        return plan

    def succeeded(self, target: Target) -> None:
        h = self.health.get(target)
        if h is not None:
            h.failures, h.cooling_until, h.cooldown, h.probing = 0, 0.0, 0.0, False

    def failed(self, target: Target, retry_after: float | None = None) -> bool:
        """Record a failure; returns True when the target is now cooling down."""
        h = self.health.get(target)
        if h is None:
            return False
        h.failures += 1
        was_probe, h.probing = h.probing or bool(h.cooldown), False
        if retry_after or was_probe or h.failures >= self.failure_threshold:
            h.cooldown = min(MAX_COOLDOWN, h.cooldown * 2 if was_probe and h.cooldown else self.cooldown_seconds)
            h.cooldown = max(h.cooldown, min(MAX_COOLDOWN, retry_after or 0.0))
            h.cooling_until = self._clock() + h.cooldown
            return True
        return False

    def release_probe(self, target: Target) -> None:
        """A probe that ended without a verdict on the target (the client went away)."""
        h = self.health.get(target)
        if h is not None:
            h.probing = False

    def state(self) -> dict[str, dict[str, object]]:
        """Health per target, for /readyz and the admin API."""
        now = self._clock()
        return {t.label: {"healthy": h.cooling_until <= now, "consecutive_failures": h.failures,
                          "cooling_for_seconds": round(max(0.0, h.cooling_until - now), 1)}
                for t, h in self.health.items()}


def backoff_delay(attempt: int, base_seconds: float, rng: random.Random, retry_after: float | None = None,
                  cap: float = 10.0) -> float:
    """Full-jitter exponential backoff before retry number ``attempt`` (1-based),
    at least what a Retry-After asked for when the same target is tried again."""
    delay = rng.uniform(0.5, 1.5) * base_seconds * (2 ** (attempt - 1))
    if retry_after:
        delay = max(delay, retry_after)
    return min(delay, cap)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(min(int(value), 86400))
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return max(0.0, when - (time.time() if now is None else now))
