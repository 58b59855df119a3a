"""Cross-dialect translation (relayguard.translate), checked the way a client would.

For every ordered pair of different dialects: the client's request is
translated, the upstream adapter must accept it and read the same
conversation from it, the mock provider's logic answers it, the answer is
rendered by the upstream's adapter (a body, or a stream fed in awkward
chunkings), translated back, and read by the CLIENT dialect's own adapter:
text, tool call ids/names/arguments, finish reason and usage must survive.
"""

from __future__ import annotations

import random
import re

import orjson
import pytest

from relayguard.dialects import adapter_for
from relayguard.errors import BadRequest, StreamError, UpstreamUnavailable
from relayguard.exchange import DIALECTS, Response, ToolCall, Usage
from relayguard.sse import SSEReader
from relayguard.stream import StreamAssembler
from relayguard.testing.client import PATHS, Reply, headers_for, parse_reply, post_json
from relayguard.testing.mock_provider import plan_reply
from relayguard.translate import StreamTranslator, translate_request, translate_response

PAIRS = [(c, u) for c in DIALECTS for u in DIALECTS if c != u]
PAIR_IDS = [f"{c}<-{u}" for c, u in PAIRS]
UPSTREAM_MODEL, CLIENT_MODEL = "upstream-model", "client-model"
USAGE = Usage(321, 54)

CALL_A = {"name": "bash", "arguments": {"command": "ls -la"}}
CALL_B = {"name": "read_file", "arguments": {"path": "src/main.py", "limit": 20}}
CALL_C = {"name": "bash", "arguments": {"command": "pytest -q"}}
SYSTEM = "You are a coding agent."
ASKS = {
    "text": "MOCK_TEXT: Hello from the mock model.",
    "one_call": "MOCK_TOOL_CALL: " + orjson.dumps(CALL_A).decode(),
    "two_calls_text": "MOCK_TEXT: Checking two things.\nMOCK_TOOL_CALL: " + orjson.dumps(CALL_A).decode()
                      + "\nMOCK_TOOL_CALL: " + orjson.dumps(CALL_B).decode(),
}
SCENARIOS = [*ASKS, "history"]


def _args(call: dict) -> str:
    return orjson.dumps(call["arguments"]).decode()


# --- client requests, shaped as each dialect's SDK sends them ----------------------------

def chat_request(scenario: str, stream: bool) -> dict:
    tools = [{"type": "function", "function": {"name": "bash", "description": "Run a shell command",
                                               "parameters": {"type": "object", "properties": {
                                                   "command": {"type": "string"}}, "required": ["command"]}}},
             {"type": "function", "function": {"name": "read_file", "parameters": {"type": "object", "properties": {
                 "path": {"type": "string"}, "limit": {"type": "integer"}}}}}]
    if scenario in ASKS:
        messages = [{"role": "system", "content": SYSTEM},
                    {"role": "user", "content": [{"type": "text", "text": ASKS[scenario]}]}]
    else:
        def tc(cid: str, call: dict) -> dict:
            return {"id": cid, "type": "function", "function": {"name": call["name"], "arguments": _args(call)}}
        messages = [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": "List the files, then read main."},
            {"role": "assistant", "content": "Looking.", "tool_calls": [tc("call_h1", CALL_A), tc("call_h2", CALL_B)]},
            {"role": "tool", "tool_call_id": "call_h1", "content": "a.txt\nb.txt"},
            {"role": "tool", "tool_call_id": "call_h2", "content": [{"type": "text", "text": "print('hi')"}]},
            {"role": "assistant", "content": "Both done."},
            {"role": "user", "content": "Now run the tests."},
            {"role": "assistant", "content": None, "tool_calls": [tc("call_h3", CALL_C)]},
            {"role": "tool", "tool_call_id": "call_h3", "content": "3 passed"},
        ]
    body = {"model": "gpt-client", "messages": messages, "tools": tools, "tool_choice": "auto",
            "max_completion_tokens": 500, "temperature": 0.2}
    if stream:
        body["stream"] = True
    return body


