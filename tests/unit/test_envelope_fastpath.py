"""The signer's fast paths give exactly what the reference paths give.

``envelope_jcs.parse_quick`` (orjson + a walk) must return the same value and
``simple`` flag as ``parse`` (json + hooks), or raise the same way, for every
argument text; texts it cannot judge (duplicate names, floats, big integers,
lone surrogates, deep nesting) must go to ``parse``.  ``sign_response`` must
produce the very transport string that ``sign(build_payload(...))`` does
(Ed25519 is deterministic, so equal payload bytes give equal strings).
"""

from __future__ import annotations

import hashlib
import json

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relayguard import envelope as E
from relayguard import envelope_jcs as J
from relayguard.envelope import KeySet, SigningKey
from relayguard.envelope_jcs import NotIJSON, canonical, parse, parse_quick
from relayguard.exchange import Response, ToolCall

KEY = SigningKey.from_seed(hashlib.sha256(b"fast path test key").digest())
NOW = 1_767_225_600
REQUEST = b'{"model":"m","messages":[]}'

# (argument text, must the reference parser decide it?)
CORPUS = [
    ('{"command": "pip install requests"}', False),
    ('{"url": "https://example.com:8443/a?b=c:d", "n": 3}', False),
    ('{"k:": 1, "k::": ["a:b", {"c:": ":"}]}', False),
    ('{"a": [], "b": {}, "c": null, "d": true, "e": false, "f": -0, "g": ""}', False),
    ('{"é": "ü", "日本": "語", "emoji": "\U0001F600"}', False),
    ('{"n": 9007199254740991, "m": -9007199254740991}', False),
    ('[1, "two", [3, [4, {"five": 5}]]]', False),
    ('"just a string: with a colon"', False),
    ("42", False),
    ("null", False),
    (" \t\n{\"spaced\" : 1 }\r\n", False),
    ('{"\ue000": 1, "a": 2}', False),  # a name beyond U+E000: parsed quickly, but not "simple"
    ('{"\uffff\U0001F600": {"\ue001": 1}}', False),
    ("[" * 64 + "]" * 64, False),
    # duplicates, in every position
    ('{"a": 1, "a": 2}', True),
    ('{"a": 1, "b": {"c": 1, "c": 1}}', True),
    ('[{"x": 1}, {"y": 2, "y": 2}]', True),
    ('{"url": "http://h:1", "a": 1, "a": 2}', True),
    ('{"k:": 1, "k:": 2}', True),
    ('{"": 1, "": 2}', True),
    ('{"\\u0061": 1, "a": 2}', True),  # the same name, once escaped
    ('{"u": "\\u003a", "a": 1, "a": 2}', True),  # an escaped colon hiding a duplicate
    ('{"u": "\\u003A", "a": 1}', True),
    ('{"u\\u003a": 1}', True),
    # numbers the reference normalises or refuses
    ('{"x": 1.0}', True),
    ('{"x": 1e2, "y": -0.0}', True),
    ('{"x": 0.1, "y": 2.5e-3}', True),
    ('{"n": 9007199254740992}', True),
    ('{"n": 9007199254740993}', True),
    ('{"n": -9007199254740993}', True),
    ('{"n": 18446744073709551616}', True),
    ("1e400", True),
    ("NaN", True),
    ('{"x": Infinity}', True),
    # not Unicode, not JSON, too deep
    ('"\\ud800"', True),
    ('{"a": "\\udc00x"}', True),
    ('{"a": "\\ud83d\\ude00"}', False),  # a surrogate pair is a character
    ("[" * 65 + "]" * 65, True),
    ("[" * 2000 + "]" * 2000, True),
    ("", True),
    ("{", True),
    ('{"a": 1,}', True),
    ("\ufeff{}", True),
    ('{"a": "\x00"}', True),
]


def outcome(fn, text):
    try:
        value, simple = fn(text)
    except NotIJSON as exc:
        return "refused", str(exc)
    return "parsed", canonical(value, simple), simple, repr(value), type(value)


