"""`relayguard mock-provider`: fault injection, live fault control, counters,
request digests and model personas, through the real command on real ports."""

from __future__ import annotations

import hashlib
import http.client
import socket
from urllib.parse import urlsplit

import orjson
import pytest

from relayguard.testing.client import PATHS, agent_request, headers_for, post_json, request

DIALECTS = ("openai-chat", "openai-responses", "anthropic-messages")
EACH_DIALECT = pytest.mark.parametrize("dialect", DIALECTS)
STREAMS = pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
TERMINAL_MARKERS = {"openai-chat": b"[DONE]", "anthropic-messages": b"message_stop",
                    "openai-responses": b"response.completed"}


def _ask(url, dialect, prompt="MOCK_TEXT: hello", stream=False, model="mock-large", timeout=30.0):
    body = agent_request(dialect, prompt, stream=stream, model=model)
    return post_json(url, PATHS[dialect], body, headers_for(dialect), timeout=timeout)


def _stats(url):
    reply = request(url, "GET", "/mock/stats")
    assert reply.status == 200, reply.body
    return reply.json()


def _set_faults(url, settings):
    return post_json(url, "/mock/faults", settings)


def _raw_post(url: str, path: str, body: bytes) -> bytes:
    """Everything the server sends until it closes the connection (HTTP/1.1, one request)."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(b"POST %s HTTP/1.1\r\nhost: mock\r\ncontent-type: application/json\r\n"
                     b"content-length: %d\r\n\r\n%s" % (path.encode(), len(body), body))
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data


# --- failures with a status ---------------------------------------------------------


@EACH_DIALECT
def test_status_with_retry_after_fails_every_request_in_the_dialect(servers, wire, dialect):
    mock = servers.get("mock-provider", "--status", "429", "--retry-after", "7")
    for stream in (False, True):
        reply = _ask(mock.url, dialect, stream=stream)
        message = wire.error_body(dialect, reply, 429)
        assert "injected failure" in message
        assert reply.headers.get("retry-after") == "7"
        assert reply.json()["error"]["type"] == "rate_limit_error"


@EACH_DIALECT
def test_status_without_retry_after_sends_none(servers, wire, dialect):
    mock = servers.get("mock-provider", "--status", "502")
    reply = _ask(mock.url, dialect)
    wire.error_body(dialect, reply, 502)
    assert "retry-after" not in reply.headers


def test_fail_rate_is_seeded_and_counted(fresh_server):
    mock = fresh_server("mock-provider", "--fail-rate", "0.5", "--seed", "7")
    first = [_ask(mock.url, "openai-chat").status for _ in range(30)]
    assert set(first) == {200, 500}, first  # a fraction fails, the default status is 500
    assert 5 <= first.count(500) <= 25, first
    stats = _stats(mock.url)
    assert stats["requests"] == 30 and stats["failed"] == first.count(500)
    # The same settings posted live reseed the RNG: the same requests fail again.
    assert _set_faults(mock.url, {"fail_rate": 0.5, "seed": 7}).status == 200
    again = [_ask(mock.url, "openai-chat").status for _ in range(30)]
    assert again == first
    # Another seed picks other requests.
    assert _set_faults(mock.url, {"fail_rate": 0.5, "seed": 8}).status == 200
    assert [_ask(mock.url, "openai-chat").status for _ in range(30)] != first


def test_faults_change_live_and_clear(fresh_server, wire):
    mock = fresh_server("mock-provider", "--name", "provider-a")
    assert _ask(mock.url, "anthropic-messages").status == 200
    reply = _set_faults(mock.url, {"fail_rate": 1.0, "status": 503, "retry_after": 3})
    assert reply.status == 200 and reply.json()["status"] == 503
    assert request(mock.url, "GET", "/mock/faults").json()["fail_rate"] == 1.0
    failed = _ask(mock.url, "anthropic-messages", model="mock-small")
    wire.error_body("anthropic-messages", failed, 503)
    assert failed.headers.get("retry-after") == "3"
    assert _set_faults(mock.url, {}).status == 200  # {} clears every fault
    assert _ask(mock.url, "anthropic-messages").status == 200
    assert _stats(mock.url) == {"name": "provider-a", "requests": 3, "failed": 1,
                                "by_model": {"mock-large": 2, "mock-small": 1}}
    # the counters can be zeroed between test phases
    assert request(mock.url, "DELETE", "/mock/stats").json()["requests"] == 0
    assert _stats(mock.url)["by_model"] == {}


@pytest.mark.parametrize("settings, word", [
    ({"fail_rate": 2}, "fail_rate"),
    ({"status": 200}, "status"),
    ({"status": 500, "retry_after": 3}, "429 or 503"),
    ({"hang": True, "drop_mid_stream": True}, "choose one"),
    ({"failrate": 0.5}, "unknown fault setting"),
    (["not", "an", "object"], "JSON object"),
])
def test_bad_live_settings_are_refused_and_change_nothing(servers, settings, word):
    mock = servers.get("mock-provider", "--name", "bad-settings")
    reply = _set_faults(mock.url, settings)
    assert reply.status == 400
    assert word in reply.json()["error"]["message"]
    assert _ask(mock.url, "openai-chat").status == 200


@pytest.mark.parametrize("flags, word", [
    (("--fail-rate", "1.5"), "--fail-rate"),
    (("--retry-after", "5"), "--status 429"),
    (("--status", "302"), "--status"),
    (("--hang", "--drop-mid-stream"), "choose one"),
])
def test_bad_flags_exit_2_naming_the_flag(wire, flags, word):
    done = wire.run_cli("mock-provider", *flags)
    assert done.returncode == 2
    assert word in done.stderr.decode(), done.stderr


# --- delay and hang -----------------------------------------------------------------


def test_delay_holds_the_response_headers(servers):
    mock = servers.get("mock-provider", "--delay-ms", "2000")
    with pytest.raises(TimeoutError):  # 2 s of delay always outlast a 0.3 s client timeout
        _ask(mock.url, "openai-chat", timeout=0.3)
    assert _ask(mock.url, "openai-chat", timeout=60).status == 200


def test_hang_never_answers_until_the_client_gives_up(fresh_server):
    mock = fresh_server("mock-provider", "--hang")
    with pytest.raises(TimeoutError):
        _ask(mock.url, "openai-responses", timeout=1.0)
    with pytest.raises(TimeoutError):
        _ask(mock.url, "openai-responses", stream=True, timeout=1.0)
    stats = _stats(mock.url)  # the control endpoints never hang
    assert stats["requests"] == 2 and stats["failed"] == 2
    assert _set_faults(mock.url, {}).status == 200
    assert _ask(mock.url, "openai-responses").status == 200


# --- connections dropped mid-answer -------------------------------------------------


@EACH_DIALECT
def test_dropped_stream_never_carries_the_terminal_event(servers, dialect):
    mock = servers.get("mock-provider", "--drop-mid-stream")
    body = orjson.dumps(agent_request(dialect, "install rust", stream=True))
    data = _raw_post(mock.url, PATHS[dialect], body)
    head, _, payload = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    assert b"transfer-encoding: chunked" in head.lower()
    assert b"data: " in payload, "the first part of the stream should arrive"
    assert TERMINAL_MARKERS[dialect] not in payload
    assert not payload.endswith(b"0\r\n\r\n"), "the chunked body must not be terminated"


@EACH_DIALECT
def test_dropped_whole_response_is_incomplete(servers, dialect):
    mock = servers.get("mock-provider", "--drop-mid-stream")
    parts = urlsplit(mock.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request("POST", PATHS[dialect], orjson.dumps(agent_request(dialect, "install rust")),
                     {"content-type": "application/json"})
        resp = conn.getresponse()
        assert resp.status == 200
        with pytest.raises(http.client.IncompleteRead) as cut:
            resp.read()
    finally:
        conn.close()
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(cut.value.partial)


def test_drop_with_fail_rate_cuts_only_some(fresh_server):
    mock = fresh_server("mock-provider", "--drop-mid-stream", "--fail-rate", "0.5", "--seed", "1")
    outcomes = []
    for _ in range(12):
        try:
            outcomes.append(_ask(mock.url, "openai-chat").status)
        except http.client.IncompleteRead:
            outcomes.append("cut")
    assert 200 in outcomes and "cut" in outcomes, outcomes
    assert _stats(mock.url)["failed"] == outcomes.count("cut")


# --- headers every response carries -------------------------------------------------


@STREAMS
@EACH_DIALECT
def test_every_response_names_the_provider_and_the_request_digest(servers, dialect, stream):
    mock = servers.get("mock-provider", "--name", "mock-east")
    body = orjson.dumps(agent_request(dialect, "MOCK_TEXT: hi", stream=stream))
    reply = request(mock.url, "POST", PATHS[dialect], body, {"content-type": "application/json"})
    assert reply.status == 200
    assert reply.headers["x-mock-provider"] == "mock-east"
    assert reply.headers["x-mock-request-sha256"] == hashlib.sha256(body).hexdigest()


def test_errors_and_control_endpoints_carry_the_digest_too(servers):
    mock = servers.get("mock-provider", "--name", "mock-east")
    for method, path, body in (("GET", "/mock/stats", None), ("GET", "/v1/models", None),
                               ("POST", "/v1/nothing-here", b'{"x": 1}'),
                               ("POST", "/v1/chat/completions", b"{not json")):
        reply = request(mock.url, method, path, body, {"content-type": "application/json"})
        assert reply.headers["x-mock-request-sha256"] == hashlib.sha256(body or b"").hexdigest(), path
        assert reply.headers["x-mock-provider"] == "mock-east"


# --- model personas -----------------------------------------------------------------


def _text(dialect, reply, wire):
    return wire.parse(dialect, reply, False).text


def _expected_probe(model: str, token: str) -> str:
    return f"probe {token}: {hashlib.sha256(f'{model}:{token}'.encode()).hexdigest()[:16]}"


def test_models_are_listed(mock):
    ids = {m["id"] for m in request(mock.url, "GET", "/v1/models").json()["data"]}
    assert {"mock-large", "mock-small", "mock-fast"} <= ids


@EACH_DIALECT
def test_probe_answers_depend_on_the_model_served(mock, wire, dialect):
    answers = {}
    for model in ("mock-large", "mock-small", "mock-fast", "gpt-4o"):
        text = _text(dialect, _ask(mock.url, dialect, "MOCK_PROBE: nonce-42", model=model), wire)
        assert text == _expected_probe(model, "nonce-42")
        assert _text(dialect, _ask(mock.url, dialect, "MOCK_PROBE: nonce-42", model=model), wire) == text
        answers[model] = text
    assert len(set(answers.values())) == 4, answers


@EACH_DIALECT
def test_identity_question_names_the_model_served(mock, wire, dialect):
    for model in ("mock-small", "claude-sonnet-4-5"):
        assert _text(dialect, _ask(mock.url, dialect, "Which model are you, exactly?", model=model), wire) \
            == f"I am {model}."


def test_generic_answers_separate_the_personas(mock, wire):
    prompts = ["How should I structure a config loader?", "Explain what a mutex is.",
               "Is it worth adding type hints here?", "Review my plan for the refactor.",
               "Why is my build slow?"]
    words = {}
    for model in ("mock-small", "mock-fast", "mock-large"):
        texts = [_text("openai-chat", _ask(mock.url, "openai-chat", p, model=model), wire) for p in prompts]
        again = [_text("openai-chat", _ask(mock.url, "openai-chat", p, model=model), wire) for p in prompts]
        assert texts == again, "the same request must get the same answer"
        words[model] = [len(t.split()) for t in texts]
    # Every answer of a smaller persona is shorter than every answer of a larger one.
    assert max(words["mock-small"]) < min(words["mock-fast"]), words
    assert max(words["mock-fast"]) < min(words["mock-large"]), words


def test_unknown_models_answer_like_mock_large(mock, wire):
    prompt = "Tell me about dependency pinning."
    large = _text("openai-chat", _ask(mock.url, "openai-chat", prompt, model="mock-large"), wire)
    other = _text("openai-chat", _ask(mock.url, "openai-chat", prompt, model="some-new-model"), wire)
    assert other == large
