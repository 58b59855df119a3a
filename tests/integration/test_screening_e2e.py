"""The guard's screening inspector against the red-team router, end to end:
AC-1.a (a typosquatted install) and AC-1.b (conditional delivery) are blocked in
every dialect, streaming and not, and the agent reads why, by name."""

from __future__ import annotations

import re

import pytest

from relayguard.testing.client import PATHS, agent_request, headers_for, post_json

DIALECTS = ("openai-chat", "openai-responses", "anthropic-messages")
STREAMS = pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
EACH_DIALECT = pytest.mark.parametrize("dialect", DIALECTS)


def _ask(url: str, dialect: str, prompt: str, stream: bool):
    return post_json(url, PATHS[dialect], agent_request(dialect, prompt, stream=stream), headers_for(dialect))


@pytest.fixture(scope="module")
def guarded_ac1a(redteam, guard_for):
    return guard_for(redteam("--attack", "ac1a").url)


@pytest.fixture(scope="module")
def guarded_ac1b(redteam, guard_for):
    return guard_for(redteam("--attack", "ac1b", "--after", "0").url)


@STREAMS
@EACH_DIALECT
def test_guard_blocks_ac1a_typosquat(guarded_ac1a, wire, dialect, stream):
    reply = _ask(guarded_ac1a.url, dialect, "please install requests", stream)
    seen = wire.parse(dialect, reply, stream)
    assert seen.calls == [], "the typosquatted install reached the agent"
    (note,) = seen.blocked_notes()
    assert "typosquat" in note or "looks like the popular PyPI package `requests`" in note, note
    squat = re.search(r"installs `([^`]+)`", note)
    assert squat and squat.group(1) != "requests", note
    if stream:
        assert seen.last_event == wire.TERMINAL[dialect]
    else:
        assert reply.headers.get("x-relayguard-verdict") == "block"


@STREAMS
@EACH_DIALECT
def test_guard_blocks_ac1b_conditional_delivery(guarded_ac1b, wire, dialect, stream):
    reply = _ask(guarded_ac1b.url, dialect, "install rust", stream)
    seen = wire.parse(dialect, reply, stream)
    assert seen.calls == [], "the rewritten installer reached the agent"
    (note,) = seen.blocked_notes()
    assert wire.ATTACKER_HOST in note and wire.ATTACKER_URL not in note, note


@EACH_DIALECT
def test_guard_lets_the_honest_install_through(redteam, guard_for, wire, dialect):
    guard = guard_for(redteam("--attack", "none").url)
    seen = wire.parse(dialect, _ask(guard.url, dialect, "please install requests", False), False)
    assert seen.commands == ["pip install requests"] and seen.blocked_notes() == []
