"""The gateway through its real interface: processes on 127.0.0.1, HTTP only.

Two or three mock providers (some failing on demand) behind one gateway; a
client with a virtual key; the admin API; failover, weights, cool-down, limits,
budgets, translation between dialects, signed envelopes verified by the guard.
"""

from __future__ import annotations

import concurrent.futures
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import orjson
import pytest

from relayguard.testing import procs
from relayguard.testing.client import PATHS, agent_request, command_of, parse_reply, post_json, request

ADMIN = "test-admin-token-0123456789abcdef"  # fake, test only
ENV = {"RG_TEST_ADMIN": ADMIN, "RG_FAKE_PROVIDER_KEY": "FAKE-provider-key-not-live"}


def write_config(tmp: Path, providers: dict[str, tuple[str, str]], models: dict[str, list[tuple[str, str, float]]],
                 extra: str = "", read_timeout: float = 5) -> str:
    lines = []
    for name, (url, dialect) in providers.items():
        lines += ["[[provider]]", f'name = "{name}"', f'base_url = "{url}"', f'dialect = "{dialect}"',
                  'api_key_env = "RG_FAKE_PROVIDER_KEY"', f"read_timeout = {read_timeout}", ""]
    for name, targets in models.items():
        inline = ", ".join(f'{{ provider = "{p}", model = "{m}", weight = {w} }}' for p, m, w in targets)
        lines += ["[[model]]", f'name = "{name}"', f"targets = [{inline}]", ""]
    lines += ["[admin]", 'token_env = "RG_TEST_ADMIN"', "", "[storage]",
              f'database = "{tmp / "gw.sqlite"}"', f'log = "{tmp / "gw-log.sqlite"}"', "", extra]
    path = tmp / "gateway.toml"
    path.write_text("\n".join(lines))
    return str(path)


def admin(url: str, method: str, path: str, body: Any = None, token: str = ADMIN) -> Any:
    data = orjson.dumps(body) if body is not None else None
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    return request(url, method, path, data, headers)


def new_key(url: str, **limits: Any) -> str:
    reply = admin(url, "POST", "/admin/keys", {"models": None, "rpm": None, "tpm": None, "budget_usd": None, **limits})
    assert reply.status in (200, 201), reply.body
    return reply.json()["key"]


def ask(url: str, key: str, dialect: str = "openai-chat", text: str = "install requests", *, model: str = "coder",
        stream: bool = False, headers: dict[str, str] | None = None, timeout: float = 30.0):  # type: ignore[no-untyped-def]
    auth = {"x-api-key": key, "anthropic-version": "2023-06-01"} if dialect == "anthropic-messages" \
        else {"authorization": f"Bearer {key}"}
    return post_json(url, PATHS[dialect], agent_request(dialect, text, stream, model=model),
                     {**auth, **(headers or {})}, timeout=timeout)


def stats(url: str) -> dict[str, Any]:
    return request(url, "GET", "/mock/stats").json()


def reset(*urls: str) -> None:
    for url in urls:
        request(url, "DELETE", "/mock/stats")
        post_json(url, "/mock/faults", {})


@pytest.fixture(scope="module")
def mocks() -> Iterator[dict[str, str]]:
    servers = {name: procs.start("mock-provider", "--name", name) for name in ("alpha", "beta", "gamma")}
    try:
        yield {name: s.url for name, s in servers.items()}
    finally:
        for s in servers.values():
            s.stop()


@pytest.fixture(scope="module")
def gateway_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("gw")


def main_config(mocks: dict[str, str], tmp: Path) -> str:
    return write_config(
        tmp,
        {"alpha": (mocks["alpha"], "openai-chat"), "beta": (mocks["beta"], "openai-chat"),
         "gamma": (mocks["gamma"] + "/v1", "anthropic-messages")},
        {"coder": [("alpha", "mock-large", 1), ("beta", "mock-large", 0)],
         "weighted": [("alpha", "mock-small", 3), ("beta", "mock-small", 1)],
         "claude": [("gamma", "mock-large", 1)],
         "priced": [("alpha", "mock-large", 1)]},
        extra="[routing]\nretries = 2\nbackoff_ms = 5\ncooldown_seconds = 1\nfailure_threshold = 2\n\n"
              "[[price]]\nmodel = \"mock-large\"\ninput_per_mtok = 1000.0\noutput_per_mtok = 2000.0\n")


@pytest.fixture(scope="module")
def gateway(mocks: dict[str, str], gateway_dir: Path) -> Iterator[str]:
    """One gateway for the tests that do not inject faults (target health carries over)."""
    with procs.start("gateway", "--config", main_config(mocks, gateway_dir), env=ENV) as server:
        yield server.url


