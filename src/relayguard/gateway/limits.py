"""Per virtual key limits: requests per minute, tokens per minute, and a budget in USD.

``admit(key, estimated_tokens, estimated_cost)`` decides before a request goes upstream and
either returns an ``Admission`` or raises ``LimitExceeded`` (429 with ``retry_after`` for rpm
and tpm, 402 for the budget).  ``settle(admission, actual_tokens, actual_cost)`` runs when the
request is over, whatever happened; it is idempotent, so a ``finally`` may call it.

- rpm: requests admitted in the last 60 s (a sliding window of admission times).
- tpm: tokens of the requests admitted in the last 60 s; a request counts its estimate while in
  flight and its actual figure once settled.
- budget: ``spent + reserved + estimated_cost > budget`` refuses.  ``reserved`` is the sum of
  the estimates of the key's requests in flight, so concurrent requests cannot all pass a check
  made against the same ``spent``.

Spend has one record, the KeyStore (``Limiter(spent=store.spent_usd)``).  The gateway, when a
request ends, first ``store.record(...)``s its cost and then ``settle``s the admission, which
releases the reservation: at every moment the cost is counted at least once (briefly twice),
never not at all.  Without a ``spent`` function (tests, tools) the limiter keeps the settled
costs itself, in memory only: a restart would forget them, so the gateway must pass one.

The guarantee: whatever the interleaving of admits and settles, a key's total actual spend
never exceeds its budget by more than one request's cost, provided no request costs more than
its estimate (prices.py: the estimate takes the request's max tokens, so the gateway caps
output at it); and no 60 s window (half-open) ever holds more than rpm admissions.

All state is in memory behind one lock; ``admit`` and ``settle`` are O(1) amortised: each
admission enters and leaves its deques once.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

from relayguard.errors import ClientError

WINDOW = 60.0
_EPSILON_USD = 1e-9  # float sums of many costs drift; never refuse over a rounding error


class LimitExceeded(ClientError):
    """Over a limit: ``status`` 429 (rpm, tpm; ``retry_after`` seconds >= 1) or 402 (budget)."""

    status = 429

    def __init__(self, message: str, *, status: int, limit: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.limit = limit  # "rpm" | "tpm" | "budget"
        self.retry_after = retry_after


class _Tokens:
    """One admission's entry in the tpm window."""

    __slots__ = ("at", "tokens", "in_window")

    def __init__(self, at: float, tokens: int) -> None:
        self.at = at
        self.tokens = tokens
        self.in_window = True


@dataclass(eq=False)
class Admission:
    key_id: str
    at: float  # the limiter's clock at admission
    tokens: int  # the estimate admitted
    cost: float  # the estimate reserved against the budget (0.0 when the key has none)
    _window_entry: _Tokens | None = field(default=None, repr=False)
    _reserved: bool = field(default=False, repr=False)
    settled: bool = False


class _KeyState:
    __slots__ = ("requests", "tokens", "token_sum", "reserved", "in_flight", "own_spent")

    def __init__(self) -> None:
        self.requests: deque[float] = deque()  # admission times, oldest first
        self.tokens: deque[_Tokens] = deque()
        self.token_sum = 0  # tokens of the entries in the window
        self.reserved = 0.0  # estimated cost of budgeted requests in flight
        self.in_flight = 0
        self.own_spent = 0.0