def anthropic_request(scenario: str, stream: bool) -> dict:
    tools = [{"name": "bash", "description": "Run a shell command", "input_schema": {
                 "type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}},
             {"name": "read_file", "input_schema": {"type": "object", "properties": {
                 "path": {"type": "string"}, "limit": {"type": "integer"}}}}]
    if scenario in ASKS:
        messages = [{"role": "user", "content": [{"type": "text", "text": ASKS[scenario]}]}]
    else:
        def tu(cid: str, call: dict) -> dict:
            return {"type": "tool_use", "id": cid, "name": call["name"], "input": call["arguments"]}
        messages = [
            {"role": "user", "content": "List the files, then read main."},
            {"role": "assistant", "content": [{"type": "text", "text": "Looking."}, tu("call_h1", CALL_A),
                                              tu("call_h2", CALL_B)]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "call_h1", "content": "a.txt\nb.txt"},
                {"type": "tool_result", "tool_use_id": "call_h2",
                 "content": [{"type": "text", "text": "print('hi')"}]}]},
            {"role": "assistant", "content": "Both done."},
            {"role": "user", "content": "Now run the tests."},
            {"role": "assistant", "content": [tu("call_h3", CALL_C)]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_h3", "content": "3 passed"}]},
        ]
    body = {"model": "claude-client", "system": SYSTEM, "max_tokens": 500, "messages": messages, "tools": tools,
            "tool_choice": {"type": "auto"}, "temperature": 0.2}
    if stream:
        body["stream"] = True
    return body


def responses_request(scenario: str, stream: bool) -> dict:
    tools = [{"type": "function", "name": "bash", "description": "Run a shell command", "strict": False,
              "parameters": {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}},
             {"type": "function", "name": "read_file", "parameters": {"type": "object", "properties": {
                 "path": {"type": "string"}, "limit": {"type": "integer"}}}}]
    if scenario in ASKS:
        items = [{"role": "user", "content": [{"type": "input_text", "text": ASKS[scenario]}]}]
    else:
        def fc(cid: str, call: dict) -> dict:
            return {"type": "function_call", "call_id": cid, "name": call["name"], "arguments": _args(call)}

        def out(cid: str, text: str) -> dict:
            return {"type": "function_call_output", "call_id": cid, "output": text}
        items = [
            {"type": "message", "role": "user", "content": [{"type": "input_text",
                                                             "text": "List the files, then read main."}]},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Looking."}]},
            fc("call_h1", CALL_A), fc("call_h2", CALL_B),
            out("call_h1", "a.txt\nb.txt"), out("call_h2", "print('hi')"),
            {"role": "assistant", "content": "Both done."},
            {"role": "user", "content": "Now run the tests."},
            fc("call_h3", CALL_C), out("call_h3", "3 passed"),
        ]
    body = {"model": "codex-client", "instructions": SYSTEM, "input": items, "tools": tools, "tool_choice": "auto",
            "max_output_tokens": 500, "temperature": 0.2, "store": False,
            "reasoning": {"effort": "medium"}, "include": ["reasoning.encrypted_content"]}
    if stream:
        body["stream"] = True
    return body


REQUESTS = {"openai-chat": chat_request, "anthropic-messages": anthropic_request,
            "openai-responses": responses_request}

# --- what a conversation says, whatever the dialect -----------------------------------------

CALL_LINE = re.compile(r"^(?:tool_call|tool_use|function_call) (\S*): (.*)$")


def semantic(conversation) -> list[tuple]:
    """Roles, texts and tool calls (with parsed arguments) of a flattened conversation."""
    out: list[tuple] = []
    for msg in conversation:
        role = "system" if msg.role == "developer" else msg.role
        texts, calls = [], []
        for line in msg.text.split("\n"):
            match = CALL_LINE.match(line) if role == "assistant" else None
            if match:
                calls.append(("call", match[1], orjson.loads(match[2])))
            else:
                texts.append(line)
        text = "\n".join(texts).strip()
        if text:
            out.append((role, text))
        out += calls
    return out


def upstream_answer(dialect: str, body: dict) -> Response:
    """What the mock provider answers this request with (ids as it mints them)."""
    adapter = adapter_for(dialect)
    reply = plan_reply(adapter.conversation(body), [t for t in body.get("tools") or [] if isinstance(t, dict)])
    for i, call in enumerate(reply.tool_calls):
        call.id = f"call_0123456789abcdef{i}"
    reply.model, reply.usage, reply.finish_reason = UPSTREAM_MODEL, USAGE, ""
    return reply


EXPECTED_FINISH = {("openai-chat", True): "tool_calls", ("openai-chat", False): "stop",
                   ("anthropic-messages", True): "tool_use", ("anthropic-messages", False): "end_turn",
                   ("openai-responses", True): "tool_calls", ("openai-responses", False): "stop"}


def assert_same_answer(got: Response, answer: Response, client: str) -> None:
    assert got.text == answer.text
    assert [(c.id, c.name, c.raw_arguments) for c in got.tool_calls] == \
        [(c.id, c.name, c.raw_arguments) for c in answer.tool_calls]
    assert [orjson.loads(c.raw_arguments) for c in got.tool_calls] == [c.arguments for c in answer.tool_calls]
    assert got.finish_reason == EXPECTED_FINISH[(client, bool(answer.tool_calls))]
    assert (got.usage.input_tokens, got.usage.output_tokens) == (USAGE.input_tokens, USAGE.output_tokens)
    assert got.model == CLIENT_MODEL


def translated_request(client: str, upstream: str, scenario: str, stream: bool) -> dict:
    body = REQUESTS[client](scenario, stream)
    up = translate_request(body, client, upstream, UPSTREAM_MODEL)
    adapter = adapter_for(upstream)
    assert adapter.request_info(up) == (UPSTREAM_MODEL, stream)
    assert semantic(adapter.conversation(up)) == semantic(adapter_for(client).conversation(body))
    return up


# --- non-streaming ---------------------------------------------------------------------------

@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize(("client", "upstream"), PAIRS, ids=PAIR_IDS)
def test_body_round_trip(client, upstream, scenario, wire):
    up = translated_request(client, upstream, scenario, stream=False)
    answer = upstream_answer(upstream, up)
    if scenario == "history":
        assert answer.text == "The command finished. Anything else?"
    else:
        assert len(answer.tool_calls) == {"text": 0, "one_call": 1, "two_calls_text": 2}[scenario]
    body = adapter_for(upstream).build_response(answer, "upstream-id")
    out = translate_response(orjson.loads(orjson.dumps(body)), upstream, client, CLIENT_MODEL, "resp_client1")
    assert_same_answer(adapter_for(client).parse_response(out), answer, client)
    seen = wire.parse_body(client, out)  # the test suite's SDK-like reader agrees
    assert [(c.name, c.arguments) for c in seen.calls] == [(c.name, c.arguments) for c in answer.tool_calls]


# --- streaming ---------------------------------------------------------------------------------

def chunkings(data: bytes, how: str) -> list[bytes]:
    if how == "bytes":
        return [data[i:i + 1] for i in range(len(data))]
    rng = random.Random(len(data))
    out, i = [], 0
    while i < len(data):
        n = rng.randint(1, 97)
        out.append(data[i:i + n])
        i += n
    return out


def client_reads(client: str, stream: bytes) -> tuple[Response, bool]:
    """The client's adapter reading the translated stream: (its response, complete)."""
    codec = adapter_for(client).stream_codec()
    asm = StreamAssembler(codec, lambda call: None)
    asm.feed(stream)
    asm.close()
    return codec.response, codec.complete


def check_chat_stream(events) -> None:
    assert events[-1].data == "[DONE]"
    chunks = [orjson.loads(e.data) for e in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" and len(c["choices"]) == 1 for c in chunks)
    finishing = [c for c in chunks if c["choices"][0]["finish_reason"]]
    assert finishing == [chunks[-1]] and "usage" in chunks[-1]
    started = []
    for c in chunks:
        for tc in c["choices"][0]["delta"].get("tool_calls") or ():
            if tc["index"] not in started:
                assert tc["index"] == len(started) and tc["id"] and tc["function"]["name"]
                started.append(tc["index"])


def check_anthropic_stream(events) -> None:
    datas = [orjson.loads(e.data) for e in events]
    assert [e.event for e in events] == [d["type"] for d in datas]
    assert datas[0]["type"] == "message_start" and [d["type"] for d in datas[-2:]] == ["message_delta", "message_stop"]
    open_index, next_index = None, 0
    for d in datas[1:-2]:
        if d["type"] == "content_block_start":
            assert open_index is None and d["index"] == next_index
            open_index = d["index"]
        elif d["type"] == "content_block_delta":
            assert d["index"] == open_index
        else:
            assert d["type"] == "content_block_stop" and d["index"] == open_index
            open_index, next_index = None, next_index + 1
    assert open_index is None


def check_responses_stream(events) -> None:
    datas = [orjson.loads(e.data) for e in events]
    assert [e.event for e in events] == [d["type"] for d in datas]
    assert [d["sequence_number"] for d in datas] == list(range(len(datas)))
    assert datas[0]["type"] == "response.created" and datas[-1]["type"] == "response.completed"
    added = [d["output_index"] for d in datas if d["type"] == "response.output_item.added"]
    done = [d for d in datas if d["type"] == "response.output_item.done"]
    assert added == [d["output_index"] for d in done] == list(range(len(done)))
    assert datas[-1]["response"]["output"] == [d["item"] for d in done]
    assert datas[0]["response"]["id"] == datas[-1]["response"]["id"]


CHECKS = {"openai-chat": check_chat_stream, "anthropic-messages": check_anthropic_stream,
          "openai-responses": check_responses_stream}


@pytest.mark.parametrize("how", ["bytes", "random"])
@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize(("client", "upstream"), PAIRS, ids=PAIR_IDS)
def test_stream_round_trip(client, upstream, scenario, how, wire):
    up = translated_request(client, upstream, scenario, stream=True)
    if upstream == "openai-chat":
        assert up["stream_options"] == {"include_usage": True}
    answer = upstream_answer(upstream, up)
    upstream_bytes = b"".join(adapter_for(upstream).build_stream(answer, "upstream-id"))
    tr = StreamTranslator(upstream, client, CLIENT_MODEL, "resp_client1")
    out = []
    for chunk in chunkings(upstream_bytes, how):
        out += tr.feed(chunk)
    out += tr.close()
    assert tr.complete
    stream = b"".join(out)
    got, complete = client_reads(client, stream)
    assert complete
    assert_same_answer(got, answer, client)
    assert_same_answer(tr.response, answer, client)  # what the gateway accounts and signs
    events = SSEReader().feed(stream)
    CHECKS[client](events)
    seen = wire.parse(client, Reply(200, {"content-type": "text/event-stream"}, stream), True)
    assert [(c.name, c.arguments) for c in seen.calls] == [(c.name, c.arguments) for c in answer.tool_calls]


@pytest.mark.parametrize("stream", [False, True], ids=["body", "stream"])
@pytest.mark.parametrize(("client", "upstream"), PAIRS, ids=PAIR_IDS)
def test_through_the_real_mock_provider(client, upstream, stream, mock):
    """The translated request goes over HTTP to the mock provider process; its answer,
    translated back, is what the upstream said, in the client's dialect."""
    up = translated_request(client, upstream, "two_calls_text", stream)
    reply = post_json(mock.url, PATHS[upstream], up, headers_for(upstream))
    assert reply.status == 200, reply.body[:300]
    said = parse_reply(upstream, reply)
    if stream:
        tr = StreamTranslator(upstream, client, CLIENT_MODEL, "resp_http")
        data = b"".join(tr.feed(reply.body) + tr.close())
        assert tr.complete
        got = parse_reply(client, Reply(200, {"content-type": "text/event-stream"}, data))
    else:
        got = adapter_for(client).parse_response(
            translate_response(reply.json(), upstream, client, CLIENT_MODEL, "resp_http"))
    assert said.text == got.text == "Checking two things."
    assert [(c.id, c.name, c.raw_arguments) for c in got.tool_calls] == \
        [(c.id, c.name, c.raw_arguments) for c in said.tool_calls]
    assert [c.name for c in got.tool_calls] == ["bash", "read_file"]
    assert (got.usage.input_tokens, got.usage.output_tokens) == (said.usage.input_tokens, said.usage.output_tokens) \
        and got.usage.input_tokens > 0
    assert got.finish_reason == EXPECTED_FINISH[(client, True)]


def test_text_is_forwarded_before_the_stream_ends():
    answer = Response(model="m", text="first words, then more", usage=Usage(1, 2))
    events = adapter_for("anthropic-messages").build_stream(answer, "u1")
    tr = StreamTranslator("anthropic-messages", "openai-chat", CLIENT_MODEL, "c1")
    sent = []
    for event in events:
        sent.append(b"".join(tr.feed(event)))
        if b"first" in sent[-1]:
            break
    assert b"[DONE]" not in b"".join(sent)  # the text went out while the upstream was still streaming
    assert not tr.complete


def test_usage_reaches_the_final_events():
    answer = Response(model="m", text="hi", usage=Usage(1000, 77))
    for upstream in DIALECTS:
        for client in DIALECTS:
            if client == upstream:
                continue
            tr = StreamTranslator(upstream, client, CLIENT_MODEL, "resp_u")
            stream = b"".join(tr.feed(b"".join(adapter_for(upstream).build_stream(answer, "u"))) + tr.close())
            last = [orjson.loads(e.data) for e in SSEReader().feed(stream) if e.data != "[DONE]"]
            final = {"openai-chat": lambda: last[-1]["usage"]["prompt_tokens"],
                     "anthropic-messages": lambda: last[-2]["usage"]["input_tokens"],
                     "openai-responses": lambda: last[-1]["response"]["usage"]["input_tokens"]}[client]()
            assert final == 1000, (upstream, client)


def test_anthropic_cached_prompt_tokens_count_as_input():
    body = {"id": "msg_1", "type": "message", "role": "assistant", "model": "m", "stop_reason": "end_turn",
            "content": [{"type": "text", "text": "ok"}],
            "usage": {"input_tokens": 10, "cache_creation_input_tokens": 200, "cache_read_input_tokens": 3000,
                      "output_tokens": 5}}
    out = translate_response(body, "anthropic-messages", "openai-chat", CLIENT_MODEL, "c1")
    assert out["usage"]["prompt_tokens"] == 3210
    start = {"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant",
                                                  "model": "m", "content": [], "usage": body["usage"]}}
    tr = StreamTranslator("anthropic-messages", "openai-responses", CLIENT_MODEL, "resp_1")
    tr.feed(b"event: message_start\ndata: " + orjson.dumps(start) + b"\n\n")
    tr.feed(b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},'
            b'"usage":{"output_tokens":9}}\n\nevent: message_stop\ndata: {"type":"message_stop"}\n\n')
    assert (tr.response.usage.input_tokens, tr.response.usage.output_tokens) == (3210, 9)


