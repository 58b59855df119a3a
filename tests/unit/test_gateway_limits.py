"""Per key rpm, tpm and budget limits, alone and under concurrency, and the price table that
turns tokens into the cost budgets count."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from relayguard.errors import ClientError
from relayguard.gateway.keys import KeyStore
from relayguard.gateway.limits import LimitExceeded, Limiter
from relayguard.gateway.prices import DEFAULT_OUTPUT_TOKENS, PriceTable


@dataclass(frozen=True)
class Key:
    id: str = "key_test"
    prefix: str = "rg-ab12"
    rpm: int | None = None
    tpm: int | None = None
    budget_usd: float | None = None


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def tick(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


def refused(limiter: Limiter, key: Key, tokens: int = 0, cost: float = 0.0) -> LimitExceeded:
    with pytest.raises(LimitExceeded) as info:
        limiter.admit(key, tokens, cost)
    return info.value


# -- rpm ----------------------------------------------------------------------------------------

def test_rpm_is_a_sliding_window() -> None:
    clock = Clock()
    limiter = Limiter(clock)
    key = Key(rpm=3)
    for _ in range(3):
        limiter.admit(key, 0, 0.0)
        clock.tick(10)
    err = refused(limiter, key)  # t = 30: three in the last minute
    assert isinstance(err, ClientError) and err.status == 429 and err.limit == "rpm"
    assert err.retry_after == 30
    assert str(err) == "virtual key rg-ab12… is over its 3 requests/minute limit; retry in 30 s"
    clock.tick(29.5)
    assert refused(limiter, key).retry_after == 1  # never 0
    clock.tick(0.5)  # t = 60: the first admission has left the window
    limiter.admit(key, 0, 0.0)
    assert refused(limiter, key).retry_after == 10


def test_refusals_and_failed_requests_do_not_free_rpm() -> None:
    clock = Clock()
    limiter = Limiter(clock)
    key = Key(rpm=2)
    a = limiter.admit(key, 0, 0.0)
    limiter.settle(a, 0, 0.0)  # the upstream failed: still a request
    limiter.admit(key, 0, 0.0)
    for _ in range(5):
        refused(limiter, key)
    clock.tick(60)
    limiter.admit(key, 0, 0.0)


def test_keys_are_limited_separately_and_unlimited_keys_always_pass() -> None:
    limiter = Limiter(Clock())
    limiter.admit(Key(id="a", rpm=1), 0, 0.0)
    limiter.admit(Key(id="b", rpm=1), 0, 0.0)
    refused(limiter, Key(id="a", rpm=1))
    for _ in range(1000):
        limiter.settle(limiter.admit(Key(id="free"), 10**6, 10.0), 10**6, 10.0)


# -- tpm ----------------------------------------------------------------------------------------

def test_tpm_counts_estimates_in_flight_then_actual_tokens() -> None:
    clock = Clock()
    limiter = Limiter(clock)
    key = Key(tpm=1000)
    first = limiter.admit(key, 600, 0.0)
    err = refused(limiter, key, 500)  # 600 in flight + 500 > 1000
    assert err.status == 429 and err.limit == "tpm" and err.retry_after == 60
    assert str(err) == ("virtual key rg-ab12… is over its 1000 tokens/minute limit (600 in the last minute, "
                        "this request about 500); retry in 60 s")
    limiter.settle(first, 200, 0.0)  # it used far less than estimated
    clock.tick(15)
    second = limiter.admit(key, 500, 0.0)
    err = refused(limiter, key, 400)  # 700 in the window: the first must leave
    assert err.retry_after == 45
    limiter.settle(second, 500, 0.0)
    limiter.settle(second, 0, 0.0)  # settling twice changes nothing
    refused(limiter, key, 400)
    clock.tick(45)
    limiter.admit(key, 400, 0.0)


def test_a_request_larger_than_the_whole_tpm_limit_says_so() -> None:
    err = refused(Limiter(Clock()), Key(tpm=1000), 5000)
    assert err.status == 429
    assert "needs about 5000 tokens (input and max output), more than its whole 1000 tokens/minute limit; " \
           "lower max_tokens" in str(err)


# -- budget -------------------------------------------------------------------------------------

def test_budget_refuses_with_402_naming_spent_and_budget() -> None:
    limiter = Limiter(Clock())
    key = Key(budget_usd=1.0)
    a = limiter.admit(key, 0, 0.6)
    err = refused(limiter, key, 0, 0.6)  # 0.6 reserved + 0.6 > 1.0, but 0.6 alone fits: not now, later
    assert err.status == 429 and err.limit == "budget" and err.retry_after == 1
    assert "reserved by requests in flight" in str(err) and "$0.6000" in str(err)
    err = refused(limiter, key, 0, 1.2)  # could never fit
    assert err.status == 402 and err.retry_after is None
    assert "budget too low for this request" in str(err)
    limiter.settle(a, 0, 0.9)
    err = refused(limiter, key, 0, 0.2)
    assert str(err) == ("virtual key rg-ab12…: budget too low for this request: it has spent $0.9000 of its $1.00 "
                        "budget and this request could cost up to $0.2000 (lower max_tokens to ask for less); "
                        "ask the gateway's admin for more budget")
    limiter.settle(limiter.admit(key, 0, 0.1), 0, 0.1)
    err = refused(limiter, key, 0, 0.0001)
    assert str(err).startswith("virtual key rg-ab12…: budget exhausted: it has spent $1.0000 of its $1.00 budget")


def test_budget_uses_the_key_stores_spend_which_survives_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "gateway.sqlite"
    store = KeyStore(db)
    info, _ = store.create(None, None, None, 0.05)
    limiter = Limiter(Clock(), spent=store.spent_usd)
    adm = limiter.admit(info, 100, 0.03)
    store.record(info.id, "mock-large", 80, 20, 0.03)  # the gateway records, then settles
    limiter.settle(adm, 100, 0.03)
    store.close()
    store = KeyStore(db)
    try:
        limiter = Limiter(Clock(), spent=store.spent_usd)  # a restarted gateway
        limiter.admit(info, 10, 0.02)
        err = refused(limiter, info, 10, 0.01)  # fits only once the one in flight settles
        assert err.status == 429 and "spent $0.0300 (+$0.0200 reserved by requests in flight)" in str(err)
        err = refused(limiter, info, 10, 0.021)  # 0.03 spent + 0.021 > 0.05: never
        assert err.status == 402 and "it has spent $0.0300" in str(err)
    finally:
        store.close()


def _spend_concurrently_with_threads(store: KeyStore, limiter: Limiter, info, costs: list[float]) -> int:
    refusals = []
    gate = threading.Barrier(8)

    def client(n: int) -> None:
        rng = random.Random(n)
        gate.wait(timeout=60)
        for _ in range(200):
            estimate = rng.choice(costs)
            try:
                adm = limiter.admit(info, 100, estimate)
            except LimitExceeded as exc:
                assert exc.status in (402, 429) and exc.limit == "budget"
                refusals.append(1)
                continue
            time.sleep(0)  # let the other threads admit while this request is in flight
            actual = estimate * rng.uniform(0.5, 1.0)  # answers cost at most their estimate
            store.record(info.id, "mock-large", 60, 40, actual)
            limiter.settle(adm, 100, actual)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return len(refusals)


def test_concurrent_threads_never_overspend_the_budget(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "gateway.sqlite")
    try:
        info, _ = store.create(None, None, None, 2.0)
        costs = [0.01, 0.05, 0.2]
        refusals = _spend_concurrently_with_threads(store, Limiter(spent=store.spent_usd), info, costs)
        spent = store.spent_usd(info.id)
        assert refusals > 0  # the budget was reached, so the bound below was tested
        assert spent <= 2.0 + max(costs)
        assert spent > 2.0 - 2 * max(costs)  # and the budget was not refused early either
    finally:
        store.close()


def test_interleaved_asyncio_tasks_never_overspend_the_budget() -> None:
    limiter = Limiter(Clock())  # no store: the limiter keeps the settled spend itself
    key = Key(budget_usd=1.0)
    spent = 0.0
    refusals = 0

    async def request(rng: random.Random) -> None:
        nonlocal spent, refusals
        estimate = rng.choice([0.01, 0.03, 0.1])
        try:
            adm = limiter.admit(key, 0, estimate)
        except LimitExceeded:
            refusals += 1
            return
        for _ in range(rng.randint(0, 3)):
            await asyncio.sleep(0)  # other tasks admit and settle meanwhile
        actual = estimate * rng.uniform(0.2, 1.0)
        spent += actual
        limiter.settle(adm, 0, actual)

    async def main() -> None:
        rng = random.Random(3)
        await asyncio.wait_for(asyncio.gather(*(request(rng) for _ in range(400))), timeout=120)

    asyncio.run(main())
    assert refusals > 0
    assert spent <= 1.0 + 0.1


def test_concurrent_threads_never_pass_rpm_in_any_window() -> None:
    clock = Clock()
    limiter = Limiter(clock)
    key = Key(rpm=10)
    admitted: list[float] = []
    lock = threading.Lock()

    def client(n: int) -> None:
        rng = random.Random(n)
        for _ in range(300):
            clock.tick(rng.uniform(0.0, 0.2))
            try:
                adm = limiter.admit(key, 0, 0.0)
            except LimitExceeded as exc:
                assert exc.status == 429 and exc.retry_after >= 1
                continue
            with lock:
                admitted.append(adm.at)
            limiter.settle(adm, 0, 0.0)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    admitted.sort()
    assert len(admitted) > 10  # the window moved on and let more in
    for i, start in enumerate(admitted):
        in_window = sum(1 for t in admitted[i:] if t < start + 60)
        assert in_window <= 10


# -- prices -------------------------------------------------------------------------------------

def test_the_bundled_price_table_is_dated_and_prices_the_mock_models() -> None:
    table = PriceTable.load()
    assert table.as_of == "2026-11-01"
    for model in ("mock-large", "mock-small", "gpt-4o", "claude-sonnet-4-5"):
        assert table.cost(model, 1000, 1000) > 0
    assert table.cost("mock-small", 1_000_000, 1_000_000) == 3.0
    assert table.cost("gpt-4o", 1_000_000, 0) == 2.5


def test_unknown_models_have_no_price() -> None:
    table = PriceTable.load()
    assert table.cost("gpt-4o-2099-01-01", 1, 1) is None  # no guessing from a near name
    assert table.estimate("local-llama", 400, 50) == (150, None)


def test_overrides_replace_and_add() -> None:
    table = PriceTable.load([{"model": "gpt-4o", "input_per_mtok": 1.0, "output_per_mtok": 1.0},
                             {"model": "local-llama", "input_per_mtok": 0, "output_per_mtok": 0}])
    assert table.cost("gpt-4o", 500_000, 500_000) == 1.0
    assert table.cost("local-llama", 10**6, 10**6) == 0.0
    assert PriceTable.load().cost("gpt-4o", 500_000, 500_000) == 6.25  # the bundled table is untouched


def test_estimates_reserve_input_by_size_and_the_max_output() -> None:
    table = PriceTable.load()
    assert table.estimate("mock-small", 4000, 500) == (1500, (1000 * 1.0 + 500 * 2.0) / 1e6)
    tokens, cost = table.estimate("mock-small", 10, None)
    assert tokens == 3 + DEFAULT_OUTPUT_TOKENS == 1027
    assert cost == pytest.approx((3 * 1.0 + 1024 * 2.0) / 1e6)