@pytest.fixture
def fresh_gateway(mocks: dict[str, str], tmp_path: Path) -> Iterator[str]:
    """A gateway of its own, all targets healthy, for a test that makes providers fail."""
    reset(*mocks.values())
    with procs.start("gateway", "--config", main_config(mocks, tmp_path), env=ENV) as server:
        yield server.url
    reset(*mocks.values())


def test_health_ready_and_metrics(gateway: str) -> None:
    assert request(gateway, "GET", "/healthz").status == 200
    ready = request(gateway, "GET", "/readyz")
    assert ready.status == 200 and ready.json()["ready"] is True
    metrics = request(gateway, "GET", "/metrics")
    assert metrics.status == 200 and b"relayguard_gateway_requests_total" in metrics.body


def test_admin_api_needs_the_admin_token(gateway: str) -> None:
    assert admin(gateway, "POST", "/admin/keys", {"models": None}, token="wrong-token-wrong-token").status == 401
    assert request(gateway, "GET", "/admin/usage").status == 401
    key = new_key(gateway)
    # A virtual key is not an admin token.
    assert admin(gateway, "GET", "/admin/usage", token=key).status == 401
    bad = admin(gateway, "POST", "/admin/keys", {"models": ["no-such-model"]})
    assert bad.status == 400 and b"no-such-model" in bad.body


def test_virtual_keys_missing_revoked_and_scoped(gateway: str, mocks: dict[str, str]) -> None:
    reset(*mocks.values())
    assert post_json(gateway, PATHS["openai-chat"], agent_request("openai-chat", "hi", model="coder")).status == 401
    assert ask(gateway, "rg-not-a-key").status == 401
    scoped = admin(gateway, "POST", "/admin/keys", {"models": ["claude"]}).json()
    refused = ask(gateway, scoped["key"], model="coder")
    assert refused.status == 403 and b"coder" in refused.body
    assert ask(gateway, scoped["key"], "anthropic-messages", model="claude").status == 200
    assert admin(gateway, "DELETE", f"/admin/keys/{scoped['id']}").status == 200
    assert ask(gateway, scoped["key"], "anthropic-messages", model="claude").status == 401
    assert admin(gateway, "DELETE", "/admin/keys/key_doesnotexist").status == 404


def test_provider_keys_reach_the_provider_and_client_keys_do_not(gateway: str, mocks: dict[str, str]) -> None:
    key = new_key(gateway)
    reply = ask(gateway, key)
    assert reply.status == 200
    assert reply.headers["x-relayguard-route"] == "alpha/mock-large"
    assert key.encode() not in reply.body


def test_failover_to_the_next_target_in_order(fresh_gateway: str, mocks: dict[str, str]) -> None:
    reset(*mocks.values())
    key = new_key(fresh_gateway)
    post_json(mocks["alpha"], "/mock/faults", {"status": 503})
    try:
        for dialect in ("openai-chat", "anthropic-messages"):
            reply = ask(fresh_gateway, key, dialect)
            assert reply.status == 200, reply.body
            assert reply.headers["x-relayguard-route"] == "beta/mock-large"
            assert command_of(parse_reply(dialect, reply).tool_calls[0].arguments) == "pip install requests"
    finally:
        reset(*mocks.values())
    assert stats(mocks["alpha"])["requests"] == 0  # reset above; the faults counted there before


def test_all_targets_down_is_a_502_in_the_clients_dialect(fresh_gateway: str, mocks: dict[str, str]) -> None:
    key = new_key(fresh_gateway)
    for name in ("alpha", "beta"):
        post_json(mocks[name], "/mock/faults", {"status": 500})
    try:
        reply = ask(fresh_gateway, key, "anthropic-messages")
        assert reply.status == 502
        err = reply.json()
        assert err["type"] == "error" and "alpha/mock-large" in err["error"]["message"]
    finally:
        reset(*mocks.values())


def test_weights_share_the_load_within_statistical_bounds(gateway: str, mocks: dict[str, str]) -> None:
    reset(*mocks.values())
    key = new_key(gateway)
    n = 240
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        routes = list(pool.map(lambda _: ask(gateway, key, model="weighted").headers["x-relayguard-route"], range(n)))
    share = routes.count("alpha/mock-small") / n
    # expected 0.75; 5 standard deviations at n=240 is 0.14
    assert 0.61 < share < 0.89, share
    assert stats(mocks["alpha"])["requests"] + stats(mocks["beta"])["requests"] == n


def test_no_failover_after_the_stream_started(fresh_gateway: str, mocks: dict[str, str]) -> None:
    reset(*mocks.values())
    key = new_key(fresh_gateway)
    post_json(mocks["alpha"], "/mock/faults", {"drop_mid_stream": True})
    try:
        reply = ask(fresh_gateway, key, text="MOCK_TEXT: " + "a long answer " * 50, stream=True)
        assert reply.status == 200
        events = reply.events()
        assert any(b"relayguard gateway" in e.raw for e in events)  # the in-stream error event
        assert not any(e.data == "[DONE]" for e in events)
        assert stats(mocks["beta"])["requests"] == 0
    finally:
        reset(*mocks.values())