@pytest.mark.parametrize("as_bytes", [False, True])
@pytest.mark.parametrize(("text", "reference"), CORPUS)
def test_quick_parse_equals_the_reference(text, reference, as_bytes, monkeypatch):
    data = text.encode("utf-8", "surrogatepass") if as_bytes else text
    expected = outcome(parse, data)
    calls = []

    def spy(*args, **kw):
        calls.append(args)
        return parse(*args, **kw)

    monkeypatch.setattr(J, "parse", spy)
    assert outcome(parse_quick, data) == expected
    assert bool(calls) == reference, "took the wrong path"


def test_lone_surrogates_in_a_python_string_take_the_reference_path():
    text = '{"a": "\ud800"}'  # what a lenient decoder can leave in raw_arguments
    with pytest.raises(NotIJSON):
        parse(text)
    with pytest.raises(NotIJSON):
        parse_quick(text)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**60, 2**60) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.characters(blacklist_categories=("Cs",)) | st.sampled_from(":\"\\\ue000\U0001F600")),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(alphabet=st.sampled_from("ab:\u00e9\ue000\U0001F600"), max_size=3), children,
                      max_size=4),
    max_leaves=20)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=json_values, ascii_only=st.booleans(), dup=st.booleans())
def test_quick_parse_equals_the_reference_on_generated_texts(value, ascii_only, dup):
    text = json.dumps(value, ensure_ascii=ascii_only)
    if dup and text.startswith("{") and text != "{}":
        text = text[:-1] + ", " + text[1:]  # every member twice
    assert outcome(parse_quick, text) == outcome(parse, text)


def signed_both_ways(resp: Response, nonce: str = "n0nce", ttl: int = 300) -> tuple[str, str]:
    fast = E.sign_response(resp, KEY, provider="gw", nonce=nonce, request_body=REQUEST, now=NOW, ttl=ttl)
    reference = E.sign(E.build_payload(resp, provider="gw", nonce=nonce, request_body=REQUEST, kid=KEY.kid,
                                       now=NOW, ttl=ttl), KEY)
    return fast, reference


@pytest.mark.parametrize(("text", "reference"), CORPUS)
def test_sign_response_signs_what_sign_of_build_payload_signs(text, reference):
    resp = Response(model="m-1", text="ok", finish_reason="tool_calls",
                    tool_calls=[ToolCall("call_1", "bash", text), ToolCall("call_2", "read", '{"path": "a"}')])
    fast, ref = signed_both_ways(resp)
    assert fast == ref
    E.verify(fast, KeySet([KEY.public()]), response=resp, nonce="n0nce", request_body=REQUEST, now=NOW + 1)


def test_sign_response_matches_with_digested_and_raw_arguments():
    big = orjson.dumps({"content": "x" * 5000, "f": 0.5}).decode()
    resp = Response(model="m", text="", finish_reason="stop", tool_calls=[
        ToolCall("c1", "write", big), ToolCall("c2", "sh", "not json: {"), ToolCall("c3", "sh", "\ud800 lone"),
        ToolCall("c4", "sh", '{"a": 1, "a": 2}'), ToolCall("c5", "sh", '{"\ue000": 1.5}')])
    fast, ref = signed_both_ways(resp)
    assert fast == ref
    payload = E.decode_payload(E.b64u_decode(orjson.loads(E.b64u_decode(fast))["payload"]))
    forms = [("arguments_sha256" if c.arguments_sha256 else "arguments_raw" if c.arguments_raw is not None
              else "arguments") for c in payload.tool_calls]
    assert forms == ["arguments_sha256", "arguments_raw", "arguments_sha256", "arguments_raw", "arguments"]


def test_sign_response_matches_for_odd_times_and_nonces():
    resp = Response(model="m", text="t", finish_reason="stop", tool_calls=[ToolCall("c", "f", '{"a": 1}')])
    for nonce in ("", "bad nonce with spaces", "x" * 300):
        fast, ref = signed_both_ways(resp, nonce=nonce)
        assert fast == ref