# --- streams that go wrong ----------------------------------------------------------------------

def two_call_stream(dialect: str) -> list[bytes]:
    answer = Response(model="m", text="Running both.", usage=Usage(3, 4), tool_calls=[
        ToolCall("call_a", "bash", '{"command":"ls"}'), ToolCall("call_b", "bash", '{"command":"pwd"}')])
    return adapter_for(dialect).build_stream(answer, "u1")


@pytest.mark.parametrize(("client", "upstream"), PAIRS, ids=PAIR_IDS)
def test_a_cut_stream_ends_without_terminal_events_or_half_calls(client, upstream):
    events = two_call_stream(upstream)
    # Cut inside the second tool call: its start went out, its end never came.
    cut = next(i for i, e in enumerate(events) if b"pwd" in e)
    body = b"".join(events)
    tr = StreamTranslator(upstream, client, CLIENT_MODEL, "resp_c")
    out = tr.feed(b"".join(events[:cut])) + tr.close()
    assert not tr.complete
    stream = b"".join(out)
    assert b"pwd" not in stream and b"call_b" not in stream
    stream += tr.error_event("upstream closed the stream early")
    got, _ = client_reads(client, stream)
    assert [c.id for c in got.tool_calls] == ["call_a"]
    last = SSEReader().feed(stream)[-1]
    assert "upstream closed the stream early" in last.data and last.event in (None, "error")
    assert not [e for e in SSEReader().feed(stream) if e.data == "[DONE]" or
                e.event in ("message_stop", "message_delta", "response.completed")]
    assert tr.feed(body) == []  # after the error event the stream is over


