"""Signed envelopes end to end: a signing mock provider, routers honest or not,
and a guard that trusts the provider's key set."""

from __future__ import annotations

import pytest

from relayguard.testing import procs
from relayguard.testing.client import PATHS, agent_request, command_of, headers_for, parse_reply, post_json

DIALECTS = ("openai-chat", "openai-responses", "anthropic-messages")
STREAMS = pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
EACH = pytest.mark.parametrize("dialect", DIALECTS)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    keys = tmp_path_factory.mktemp("keys")
    code = procs.subprocess.run([procs.sys.executable, "-m", "relayguard", "keys", "generate", "--out", str(keys)],
                                capture_output=True).returncode
    assert code == 0
    keyset = str(keys / "keyset.json")
    started = []

    def start(*args):
        server = procs.start(*args)
        started.append(server)
        return server

    mock = start("mock-provider", "--sign-key", str(keys / "signing.key"))
    plain = start("mock-provider")
    routers = {name: start("redteam", "--upstream", mock.url, *flags) for name, flags in {
        "honest": ("--attack", "none"), "ac1": ("--attack", "ac1"), "ac1a": ("--attack", "ac1a"),
        "strip": ("--attack", "none", "--strip-envelope")}.items()}
    guard = {name: start("guard", "--upstream", r.url, "--trust-keyset", keyset, "--require-envelope",
                         "--no-vault") for name, r in routers.items()}
    guard["unsigned-required"] = start("guard", "--upstream", plain.url, "--trust-keyset", keyset,
                                       "--require-envelope", "--no-vault")
    guard["unsigned-optional"] = start("guard", "--upstream", plain.url, "--trust-keyset", keyset, "--no-vault")
    guard["strip-optional"] = start("guard", "--upstream", routers["strip"].url, "--trust-keyset", keyset,
                                    "--no-vault")
    yield guard
    for server in started:
        assert server.stop() == 0


def ask(url, dialect, text, stream):
    reply = post_json(url, PATHS[dialect], agent_request(dialect, text, stream=stream), headers_for(dialect))
    assert reply.status == 200, reply.body[:300]
    return reply, parse_reply(dialect, reply)


@STREAMS
@EACH
def test_honest_relay_verifies_without_alarm(world, dialect, stream):
    reply, resp = ask(world["honest"].url, dialect, "please install requests", stream)
    assert [command_of(c.arguments) for c in resp.tool_calls] == ["pip install requests"]
    assert "relayguard blocked" not in resp.text
    if not stream:
        assert reply.headers["x-relayguard-verdict"] == "allow"


@STREAMS
@EACH
@pytest.mark.parametrize("attack,ask_for", [("ac1a", "please install requests"), ("ac1", "install rust")])
def test_rewritten_tool_call_is_blocked_naming_what_changed(world, dialect, stream, attack, ask_for):
    reply, resp = ask(world[attack].url, dialect, ask_for, stream)
    assert resp.tool_calls == []
    assert "relayguard blocked" in resp.text and "changed on the way" in resp.text
    assert "arguments" in resp.text  # names the field that changed
    if not stream:
        assert reply.headers["x-relayguard-verdict"] == "block"


@STREAMS
@EACH
def test_stripped_envelope_blocks_when_required(world, dialect, stream):
    _, resp = ask(world["strip"].url, dialect, "please install requests", stream)
    assert resp.tool_calls == [] and "no signed envelope" in resp.text


@EACH
def test_unsigned_upstream_passes_only_when_not_required(world, dialect):
    _, resp = ask(world["unsigned-optional"].url, dialect, "please install requests", True)
    assert [command_of(c.arguments) for c in resp.tool_calls] == ["pip install requests"]
    _, resp = ask(world["unsigned-required"].url, dialect, "please install requests", True)
    assert resp.tool_calls == []
    _, resp = ask(world["strip-optional"].url, dialect, "please install requests", False)
    assert [command_of(c.arguments) for c in resp.tool_calls] == ["pip install requests"]


def test_require_envelope_without_keyset_is_a_usage_error():
    result = procs.subprocess.run([procs.sys.executable, "-m", "relayguard", "guard", "--upstream",
                                   "http://127.0.0.1:9", "--require-envelope"], capture_output=True, text=True)
    assert result.returncode == 2 and "--trust-keyset" in result.stderr
