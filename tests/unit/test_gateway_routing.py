"""The gateway's router: weighted choice, failover order, cool-down and recovery probes."""

from __future__ import annotations

import random

import pytest

from relayguard.gateway.egress import EgressPolicy, EgressRefused
from relayguard.gateway.routing import Router, Target, backoff_delay, parse_retry_after


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


A, B, C = Target("a", "m1", 3), Target("b", "m2", 1), Target("c", "m3", 0)


def make(clock: Clock | None = None, **kw: object) -> Router:
    return Router({"alias": [A, B, C]}, clock=clock or Clock(), rng=random.Random(7), **kw)  # type: ignore[arg-type]


def test_weights_pick_the_first_target_in_proportion() -> None:
    router = make()
    n = 8000
    firsts = [router.plan("alias")[0] for _ in range(n)]
    share_a = firsts.count(A) / n
    # expected 0.75; 5 standard deviations of a binomial proportion at n=8000 is ~0.024
    assert abs(share_a - 0.75) < 0.025
    assert C not in firsts  # weight 0: never chosen first, only a failover target


def test_failover_order_is_the_rest_in_configured_order() -> None:
    router = make()
    for _ in range(50):
        plan = router.plan("alias")
        assert sorted(plan, key=lambda t: t.provider) == [A, B, C]
        assert [t for t in plan if t != plan[0]] == [t for t in (A, B, C) if t != plan[0]]


def test_unknown_model_has_no_plan() -> None:
    assert make().plan("nope") == []


def test_threshold_failures_cool_a_target_and_it_moves_last() -> None:
    clock = Clock()
    router = make(clock, failure_threshold=2, cooldown_seconds=30)
    assert router.failed(A) is False  # one failure is not enough
    assert router.failed(A) is True
    for _ in range(20):
        assert router.plan("alias")[-1] == A  # cooling: last resort only
    assert router.state()["a/m1"]["healthy"] is False


def test_a_single_target_goes_through_cooling_and_one_probe_like_many() -> None:
    clock = Clock()
    router = Router({"solo": [A]}, clock=clock, failure_threshold=1, cooldown_seconds=30)
    assert router.plan("solo") == [A]
    assert router.failed(A) is True
    assert router.plan("solo") == [A]  # cooling: still tried, as the last resort
    assert router.state()["a/m1"]["healthy"] is False
    clock.now += 31
    assert router.plan("solo") == [A]  # the recovery probe...
    assert router.health[A].probing is True  # ...marked as one, so its failure doubles the cool-down
    router.failed(A)
    assert router.health[A].cooldown == 60
    clock.now += 61
    router.plan("solo")
    router.succeeded(A)
    assert router.plan("solo") == [A] and router.state()["a/m1"]["healthy"] is True
    assert router.health[A].probing is False


def test_success_resets_the_failure_count() -> None:
    router = make(failure_threshold=2)
    router.failed(A)
    router.succeeded(A)
    assert router.failed(A) is False


def test_retry_after_cools_at_once_for_at_least_that_long() -> None:
    clock = Clock()
    router = make(clock, failure_threshold=5, cooldown_seconds=1)
    assert router.failed(B, retry_after=120) is True
    clock.now += 100
    assert router.plan("alias")[-1] == B
    clock.now += 21
    assert router.plan("alias") == [B, A, C]  # cool-down over: the next request probes it first
    assert router.plan("alias")[-1] == B  # one probe at a time
    router.succeeded(B)
    assert router.state()["b/m2"]["healthy"] is True


def test_recovery_probe_is_one_request_then_healthy_again() -> None:
    clock = Clock()
    router = make(clock, failure_threshold=1, cooldown_seconds=30)
    router.failed(A)
    clock.now += 31
    assert router.plan("alias")[0] == A  # the probe
    # While the probe is in flight, others do not pile onto A.
    assert router.plan("alias")[-1] == A
    router.succeeded(A)
    assert router.state()["a/m1"]["healthy"] is True
    assert any(router.plan("alias")[0] == A for _ in range(40))


def test_failed_probe_cools_down_twice_as_long() -> None:
    clock = Clock()
    router = make(clock, failure_threshold=1, cooldown_seconds=30)
    router.failed(A)
    clock.now += 31
    router.plan("alias")
    router.failed(A)
    clock.now += 31
    assert router.state()["a/m1"]["healthy"] is False  # 60 s this time
    clock.now += 30
    assert router.state()["a/m1"]["healthy"] is True


def test_backoff_is_jittered_exponential_and_honours_retry_after() -> None:
    rng = random.Random(1)
    first = [backoff_delay(1, 0.1, rng) for _ in range(200)]
    third = [backoff_delay(3, 0.1, rng) for _ in range(200)]
    assert 0.05 <= min(first) and max(first) <= 0.15 and len(set(first)) > 100
    assert 0.2 <= min(third) and max(third) <= 0.6
    assert backoff_delay(1, 0.1, rng, retry_after=3) == 3
    assert backoff_delay(1, 0.1, rng, retry_after=3600) == 10  # capped: fail over instead of waiting an hour


@pytest.mark.parametrize("value,expected", [("7", 7.0), (" 12 ", 12.0), ("", None), ("soon", None), (None, None)])
def test_parse_retry_after_seconds(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value) == expected


def test_parse_retry_after_http_date() -> None:
    now = 1_700_000_000.0
    assert parse_retry_after("Tue, 14 Nov 2023 22:13:40 GMT", now=now) == pytest.approx(20.0)


def test_egress_allows_configured_providers_only() -> None:
    refused: list[str] = []
    allowed = {("127.0.0.1", 8080), ("api.example.com", 443)}
    policy = EgressPolicy(lambda host, port: (host, port) in allowed or host == "proxy.internal",
                          on_refused=refused.append)
    policy.check("http://127.0.0.1:8080/v1/chat/completions")
    policy.check("https://api.example.com/v1/messages")
    policy.check("http://proxy.internal:3128/x")
    for url in ("http://127.0.0.1:8081/v1/x", "https://evil.example.net/", "http://api.example.com/v1/x",
                "https://api.example.com.evil.net/"):
        with pytest.raises(EgressRefused, match="refused to connect"):
            policy.check(url)
    assert refused == ["127.0.0.1:8081", "evil.example.net:443", "api.example.com:80", "api.example.com.evil.net:443"]