@pytest.mark.parametrize("upstream", DIALECTS)
def test_a_stream_cut_inside_an_event_is_a_stream_error(upstream):
    body = b"".join(two_call_stream(upstream))
    tr = StreamTranslator(upstream, "openai-chat" if upstream != "openai-chat" else "openai-responses",
                          CLIENT_MODEL, "resp_c")
    tr.feed(body[:body.index(b"pwd")])
    with pytest.raises(StreamError):
        tr.close()
    assert not tr.complete


@pytest.mark.parametrize(("client", "upstream"), PAIRS, ids=PAIR_IDS)
def test_an_upstream_error_event_reaches_the_client_as_its_own(client, upstream):
    error = {"openai-chat": b'data: {"error":{"message":"overloaded now","type":"server_error"}}\n\n',
             "anthropic-messages": b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error",'
                                   b'"message":"overloaded now"}}\n\n',
             "openai-responses": b'event: error\ndata: {"type":"error","code":"server_error","message":'
                                 b'"overloaded now","param":null,"sequence_number":3}\n\n'}[upstream]
    events = two_call_stream(upstream)
    tr = StreamTranslator(upstream, client, CLIENT_MODEL, "resp_e")
    out = tr.feed(b"".join(events[:3])) + tr.feed(error) + tr.feed(b"".join(events[3:])) + tr.close()
    assert tr.complete and tr.error == "overloaded now" and tr.response.finish_reason == "error"
    last = SSEReader().feed(b"".join(out))[-1]
    assert "overloaded now" in last.data and "error" in orjson.loads(last.data).get("type", "error")


