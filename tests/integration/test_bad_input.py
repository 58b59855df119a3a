"""Bad input from the client and bad behaviour from the upstream.

Each case gets a clear error in the client's dialect with the right status
(400, 404, 413, 502, 504), or an in-stream error event once a stream has
begun; nothing hangs, a half-streamed tool call is never released, and the
guard serves the next normal request.
"""

from __future__ import annotations

import http.client
import time
from urllib.parse import urlsplit

import orjson
import pytest

from relayguard.testing.client import PATHS, agent_request, headers_for, post_json, request

DIALECTS = ("openai-chat", "openai-responses", "anthropic-messages")
EACH_DIALECT = pytest.mark.parametrize("dialect", DIALECTS)
STREAMS = pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
MAX_BODY = 2000


@pytest.fixture(scope="module")
def rig(scripted_upstream, guard_for):
    """A guard with a small body limit and a 1 s read timeout, in front of a
    scriptable upstream (see ScriptedUpstream in conftest.py)."""
    upstream = scripted_upstream()
    guard = guard_for(upstream.url, "--max-body", str(MAX_BODY), "--timeout", "1")
    return upstream, guard


def assert_still_serves(url: str, wire, dialect: str, expected_text: str) -> None:
    for stream in (False, True):
        reply = post_json(url, PATHS[dialect], agent_request(dialect, "MOCK_TEXT: hello", stream=stream),
                          headers_for(dialect), timeout=10)
        seen = wire.parse(dialect, reply, stream)
        assert seen.text == expected_text


def _post_raw(url: str, dialect: str, body: bytes, content_type: str = "application/json", timeout: float = 10):
    return request(url, "POST", PATHS[dialect], body, {"content-type": content_type, **headers_for(dialect)},
                   timeout=timeout)


# --- the client's mistakes -----------------------------------------------------


@EACH_DIALECT
def test_malformed_json_is_400(rig, wire, dialect):
    upstream, guard = rig
    before = len(upstream.requests)
    reply = _post_raw(guard.url, dialect, b'{"model": "mock-large", "messages": [{"role": "user", "content": "hi"')
    message = wire.error_body(dialect, reply, 400)
    assert "json" in message.lower(), message
    assert len(upstream.requests) == before, "a malformed request was forwarded"
    assert_still_serves(guard.url, wire, dialect, upstream.OK_TEXT)


@EACH_DIALECT
def test_wrong_content_type_is_400(rig, wire, dialect):
    upstream, guard = rig
    before = len(upstream.requests)
    body = orjson.dumps(agent_request(dialect, "MOCK_TEXT: hello"))
    reply = _post_raw(guard.url, dialect, body, content_type="text/plain")
    message = wire.error_body(dialect, reply, 400)
    assert "content-type" in message.lower() or "application/json" in message.lower(), message
    assert len(upstream.requests) == before
    assert_still_serves(guard.url, wire, dialect, upstream.OK_TEXT)


@EACH_DIALECT
def test_body_over_the_limit_is_413(rig, wire, dialect):
    upstream, guard = rig
    before = len(upstream.requests)
    body = orjson.dumps(agent_request(dialect, "MOCK_TEXT: hello\n" + "x" * (MAX_BODY + 500)))
    reply = _post_raw(guard.url, dialect, body)
    wire.error_body(dialect, reply, 413)
    assert len(upstream.requests) == before, "an over-limit request was forwarded"
    assert_still_serves(guard.url, wire, dialect, upstream.OK_TEXT)