class Limiter:
    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 spent: Callable[[str], float] | None = None) -> None:
        self._clock = clock
        self._spent = spent
        self._lock = threading.Lock()
        self._state: dict[str, _KeyState] = {}

    def admit(self, key: Any, estimated_tokens: int, estimated_cost: float) -> Admission:
        """Admit a request for ``key`` (a KeyInfo: id, prefix, rpm, tpm, budget_usd) or raise
        LimitExceeded.  Checks all limits before changing anything."""
        tokens = max(0, int(estimated_tokens))
        cost = max(0.0, float(estimated_cost or 0.0))
        rpm, tpm, budget = key.rpm, key.tpm, key.budget_usd
        if rpm is None and tpm is None and budget is None:
            return Admission(key.id, self._clock(), tokens, 0.0)
        with self._lock:
            now = self._clock()
            st = self._state.get(key.id)
            if st is None:
                st = self._state[key.id] = _KeyState()
            self._expire(st, now)
            if budget is not None:
                self._check_budget(key, st, cost)
            if rpm is not None and len(st.requests) >= rpm:
                wait = st.requests[-rpm] + WINDOW - now  # when the rpm-th newest leaves the window
                raise LimitExceeded(f"virtual key {_who(key)} is over its {rpm} requests/minute limit; "
                                    f"retry in {_seconds(wait)} s", status=429, limit="rpm",
                                    retry_after=_seconds(wait))
            if tpm is not None and st.token_sum + tokens > tpm:
                raise self._over_tpm(key, st, tokens, now)
            if rpm is not None:
                st.requests.append(now)
            entry = None
            if tpm is not None:
                entry = _Tokens(now, tokens)
                st.tokens.append(entry)
                st.token_sum += tokens
            if budget is not None:
                st.reserved += cost
                st.in_flight += 1
            return Admission(key.id, now, tokens, cost if budget is not None else 0.0, entry, budget is not None)

    def settle(self, admission: Admission, actual_tokens: int, actual_cost: float) -> None:
        """The request is over: its window entry takes the actual token count and its budget
        reservation is released.  Record the cost in the KeyStore before calling this."""
        with self._lock:
            if admission.settled:
                return
            admission.settled = True
            st = self._state.get(admission.key_id)
            if st is None:
                return
            entry = admission._window_entry
            if entry is not None and entry.in_window:
                actual = max(0, int(actual_tokens))
                st.token_sum += actual - entry.tokens
                entry.tokens = actual
            if admission._reserved:
                st.in_flight -= 1
                st.reserved = st.reserved - admission.cost if st.in_flight else 0.0  # no drift at rest
                if self._spent is None:
                    st.own_spent += max(0.0, float(actual_cost or 0.0))

    def forget(self, key_id: str) -> None:
        """Drop a key's state (after revocation)."""
        with self._lock:
            self._state.pop(key_id, None)

    # -- internals ----------------------------------------------------------------------------

    @staticmethod
    def _expire(st: _KeyState, now: float) -> None:
        horizon = now - WINDOW
        while st.requests and st.requests[0] <= horizon:
            st.requests.popleft()
        while st.tokens and st.tokens[0].at <= horizon:
            old = st.tokens.popleft()
            old.in_window = False
            st.token_sum -= old.tokens

    def _check_budget(self, key: Any, st: _KeyState, cost: float) -> None:
        budget = float(key.budget_usd)
        spent = self._spent(key.id) if self._spent is not None else st.own_spent
        if spent + st.reserved + cost <= budget + _EPSILON_USD:
            return
        in_flight = f" (+${st.reserved:.4f} reserved by requests in flight)" if st.reserved else ""
        if spent + cost <= budget + _EPSILON_USD:
            # It fits once the requests in flight settle (their estimates are worst cases): not
            # "exhausted", just not now.
            raise LimitExceeded(f"virtual key {_who(key)}: the rest of its ${budget:.2f} budget is reserved by "
                                f"requests in flight (spent ${spent:.4f}{in_flight}); retry in 1 s",
                                status=429, limit="budget", retry_after=1)
        if spent + st.reserved >= budget:
            why = f"budget exhausted: it has spent ${spent:.4f}{in_flight} of its ${budget:.2f} budget"
        else:
            why = (f"budget too low for this request: it has spent ${spent:.4f}{in_flight} of its "
                   f"${budget:.2f} budget and this request could cost up to ${cost:.4f} (lower max_tokens "
                   f"to ask for less)")
        raise LimitExceeded(f"virtual key {_who(key)}: {why}; ask the gateway's admin for more budget",
                            status=402, limit="budget")

    @staticmethod
    def _over_tpm(key: Any, st: _KeyState, tokens: int, now: float) -> LimitExceeded:
        tpm = key.tpm
        if tokens > tpm:
            return LimitExceeded(f"virtual key {_who(key)}: this request needs about {tokens} tokens (input and "
                                 f"max output), more than its whole {tpm} tokens/minute limit; lower max_tokens "
                                 f"or shorten the request", status=429, limit="tpm", retry_after=int(WINDOW))
        # the wait until enough of the window's tokens have left it (only on refusal, bounded by the window)
        excess, wait = st.token_sum + tokens - tpm, WINDOW
        for entry in st.tokens:
            excess -= entry.tokens
            if excess <= 0:
                wait = entry.at + WINDOW - now
                break
        return LimitExceeded(f"virtual key {_who(key)} is over its {tpm} tokens/minute limit ({st.token_sum} "
                             f"in the last minute, this request about {tokens}); retry in {_seconds(wait)} s",
                             status=429, limit="tpm", retry_after=_seconds(wait))


def _who(key: Any) -> str:
    prefix = getattr(key, "prefix", None)
    return f"{prefix}…" if prefix else str(key.id)


def _seconds(wait: float) -> int:
    return max(1, math.ceil(wait))