@pytest.mark.parametrize("upstream", DIALECTS)
def test_malformed_upstream_streams_raise_stream_error(upstream):
    client = "openai-chat" if upstream != "openai-chat" else "anthropic-messages"
    bad = [b"data: {not json\n\n",
           {"openai-chat": b'data: {"choices":[{"index":0,"delta":{"content":5}}]}\n\n',
            "anthropic-messages": b'event: content_block_delta\ndata: {"type":"content_block_delta","index":7,'
                                  b'"delta":{"type":"input_json_delta","partial_json":"{}"}}\n\n',
            "openai-responses": b'event: response.output_item.added\ndata: {"type":"response.output_item.added",'
                                b'"output_index":0,"item":{"type":"web_search_call","id":"ws_1"}}\n\n'}[upstream]]
    for payload in bad:
        tr = StreamTranslator(upstream, client, CLIENT_MODEL, "resp_m")
        with pytest.raises(StreamError):
            tr.feed(payload)


def test_a_stream_is_bounded():
    tr = StreamTranslator("openai-chat", "anthropic-messages", CLIENT_MODEL, "c", max_event=64, max_stream=10_000)
    with pytest.raises(StreamError, match="larger than 64 bytes"):
        tr.feed(b"data: " + b"x" * 100)
    tr = StreamTranslator("openai-chat", "anthropic-messages", CLIENT_MODEL, "c", max_stream=1000)
    chunk = b'data: {"choices":[{"index":0,"delta":{"content":"aaaa"}}]}\n\n'
    with pytest.raises(StreamError, match="more than 1000 bytes"):
        for _ in range(100):
            tr.feed(chunk)


