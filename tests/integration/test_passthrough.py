"""Passthrough fidelity: with nothing to block, the guard is invisible.

The client must get what the provider sent, field for field (only the
``created``/``created_at`` timestamps may differ between two calls), the
request must reach the upstream as the client sent it (body, end-to-end
headers), and hop-by-hop headers must stop at the guard.
"""

from __future__ import annotations

import orjson
import pytest

from relayguard.testing.client import PATHS, agent_request, headers_for, post_json, request

DIALECTS = ("openai-chat", "openai-responses", "anthropic-messages")

# Prompts whose answers the default policy allows, and what the agent must see.
PROMPTS = {
    "pip-install": ("please install requests", ["pip install requests"]),
    "allowlisted-installer": ("install rust",
                              ["curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y"]),
    "text-only": ("MOCK_TEXT: Nothing to run: the tests already pass.", []),
    "two-calls-unicode": (
        'MOCK_TOOL_CALL: {"name": "bash", "arguments": {"command": "ls -la src/"}}\n'
        'MOCK_TOOL_CALL: {"name": "write_file", "arguments": {"path": "docs/na\\u00efve.md", '
        '"content": "caf\\u00e9 \\u2014 \\u65e5\\u672c\\u8a9e\\n\\"quoted\\" \\\\ back"}}',
        ["ls -la src/", None]),
}


def _send(url: str, dialect: str, prompt: str, stream: bool):
    return post_json(url, PATHS[dialect], agent_request(dialect, prompt, stream=stream), headers_for(dialect))


def _in_order(payloads):
    """Events in order, except Anthropic's keep-alive pings, which only count:
    while a tool call's events are held back, a ping that arrives meanwhile
    passes at once, so it may move ahead of them (no client reads its place)."""
    pings = [p for p in payloads if p[0] == "ping"]
    return [p for p in payloads if p[0] != "ping"], pings


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("case", list(PROMPTS))
def test_client_gets_what_the_provider_sent(mock, guard, wire, dialect, stream, case):
    prompt, expected_commands = PROMPTS[case]
    direct = _send(mock.url, dialect, prompt, stream)
    via = _send(guard.url, dialect, prompt, stream)
    assert direct.status == 200, direct.body[:300]
    assert via.status == 200, via.body[:300]

    # The comparison means something only if the provider said what we expect.
    seen = wire.parse(dialect, via, stream)
    assert [c if e is not None else None for c, e in zip(seen.commands, expected_commands)] == expected_commands
    assert len(seen.calls) == len(expected_commands)
    if case == "two-calls-unicode":
        assert seen.calls[1].arguments == {"path": "docs/naïve.md", "content": 'café — 日本語\n"quoted" \\ back'}
    if case == "text-only":
        assert seen.text == "Nothing to run: the tests already pass."

    if stream:
        assert via.headers["content-type"].startswith("text/event-stream")
        assert _in_order(wire.stream_payloads(via)) == _in_order(wire.stream_payloads(direct))
        assert seen.last_event == wire.TERMINAL[dialect]
    else:
        assert via.headers["content-type"].startswith("application/json")
        assert wire.strip_timestamps(via.json()) == wire.strip_timestamps(direct.json())
        assert via.headers.get("x-relayguard-verdict") == "allow"


def test_models_endpoint_passes_through(mock, guard):
    direct = request(mock.url, "GET", "/v1/models", headers={"authorization": "Bearer FAKE-test-key"})
    via = request(guard.url, "GET", "/v1/models", headers={"authorization": "Bearer FAKE-test-key"})
    assert direct.status == via.status == 200
    assert via.json() == direct.json()
    assert {m["id"] for m in via.json()["data"]} >= {"mock-large", "mock-small"}


@pytest.mark.parametrize("dialect", DIALECTS)
def test_upstream_given_with_trailing_v1(mock, guard_for, wire, dialect):
    guard_v1 = guard_for(mock.url + "/v1")
    prompt = "please install requests"
    direct = _send(mock.url, dialect, prompt, False)
    via = _send(guard_v1.url, dialect, prompt, False)
    assert via.status == 200, via.body[:300]
    assert wire.strip_timestamps(via.json()) == wire.strip_timestamps(direct.json())
    assert wire.parse(dialect, via, False).commands == ["pip install requests"]
    models = request(guard_v1.url, "GET", "/v1/models")
    assert models.status == 200 and models.json()["object"] == "list"


# --- headers ---------------------------------------------------------------

END_TO_END = {
    "authorization": "Bearer FAKE-sk-not-a-real-key",
    "x-api-key": "FAKE-anthropic-key",
    "anthropic-version": "2023-06-01",
    "anthropic-beta": "tools-2024-05-16,FAKE-beta",
    "openai-organization": "org-FAKE",
    "openai-project": "proj_FAKE",
    "user-agent": "relayguard-tests/1.0 (FAKE agent)",
    "x-stainless-lang": "python",
    "x-request-trace": "trace-4242",
}
HOP_BY_HOP = {
    "connection": "keep-alive",
    "te": "trailers",
    "proxy-authorization": "Basic RkFLRTpGQUtF",
    "keep-alive": "timeout=5, max=100",
}


@pytest.fixture(scope="module")
def echo(scripted_upstream, guard_for):
    upstream = scripted_upstream()
    return upstream, guard_for(upstream.url)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_end_to_end_headers_reach_upstream_and_hop_by_hop_do_not(echo, wire, dialect):
    upstream, guard = echo
    body = agent_request(dialect, "MOCK_TEXT: hello")
    raw = orjson.dumps(body)
    before = len(upstream.requests)
    reply = request(guard.url, "POST", PATHS[dialect], raw,
                    {"content-type": "application/json", **END_TO_END, **HOP_BY_HOP})
    assert reply.status == 200, reply.body[:300]
    assert wire.parse(dialect, reply, False).text == upstream.OK_TEXT
    assert reply.headers.get("x-relayguard-verdict") == "allow"
    # an end-to-end response header of the upstream reaches the client too
    assert reply.headers.get("x-upstream-marker") == "scripted"

    assert len(upstream.requests) == before + 1
    seen = upstream.requests[-1]
    assert seen.method == "POST" and seen.path == PATHS[dialect]
    assert seen.body == raw, "the request body was changed on its way to the upstream"
    for name, value in END_TO_END.items():
        assert seen.header(name) == value, f"{name}: sent {value!r}, upstream got {seen.header(name)!r}"
    for name, value in HOP_BY_HOP.items():
        assert seen.header(name) != value, f"hop-by-hop header {name}: {value} was forwarded"
    assert seen.header("te") is None
    assert seen.header("proxy-authorization") is None
    assert seen.header("keep-alive") is None


def test_headers_named_in_connection_are_hop_by_hop(echo):
    """RFC 9110 section 7.6.1: a proxy removes the fields its Connection header names."""
    upstream, guard = echo
    raw = orjson.dumps(agent_request("openai-chat", "MOCK_TEXT: hello"))
    reply = request(guard.url, "POST", PATHS["openai-chat"], raw,
                    {"content-type": "application/json", "authorization": "Bearer FAKE",
                     "connection": "keep-alive, x-hop-secret", "x-hop-secret": "FAKE-only-for-the-next-hop"})
    assert reply.status == 200, reply.body[:300]
    seen = upstream.requests[-1]
    assert seen.header("authorization") == "Bearer FAKE"
    assert seen.header("x-hop-secret") is None, "a header named in Connection was forwarded"