def test_chunked_body_over_the_limit_is_413(rig, wire):
    """No content-length to trust: the limit must hold while the body is read."""
    upstream, guard = rig
    before = len(upstream.requests)
    body = orjson.dumps(agent_request("openai-chat", "MOCK_TEXT: hello\n" + "x" * (MAX_BODY * 4)))
    parts = urlsplit(guard.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request("POST", PATHS["openai-chat"], body=iter([body[i:i + 500] for i in range(0, len(body), 500)]),
                     headers={"content-type": "application/json", **headers_for("openai-chat")},
                     encode_chunked=True)
        resp = conn.getresponse()
        status, data = resp.status, resp.read()
    finally:
        conn.close()
    assert status == 413, data[:300]
    assert orjson.loads(data)["error"]["message"]
    assert len(upstream.requests) == before
    assert_still_serves(guard.url, wire, "openai-chat", upstream.OK_TEXT)


@EACH_DIALECT
def test_unknown_path_is_404(rig, wire, dialect):
    upstream, guard = rig
    body = orjson.dumps(agent_request(dialect, "MOCK_TEXT: hello"))
    reply = request(guard.url, "POST", "/v1/no-such-endpoint", body,
                    {"content-type": "application/json", **headers_for(dialect)})
    wire.error_body(dialect, reply, 404)
    assert_still_serves(guard.url, wire, dialect, upstream.OK_TEXT)


# --- the upstream's failures ---------------------------------------------------


@STREAMS
@EACH_DIALECT
def test_upstream_that_never_answers_is_504(rig, wire, dialect, stream):
    upstream, guard = rig
    started = time.monotonic()
    reply = post_json(guard.url, PATHS[dialect], agent_request(dialect, "SCRIPT_HANG", stream=stream),
                      headers_for(dialect), timeout=15)
    elapsed = time.monotonic() - started
    wire.error_body(dialect, reply, 504)
    assert elapsed < 5, f"a 1 s timeout took {elapsed:.1f}s"
    assert_still_serves(guard.url, wire, dialect, upstream.OK_TEXT)


def _error_messages(dialect: str, events) -> list[str]:
    """The messages of the in-stream error events, in the dialect's own shape."""
    out = []
    for ev in events:
        if ev.data == "[DONE]":
            continue
        data = orjson.loads(ev.data)
        if dialect == "openai-chat" and isinstance(data.get("error"), dict):
            out.append(data["error"]["message"])
        elif dialect == "anthropic-messages" and data.get("type") == "error":
            assert ev.event == "error"
            out.append(data["error"]["message"])
        elif dialect == "openai-responses" and data.get("type") in ("error", "response.failed"):
            out.append(data.get("message") or (data.get("response") or {}).get("error", {}).get("message", ""))
    return out


def _tool_call_started(dialect: str, events) -> bool:
    for ev in events:
        if ev.data == "[DONE]":
            continue
        data = orjson.loads(ev.data)
        if dialect == "openai-chat":
            if any((c.get("delta") or {}).get("tool_calls") for c in data.get("choices") or []):
                return True
        elif dialect == "anthropic-messages":
            if (data.get("content_block") or {}).get("type") == "tool_use":
                return True
        elif (data.get("item") or {}).get("type") == "function_call" or \
                data.get("type", "").startswith("response.function_call"):
            return True
    return False


@pytest.mark.parametrize("how", ["SCRIPT_CUT_CHUNKED", "SCRIPT_CUT_EOF", "SCRIPT_STALL"],
                         ids=["connection-dropped", "clean-eof", "stalled"])
@EACH_DIALECT
def test_stream_cut_in_the_middle_of_a_tool_call(rig, wire, dialect, how):
    upstream, guard = rig
    started = time.monotonic()
    reply = post_json(guard.url, PATHS[dialect], agent_request(dialect, how, stream=True),
                      headers_for(dialect), timeout=15)
    elapsed = time.monotonic() - started
    assert elapsed < 5, f"took {elapsed:.1f}s"
    assert reply.status == 200, reply.body[:300]  # the upstream's 200 and SSE headers were relayed
    assert reply.headers["content-type"].startswith("text/event-stream")
    events = reply.events()
    errors = _error_messages(dialect, events)
    assert len(errors) == 1 and errors[0].strip(), [e.raw for e in events[-3:]]
    # the text before the tool call passed at once; the half tool call never did
    text = "".join(
        (d.get("delta") or {}).get("text", "") if dialect == "anthropic-messages" else
        d.get("delta", "") if dialect == "openai-responses" and d.get("type") == "response.output_text.delta" else
        "".join((c.get("delta") or {}).get("content") or "" for c in d.get("choices") or [])
        if dialect == "openai-chat" else ""
        for d in (orjson.loads(e.data) for e in events if e.data != "[DONE]"))
    assert text == "Installing."
    assert not _tool_call_started(dialect, events), "part of an unfinished tool call reached the client"
    assert b"evil.exam" not in reply.body and b"curl" not in reply.body, "argument pieces reached the client"
    assert_still_serves(guard.url, wire, dialect, upstream.OK_TEXT)


@EACH_DIALECT
def test_upstream_down_is_502_then_recovers(fresh_server, wire, dialect):
    port = wire.free_port()
    guard = fresh_server("guard", "--upstream", f"http://127.0.0.1:{port}", "--connect-timeout", "2")
    for stream in (False, True):
        started = time.monotonic()
        reply = post_json(guard.url, PATHS[dialect], agent_request(dialect, "MOCK_TEXT: hello", stream=stream),
                          headers_for(dialect), timeout=15)
        assert time.monotonic() - started < 5
        message = wire.error_body(dialect, reply, 502)
        assert "upstream" in message.lower(), message
    # the provider comes up on that port: the same guard serves again
    fresh_server("mock-provider", "--port", str(port))
    for stream in (False, True):
        reply = post_json(guard.url, PATHS[dialect], agent_request(dialect, "MOCK_TEXT: back again", stream=stream),
                          headers_for(dialect), timeout=15)
        assert wire.parse(dialect, reply, stream).text == "back again"