def test_anthropic_clients_never_get_arguments_that_are_not_an_object():
    answer = Response(model="m", tool_calls=[ToolCall("call_x", "bash", '{"command": "ls"')])  # cut short
    body = adapter_for("openai-chat").build_response(answer, "u")
    with pytest.raises(UpstreamUnavailable, match="not a JSON object"):
        translate_response(body, "openai-chat", "anthropic-messages", CLIENT_MODEL, "c")
    tr = StreamTranslator("openai-chat", "anthropic-messages", CLIENT_MODEL, "c")
    with pytest.raises(StreamError, match="not a JSON object"):
        tr.feed(b"".join(adapter_for("openai-chat").build_stream(answer, "u")))


def test_tool_calls_without_ids_get_unique_ones():
    chunks = [b'data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"name":"bash",'
              b'"arguments":"{}"}}]}}]}\n\n',
              b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}\n\n', b"data: [DONE]\n\n"]
    tr = StreamTranslator("openai-chat", "anthropic-messages", CLIENT_MODEL, "msg_abc")
    for c in chunks:
        tr.feed(c)
    assert [c.id for c in tr.response.tool_calls] == ["call_msg_abc_0"]
    body = {"choices": [{"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "tool_calls": [
        {"type": "function", "function": {"name": "bash", "arguments": "{}"}}]}}]}
    out = translate_response(body, "openai-chat", "openai-responses", CLIENT_MODEL, "resp_9")
    assert out["output"][0]["call_id"] == "call_resp_9_0"


# --- finish reasons -------------------------------------------------------------------------------

@pytest.mark.parametrize(("client", "upstream"), PAIRS, ids=PAIR_IDS)
def test_hitting_the_token_limit_maps_to_each_dialects_word(client, upstream):
    answer = Response(model="m", text="cut sh", usage=Usage(5, 500), finish_reason={
        "openai-chat": "length", "anthropic-messages": "max_tokens", "openai-responses": "length"}[upstream])
    body = adapter_for(upstream).build_response(answer, "u")
    out = translate_response(body, upstream, client, CLIENT_MODEL, "resp_l")
    expected = {"openai-chat": "length", "anthropic-messages": "max_tokens", "openai-responses": "incomplete"}[client]
    assert adapter_for(client).parse_response(out).finish_reason == expected
    if client == "openai-responses":
        assert out["incomplete_details"] == {"reason": "max_output_tokens"}
    tr = StreamTranslator(upstream, client, CLIENT_MODEL, "resp_l")
    stream = b"".join(tr.feed(b"".join(adapter_for(upstream).build_stream(answer, "u"))) + tr.close())
    assert client_reads(client, stream)[0].finish_reason == expected == tr.response.finish_reason
    if client == "openai-responses":
        assert SSEReader().feed(stream)[-1].event == "response.incomplete"


# --- request details ------------------------------------------------------------------------------

def test_anthropic_needs_max_tokens_so_a_default_is_set():
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    assert translate_request(body, "openai-chat", "anthropic-messages", "claude")["max_tokens"] == 4096
    body["max_completion_tokens"] = 77
    assert translate_request(body, "openai-chat", "anthropic-messages", "claude")["max_tokens"] == 77
    assert translate_request({"model": "m", "input": "hi", "max_output_tokens": 9}, "openai-responses",
                             "anthropic-messages", "claude")["max_tokens"] == 9


def test_token_limits_stop_sequences_and_sampling_carry_over():
    body = {"model": "c", "max_tokens": 300, "temperature": 0.5, "top_p": 0.9, "stop_sequences": ["END"],
            "messages": [{"role": "user", "content": "hi"}]}
    chat = translate_request(body, "anthropic-messages", "openai-chat", "gpt")
    assert (chat["max_tokens"], chat["temperature"], chat["top_p"], chat["stop"]) == (300, 0.5, 0.9, ["END"])
    assert "stream" not in chat and "stream_options" not in chat
    back = translate_request({**chat, "stop": "END"}, "openai-chat", "anthropic-messages", "claude")
    assert back["stop_sequences"] == ["END"] and back["max_tokens"] == 300
    resp = translate_request({"model": "c", "input": "hi", "max_output_tokens": 12, "top_p": 0.3},
                             "openai-responses", "openai-chat", "gpt")
    assert (resp["max_tokens"], resp["top_p"]) == (12, 0.3)