def test_cool_down_then_recovery_probe(fresh_gateway: str, mocks: dict[str, str]) -> None:
    reset(*mocks.values())
    key = new_key(fresh_gateway)
    post_json(mocks["alpha"], "/mock/faults", {"status": 500})
    for _ in range(3):
        assert ask(fresh_gateway, key).headers["x-relayguard-route"] == "beta/mock-large"
    targets = admin(fresh_gateway, "GET", "/admin/targets").json()["targets"]
    assert targets["alpha/mock-large"]["healthy"] is False
    before = stats(mocks["alpha"])["requests"]
    for _ in range(3):  # while cooling, alpha is not tried at all
        assert ask(fresh_gateway, key).headers["x-relayguard-route"] == "beta/mock-large"
    assert stats(mocks["alpha"])["requests"] == before
    post_json(mocks["alpha"], "/mock/faults", {})
    time.sleep(1.3)  # cooldown_seconds = 1
    routes = [ask(fresh_gateway, key).headers["x-relayguard-route"] for _ in range(3)]
    assert "alpha/mock-large" in routes  # the probe went to alpha, succeeded, alpha is back
    assert admin(fresh_gateway, "GET", "/admin/targets").json()["targets"]["alpha/mock-large"]["healthy"] is True
    reset(*mocks.values())


def test_a_hung_provider_times_out_and_fails_over(mocks: dict[str, str], tmp_path: Path) -> None:
    config = write_config(tmp_path, {"alpha": (mocks["alpha"], "openai-chat"), "beta": (mocks["beta"], "openai-chat")},
                          {"coder": [("alpha", "mock-large", 1), ("beta", "mock-large", 0)]}, read_timeout=1)
    reset(*mocks.values())
    post_json(mocks["alpha"], "/mock/faults", {"hang": True})
    try:
        with procs.start("gateway", "--config", config, env=ENV) as gw:
            key = new_key(gw.url)
            for stream in (False, True):
                reply = ask(gw.url, key, stream=stream)
                assert reply.status == 200 and reply.headers["x-relayguard-route"] == "beta/mock-large"
            metrics = request(gw.url, "GET", "/metrics").body.decode()
            assert 'relayguard_gateway_upstream_errors_total{kind="timeout",provider="alpha"}' in metrics \
                or 'relayguard_gateway_upstream_errors_total{kind="dropped",provider="alpha"}' in metrics
    finally:
        reset(*mocks.values())


def test_tpm_limit_counts_the_worst_case_of_a_request(gateway: str) -> None:
    key = new_key(gateway, tpm=100)
    reply = ask(gateway, key)  # ~60 input tokens + up to 1024 output: more than the whole minute's 100
    assert reply.status == 429 and b"tokens/minute" in reply.body and int(reply.headers["retry-after"]) >= 1


def test_rpm_limit_is_a_429_with_retry_after(gateway: str) -> None:
    key = new_key(gateway, rpm=3)
    assert [ask(gateway, key).status for _ in range(3)] == [200, 200, 200]
    reply = ask(gateway, key)
    assert reply.status == 429
    assert int(reply.headers["retry-after"]) >= 1
    assert b"requests/minute" in reply.body or b"rpm" in reply.body


def test_budget_holds_under_concurrency(gateway: str) -> None:
    # mock-large is priced at $1000/$2000 per Mtok here: one request costs ~$0.1-0.3 and is admitted
    # only while spent + in-flight estimates (~$2.3 each: 1024 output tokens assumed) fit the budget;
    # one that would fit once those settle gets 429 + Retry-After, one that cannot fit gets 402.
    budget = 5.0
    key_info = admin(gateway, "POST", "/admin/keys", {"models": ["priced"], "budget_usd": budget}).json()
    key = key_info["key"]
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        replies = list(pool.map(lambda _: ask(gateway, key, model="priced"), range(48)))
    statuses = [r.status for r in replies]
    assert set(statuses) <= {200, 402, 429} and 200 in statuses
    assert all(int(r.headers["retry-after"]) >= 1 for r in replies if r.status == 429)
    for _ in range(60):  # then one at a time until the budget is gone
        late = ask(gateway, key, model="priced")
        if late.status != 200:
            break
    assert late.status == 402 and b"budget" in late.body
    usage = admin(gateway, "GET", "/admin/usage").json()
    mine = next(k for k in usage["keys"] if k["id"] == key_info["id"])
    priced = mine["by_model"]["priced"]
    per_request = priced["cost_usd"] / priced["requests"]
    assert mine["spent_usd"] <= budget + per_request  # never more than one request over
    assert priced["cost_usd"] == pytest.approx(mine["spent_usd"])


