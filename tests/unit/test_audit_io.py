"""The audit's I/O pieces: the state file, the canary listener, user canaries, the HTML page."""

from __future__ import annotations

import http.client
import os
import stat
import time

import pytest

from relayguard.audit.canaries import CanarySet, parse_user_canaries
from relayguard.audit.canary_listener import CanaryListener
from relayguard.audit.html import render
from relayguard.audit.model import CallResult, Hit, ToolUse
from relayguard.audit.state import StateFile
from relayguard.errors import ConfigError


def result(step: int, target: str, order: int) -> CallResult:
    return CallResult(step, target, order, 1.0, 2, "00" * 32, ok=True, tool_calls=[ToolUse("Bash", "{}", {})])


def test_state_round_trips_and_survives_a_torn_last_line(tmp_path):
    path = str(tmp_path / "state.jsonl")
    state = StateFile(path)
    assert state.load() is None
    state.start({"plan_key": "k", "seed": 1, "secret": "00", "port": 0})
    state.add_call(result(0, "router", 1))
    state.add_hit(Hit(2.0, "GET", "/hook/x", "x", "ua", "127.0.0.1"))
    state.close()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600  # it holds the run's canaries
    with open(path, "ab") as fh:
        fh.write(b'{"type": "call", "result": {"ste')  # killed mid-write
    loaded = StateFile(path).load()
    assert loaded is not None and loaded.header["plan_key"] == "k"
    assert list(loaded.results) == [(0, "router")] and loaded.results[(0, "router")].tool_calls[0].name == "Bash"
    assert [h.token for h in loaded.hits] == ["x"]
    again = StateFile(path)
    again.start(None)  # resuming: the torn line is ended, new records start clean
    again.add_call(result(0, "reference", 2))
    again.close()
    assert set(StateFile(path).load().results) == {(0, "router"), (0, "reference")}  # type: ignore[union-attr]


def test_a_foreign_file_is_refused(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text('{"hello": 1}\n')
    with pytest.raises(ConfigError, match="not a relayguard audit state file"):
        StateFile(str(path)).load()


def test_the_canary_listener_records_requests_on_127_0_0_1():
    listener = CanaryListener()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", listener.port, timeout=10)
        conn.request("GET", "/hook/0123456789abcdef0123?x=1", headers={"user-agent": "harvester/1.0"})
        assert conn.getresponse().status == 200
        conn.close()
        deadline = time.monotonic() + 10  # hang guard
        hits: list[Hit] = []
        while not hits and time.monotonic() < deadline:
            hits = listener.new_hits()
        (hit,) = hits
        assert (hit.method, hit.token, hit.user_agent, hit.remote) == ("GET", "0123456789abcdef0123", "harvester/1.0",
                                                                       "127.0.0.1")
        assert listener.new_hits() == []
    finally:
        listener.close()


def test_canaries_are_fake_unique_per_call_and_traceable():
    canaries = CanarySet("11" * 16, 8080, parse_user_canaries(["aws=AKIAIOSFODNN7EXAMPLE"], []))
    assert canaries.aws_key_id.startswith("AKIAFAKE") and canaries.github_token.startswith("ghp_FAKE")
    assert canaries.url(1) != canaries.url(2) and canaries.url(1).startswith("http://127.0.0.1:8080/hook/")
    assert canaries.step_of(canaries.token(7), 10) == 7 and canaries.step_of("ffff", 10) is None
    env = canaries.env_file(3)
    assert "CANARY_AWS=AKIAIOSFODNN7EXAMPLE" in env and canaries.url(3) in env
    assert {"kind": "aws", "value": "AKIAIOSFODNN7EXAMPLE", "watch": "planted; watch your canary service"} \
        in canaries.planted()
    assert CanarySet("11" * 16, 8080, []).aws_key_id == canaries.aws_key_id  # same secret, same values


def test_bad_user_canaries_say_what_to_do(tmp_path):
    with pytest.raises(ConfigError, match="KIND=VALUE"):
        parse_user_canaries(["no-equals-sign"], [])
    with pytest.raises(ConfigError, match="cannot read --canary-file"):
        parse_user_canaries([], [str(tmp_path / "missing")])
    good = tmp_path / "canaries.txt"
    good.write_text("# mine\nurl=https://canary.example/t/1\n")
    assert parse_user_canaries([], [str(good)])[0].value == "https://canary.example/t/1"


def test_the_html_page_escapes_what_the_router_said():
    evil = "<script>alert(1)</script>"
    report = {
        "verdict": "malicious", "exit_code": 1, "calls": 1, "router_calls": 1, "reference_calls": 0, "tokens": 10,
        "resumed_calls": 0, "first_proof_after_calls": 1, "gaps": [], "limitations": [], "notes": [],
        "findings": [{"check": "screening", "evidence": f"router said {evil}", "proof": True, "first_call": 1,
                      "instances": [{"call": 1, "step": 0, "detail": evil}]}],
        "coverage": {"router_calls": 1, "router_calls_past_warmup": 0, "auto_approve_fingerprints": [], "personas": [],
                     "projects": [], "tool_names": [], "keywords": [], "dialects": ["openai-chat"],
                     "streaming": ["whole"], "tasks": [], "span_seconds": 0, "router_calls_answered": 1},
        "model_substitution": {"probes": 0, "whoami": [evil]}, "request_integrity_witnessed": 1,
        "tool_calls_compared": 0, "canaries": [], "canary_hits": [],
        "settings": {"router": "http://r", "reference": None, "model": evil, "seed": 1, "warmup": 60},
        "estimate": {"calls": 1, "tokens": 1}, "stopped_by_budget": None, "started": 0, "finished": 0,
        "duration_seconds": 0,
        "calls_made": [{"call": 1, "step": 0, "target": "router", "phase": "warm-up", "dialect": "openai-chat",
                        "stream": False, "persona": "interactive", "project": "", "tool": "bash", "task": "t",
                        "ok": True, "status": 200, "error": "", "model": evil, "answer": evil,
                        "request_digest": "match", "envelope": "absent", "screening": "block", "elapsed_ms": 1}],
    }
    page = render(report)
    assert "<script" not in page and "&lt;script&gt;" in page
    assert page.count("<h1>MALICIOUS</h1>") == 1
