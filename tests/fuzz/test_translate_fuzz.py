"""Attacker-controlled upstream answers through translation: a mangled stream or
body ends in a well-formed answer for the client, a StreamError or an
UpstreamUnavailable, never another exception, never a hang, and a client
never receives a stream its own dialect's reader rejects."""

from __future__ import annotations

import copy

import orjson
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from relayguard.dialects import adapter_for
from relayguard.errors import BadRequest, StreamError, UpstreamUnavailable
from relayguard.exchange import DIALECTS, Response, ToolCall, Usage
from relayguard.sse import SSEReader
from relayguard.stream import StreamAssembler
from relayguard.testing.client import Reply
from relayguard.translate import StreamTranslator, translate_request, translate_response

PAIRS = [(c, u) for c in DIALECTS for u in DIALECTS if c != u]
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ANSWER = Response(model="m", text="hello there", usage=Usage(7, 8), tool_calls=[
    ToolCall("call_a", "bash", '{"command":"ls"}'), ToolCall("call_b", "read", '{"path":"a","n":[1,2]}')])


def mutate_events(events: list[bytes], data) -> list[bytes]:
    """Drop, repeat, truncate, corrupt or swap events of a real stream."""
    out = list(events)
    for _ in range(data.draw(st.integers(0, 4))):
        if not out:
            break
        i = data.draw(st.integers(0, len(out) - 1))
        action = data.draw(st.sampled_from(["drop", "dup", "cut", "flip", "swap", "json"]))
        if action == "drop":
            out.pop(i)
        elif action == "dup":
            out.insert(i, out[i])
        elif action == "cut":
            out[i] = out[i][: data.draw(st.integers(0, len(out[i])))]
        elif action == "flip" and out[i]:
            j = data.draw(st.integers(0, len(out[i]) - 1))
            out[i] = out[i][:j] + bytes([out[i][j] ^ data.draw(st.integers(1, 255))]) + out[i][j + 1:]
        elif action == "swap" and i + 1 < len(out):
            out[i], out[i + 1] = out[i + 1], out[i]
        elif action == "json":
            out[i] = mutate_event_json(out[i], data)
    return out


def mutate_event_json(event: bytes, data) -> bytes:
    """Replace one value inside an event's JSON (a wrong type, a missing key)."""
    head, sep, payload = event.rpartition(b"data: ")
    try:
        obj = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return event
    return head + sep + orjson.dumps(mutate_json(obj, data)) + b"\n\n"


ODD_VALUES = st.sampled_from([None, 0, -1, 2 ** 63, 1.5, True, "", "x", [], {}, [1, "a"], {"type": "text"}])


def mutate_json(value, data):
    """One node of ``value`` replaced by an odd value, or deleted."""
    value = copy.deepcopy(value)
    paths: list[tuple] = []

    def walk(node, path):
        paths.append(path)
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, path + (k,))
        elif isinstance(node, list):
            for k, v in enumerate(node):
                walk(v, path + (k,))
    walk(value, ())
    path = data.draw(st.sampled_from(paths[1:])) if len(paths) > 1 else ()
    if not path:
        return data.draw(ODD_VALUES)
    parent = value
    for key in path[:-1]:
        parent = parent[key]
    if isinstance(parent, dict) and data.draw(st.booleans()):
        del parent[path[-1]]
    else:
        parent[path[-1]] = data.draw(ODD_VALUES)
    return value


def split(data_bytes: bytes, data) -> list[bytes]:
    cuts = sorted(data.draw(st.lists(st.integers(0, len(data_bytes)), max_size=8)))
    bounds = [0, *cuts, len(data_bytes)]
    return [data_bytes[a:b] for a, b in zip(bounds, bounds[1:])]


@pytest.mark.parametrize(("client", "upstream"), PAIRS)
@FUZZ
@given(data=st.data())
def test_mangled_upstream_streams_give_valid_client_streams_or_stream_error(client, upstream, data, wire):
    events = mutate_events(adapter_for(upstream).build_stream(ANSWER, "u1"), data)
    tr = StreamTranslator(upstream, client, "client-model", "resp_f")
    out: list[bytes] = []
    try:
        for chunk in split(b"".join(events), data):
            out += tr.feed(chunk)
        out += tr.close()
    except StreamError:
        out.append(tr.error_event("upstream stream broke"))
    # The client's own reader accepts every byte it was sent.
    codec = adapter_for(client).stream_codec()
    asm = StreamAssembler(codec, lambda call: None)
    asm.feed(b"".join(out))
    asm.close()
    if tr.complete and tr.error is None:
        assert codec.complete
        # The test suite's SDK-like reader: event names, deltas and the final object agree.
        seen = wire.parse(client, Reply(200, {"content-type": "text/event-stream"}, b"".join(out)), True)
        assert seen.last_event == {"openai-chat": "[DONE]", "anthropic-messages": "message_stop"}.get(
            client, seen.last_event)
        assert [(c.id, c.raw_arguments) for c in codec.response.tool_calls] == \
            [(c.id, c.raw_arguments) for c in tr.response.tool_calls]
    for event in SSEReader().feed(b"".join(out)):
        if event.data != "[DONE]":
            orjson.loads(event.data)


@pytest.mark.parametrize(("client", "upstream"), PAIRS)
@FUZZ
@given(data=st.data())
def test_mangled_upstream_bodies_give_valid_client_bodies_or_upstream_unavailable(client, upstream, data):
    body = adapter_for(upstream).build_response(ANSWER, "u1")
    for _ in range(data.draw(st.integers(1, 3))):
        body = mutate_json(body, data)
    try:
        out = translate_response(body, upstream, client, "client-model", "resp_f")
    except UpstreamUnavailable:
        return
    parsed = adapter_for(client).parse_response(orjson.loads(orjson.dumps(out)))
    assert parsed.model == "client-model"


def client_body(dialect: str) -> dict:
    history = {
        "openai-chat": {"model": "c", "max_tokens": 50, "messages": [
            {"role": "system", "content": "sys"}, {"role": "user", "content": [{"type": "text", "text": "hi"}]},
            {"role": "assistant", "content": "ok", "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "bash", "arguments": '{"command":"ls"}'}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "a.txt"}],
            "tools": [{"type": "function", "function": {"name": "bash", "parameters": {"type": "object"}}}]},
        "anthropic-messages": {"model": "c", "max_tokens": 50, "system": "sys", "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": [
                {"type": "text", "text": "ok"},
                {"type": "tool_use", "id": "c1", "name": "bash", "input": {"command": "ls"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "c1", "content": "a.txt"}]}],
            "tools": [{"name": "bash", "input_schema": {"type": "object"}}]},
        "openai-responses": {"model": "c", "instructions": "sys", "input": [
            {"role": "user", "content": [{"type": "input_text", "text": "hi"}]},
            {"type": "function_call", "call_id": "c1", "name": "bash", "arguments": '{"command":"ls"}'},
            {"type": "function_call_output", "call_id": "c1", "output": "a.txt"}],
            "tools": [{"type": "function", "name": "bash", "parameters": {"type": "object"}}]},
    }
    return history[dialect]


@pytest.mark.parametrize(("source", "target"), PAIRS)
@FUZZ
@given(data=st.data())
def test_mangled_client_requests_translate_or_raise_bad_request(source, target, data):
    body = mutate_json(client_body(source), data)
    try:
        out = translate_request(body, source, target, "upstream-model")
    except BadRequest:
        return
    adapter = adapter_for(target)
    assert adapter.request_info(out)[0] == "upstream-model"
    adapter.conversation(out)