def test_usage_and_cost_per_key_and_model(gateway: str) -> None:
    key_info = admin(gateway, "POST", "/admin/keys", {"models": None, "name": "usage-test"}).json()
    for dialect in ("openai-chat", "openai-responses", "anthropic-messages"):
        assert ask(gateway, key_info["key"], dialect, model="priced").status == 200
    usage = admin(gateway, "GET", "/admin/usage").json()
    mine = next(k for k in usage["keys"] if k["id"] == key_info["id"])
    priced = mine["by_model"]["priced"]
    assert priced["requests"] == 3 and priced["input_tokens"] > 0 and priced["output_tokens"] > 0
    assert priced["cost_usd"] == pytest.approx((priced["input_tokens"] * 1000 + priced["output_tokens"] * 2000) / 1e6)
    metrics = request(gateway, "GET", "/metrics").body.decode()
    assert 'relayguard_gateway_upstream_seconds_count{provider="alpha"}' in metrics
    assert 'relayguard_gateway_tokens_total{direction="input",model="priced"}' in metrics
    assert 'relayguard_gateway_cost_usd_total{model="priced"}' in metrics


@pytest.mark.parametrize("client", ["openai-chat", "openai-responses", "anthropic-messages"])
@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("model", ["coder", "claude"])  # chat upstream, anthropic upstream
def test_tool_calls_survive_translation(gateway: str, client: str, stream: bool, model: str) -> None:
    key = new_key(gateway)
    reply = ask(gateway, key, client, "install requests", model=model, stream=stream)
    assert reply.status == 200, reply.body[:500]
    response = parse_reply(client, reply)
    assert [command_of(c.arguments) for c in response.tool_calls] == ["pip install requests"]
    declared = {"openai-chat": "bash", "openai-responses": "shell", "anthropic-messages": "Bash"}[client]
    assert response.tool_calls[0].name == declared and response.tool_calls[0].id
    assert response.usage.input_tokens > 0


def test_signed_envelopes_verified_end_to_end_by_the_guard(mocks: dict[str, str], tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    assert subprocess.run([sys.executable, "-m", "relayguard", "keys", "generate", "--out", str(keys)],
                          capture_output=True).returncode == 0
    config = write_config(tmp_path, {"alpha": (mocks["alpha"], "openai-chat"),
                                     "gamma": (mocks["gamma"], "anthropic-messages")},
                          {"coder": [("alpha", "mock-large", 1)], "claude": [("gamma", "mock-large", 1)]},
                          extra=f'[signing]\nkey = "{keys / "signing.key"}"\n')
    with procs.start("gateway", "--config", config, env=ENV) as gw:
        keyset = request(gw.url, "GET", "/.well-known/relayguard-keys.json")
        assert keyset.status == 200 and keyset.json()["keys"]
        key = new_key(gw.url)
        with procs.start("guard", "--upstream", gw.url, "--trust-keyset", str(keys / "keyset.json"),
                         "--require-envelope", "--no-vault", "--no-log") as guard:
            for client, model in (("openai-chat", "coder"), ("anthropic-messages", "claude"),
                                  ("openai-chat", "claude"), ("openai-responses", "coder")):
                for stream in (False, True):
                    reply = ask(guard.url, key, client, "install requests", model=model, stream=stream)
                    assert reply.status == 200, reply.body[:300]
                    response = parse_reply(client, reply)
                    assert [command_of(c.arguments) for c in response.tool_calls] == ["pip install requests"], \
                        (client, model, stream, response.text)
                    if not stream:
                        assert reply.headers["x-relayguard-verdict"] == "allow"


def test_every_exchange_is_in_a_verifiable_log(gateway: str, gateway_dir: Path) -> None:
    key = new_key(gateway)
    assert ask(gateway, key).status == 200
    time.sleep(0.3)  # the log is written in batches
    out = subprocess.run([sys.executable, "-m", "relayguard", "log", "verify", "--log",
                          str(gateway_dir / "gw-log.sqlite")], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr + out.stdout
    assert "entries" in out.stdout or "entry" in out.stdout


def test_bad_config_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[[provider]]\nname = "x"\nbase_url = "http://127.0.0.1:1"\ndialect = "openai"\n\n'
                    '[admin]\ntoken_env = "RG_TEST_ADMIN"\n')
    out = subprocess.run([sys.executable, "-m", "relayguard", "gateway", "--config", str(path)],
                         capture_output=True, text=True, env={**os.environ, **ENV}, timeout=30)
    assert out.returncode != 0 and out.stdout == ""
    assert "bad.toml:4" in out.stderr and "dialect" in out.stderr