def test_tool_choice_and_parallel_calls_map_both_ways():
    base = {"model": "c", "messages": [{"role": "user", "content": "hi"}],
            "tools": [{"type": "function", "function": {"name": "bash", "parameters": {"type": "object"}}}]}
    a = translate_request({**base, "tool_choice": "required", "parallel_tool_calls": False},
                          "openai-chat", "anthropic-messages", "claude")
    assert a["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}
    a = translate_request({**base, "tool_choice": {"type": "function", "function": {"name": "bash"}}},
                          "openai-chat", "anthropic-messages", "claude")
    assert a["tool_choice"] == {"type": "tool", "name": "bash"}
    r = translate_request({**a, "tool_choice": {"type": "tool", "name": "bash", "disable_parallel_tool_use": True}},
                          "anthropic-messages", "openai-responses", "gpt")
    assert r["tool_choice"] == {"type": "function", "name": "bash"} and r["parallel_tool_calls"] is False
    # Responses makes function tools strict by default; the client's tools were not.
    assert r["tools"] == [{"type": "function", "name": "bash", "parameters": {"type": "object"}, "strict": False}]
    assert r["store"] is False
    c = translate_request({**r, "tool_choice": "none"}, "openai-responses", "openai-chat", "gpt")
    assert c["tool_choice"] == "none" and c["tools"][0]["function"]["name"] == "bash"


def test_images_cross_as_base64_or_url():
    png = "iVBORw0KGgo="
    body = {"model": "c", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}", "detail": "high"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}}]}]}
    a = translate_request(body, "openai-chat", "anthropic-messages", "claude")
    assert a["messages"][0]["content"][1:] == [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": png}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}}]
    r = translate_request(a, "anthropic-messages", "openai-responses", "gpt")
    assert [p.get("image_url") for p in r["input"][0]["content"]] == \
        [None, f"data:image/png;base64,{png}", "https://example.com/cat.jpg"]
    c = translate_request(r, "openai-responses", "openai-chat", "gpt")
    assert c["messages"][0]["content"][1]["image_url"]["url"] == f"data:image/png;base64,{png}"


def test_provider_private_reasoning_is_dropped_not_refused():
    body = {"model": "c", "max_tokens": 10, "thinking": {"type": "enabled", "budget_tokens": 1024}, "messages": [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "hmm", "signature": "sig"},
                                          {"type": "text", "text": "hello"}]},
        {"role": "user", "content": "again"}]}
    out = translate_request(body, "anthropic-messages", "openai-chat", "gpt")
    assert [m["content"] for m in out["messages"]] == ["hi", "hello", "again"] and "thinking" not in out
    body = {"model": "c", "input": [{"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "x"},
                                    {"role": "user", "content": "hi"}]}
    assert translate_request(body, "openai-responses", "openai-chat", "gpt")["messages"] == \
        [{"role": "user", "content": "hi"}]


def test_same_dialect_is_a_copy_with_the_model_replaced():
    body = chat_request("history", stream=True)
    out = translate_request(body, "openai-chat", "openai-chat", "other")
    assert out == {**body, "model": "other"} and body["model"] == "gpt-client"
    out["messages"].append({})
    assert len(body["messages"]) == 9


@pytest.mark.parametrize(("source", "target", "body", "field"), [
    ("openai-responses", "openai-chat", {"model": "c", "input": "hi", "previous_response_id": "resp_1"},
     "previous_response_id"),
    ("openai-responses", "anthropic-messages", {"model": "c", "input": "hi", "tools": [{"type": "web_search"}]},
     "tools[0]"),
    ("anthropic-messages", "openai-chat", {"model": "c", "max_tokens": 5,
                                           "messages": [{"role": "user", "content": "x"}],
                                           "tools": [{"type": "web_search_20250305", "name": "web_search"}]},
     "tools[0]"),
    ("openai-responses", "openai-chat", {"model": "c", "input": [{"role": "user", "content": [
        {"type": "input_image", "file_id": "file-1"}]}]}, "input[0].content[0]"),
    ("anthropic-messages", "openai-chat", {"model": "c", "max_tokens": 5, "messages": [{"role": "user", "content": [
        {"type": "image", "source": {"type": "file", "file_id": "f"}}]}]}, "messages[0].content[0].source"),
    ("anthropic-messages", "openai-chat", {"model": "c", "max_tokens": 5, "messages": [{"role": "user", "content": [
        {"type": "document", "source": {"type": "text", "data": "x"}}]}]}, "messages[0].content[0]"),
    ("openai-chat", "openai-responses", {"model": "c", "messages": [{"role": "user", "content": "x"}], "stop": "END"},
     "stop"),
    ("openai-chat", "anthropic-messages", {"model": "c", "messages": [
        {"role": "user", "content": "x"}, {"role": "system", "content": "late rule"},
        {"role": "user", "content": "y"}]},
     "messages[1]"),
    ("openai-chat", "anthropic-messages", {"model": "c", "messages": [{"role": "user", "content": "x"}], "n": 2}, "n"),
    ("openai-chat", "anthropic-messages", {"model": "c", "messages": [{"role": "user", "content": "x"}],
                                           "temperature": 1.5}, "temperature"),
    ("openai-chat", "anthropic-messages", {"model": "c", "messages": [
        {"role": "user", "content": "x"}, {"role": "assistant", "content": "Sure, here"}]}, "messages[1]"),
    ("openai-chat", "anthropic-messages", {"model": "c", "messages": [
        {"role": "user", "content": "x"}, {"role": "assistant", "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "[1]"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "ok"}]}, "messages[1].tool_calls[0].function.arguments"),
    ("anthropic-messages", "openai-chat", {"model": "c", "max_tokens": 5, "messages": [
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AA=="}}]}]}]},
     "messages[0].content[0].content[0]"),
    ("openai-responses", "openai-chat", {"model": "c", "input": "hi", "text": {"format": {"type": "json_schema"}}},
     "text.format"),
    ("openai-chat", "anthropic-messages", {"model": "c", "messages": [{"role": "user", "content": "x"}],
                                           "response_format": {"type": "json_object"}}, "response_format"),
    ("anthropic-messages", "openai-responses", {"model": "c", "max_tokens": 5, "top_k": 3,
                                                "messages": [{"role": "user", "content": "x"}]}, "top_k"),
])
def test_what_cannot_cross_is_refused_naming_the_field(source, target, body, field):
    with pytest.raises(BadRequest) as err:
        translate_request(body, source, target, "m")
    assert f"field '{field}'" in str(err.value)


def test_json_output_mode_crosses_between_the_openai_dialects():
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    body = {"model": "c", "messages": [{"role": "user", "content": "x"}],
            "response_format": {"type": "json_schema",
                                "json_schema": {"name": "out", "schema": schema, "strict": True}}}
    r = translate_request(body, "openai-chat", "openai-responses", "gpt")
    assert r["text"] == {"format": {"type": "json_schema", "name": "out", "schema": schema, "strict": True}}
    assert translate_request(r, "openai-responses", "openai-chat", "gpt")["response_format"] == body["response_format"]


# --- response bodies that do not fit -----------------------------------------------------------------

@pytest.mark.parametrize(("source", "body"), [
    ("openai-chat", {"choices": []}),
    ("openai-chat", {"choices": [{"message": {"content": 5}}]}),
    ("openai-chat", {"choices": [{"message": {"tool_calls": [{"function": {"name": "f", "arguments": {}}}]}}]}),
    ("openai-chat", {"error": {"message": "rate limited"}}),
    ("anthropic-messages", {"type": "message", "content": [{"type": "server_tool_use", "id": "s", "name": "web_search",
                                                           "input": {}}]}),
    ("anthropic-messages", {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}),
    ("openai-responses", {"status": "completed", "output": [{"type": "web_search_call", "id": "ws"}]}),
    ("openai-responses", {"status": "failed", "output": [], "error": {"message": "server had an error"}}),
    ("openai-responses", {"status": "completed", "output": [], "usage": {"input_tokens": "many"}}),
    ("openai-chat", []),
])
def test_upstream_bodies_that_do_not_fit_are_upstream_errors(source, body):
    target = "anthropic-messages" if source != "anthropic-messages" else "openai-chat"
    with pytest.raises(UpstreamUnavailable):
        translate_response(body, source, target, CLIENT_MODEL, "c")


def test_impossible_token_counts_are_refused():
    """Usage is billed: an upstream reporting counts no model produces is broken or hostile."""
    huge = {"input_tokens": 2 ** 63, "cache_read_input_tokens": 2 ** 63, "output_tokens": 1}
    body = {"type": "message", "content": [{"type": "text", "text": "hi"}], "stop_reason": "end_turn", "usage": huge}
    with pytest.raises(UpstreamUnavailable, match="impossible number of tokens"):
        translate_response(body, "anthropic-messages", "openai-chat", CLIENT_MODEL, "c")
    start = {"type": "message_start", "message": {"id": "m", "type": "message", "role": "assistant", "model": "m",
                                                  "content": [], "usage": huge}}
    tr = StreamTranslator("anthropic-messages", "openai-chat", CLIENT_MODEL, "c")
    tr.feed(b"event: message_start\ndata: " + orjson.dumps(start) + b"\n\n")
    with pytest.raises(StreamError, match="impossible number of tokens"):
        tr.feed(b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},'
                b'"usage":{"output_tokens":1}}\n\nevent: message_stop\ndata: {"type":"message_stop"}\n\n')
