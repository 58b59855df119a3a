"""Attacker-controlled scripts: relayguard.shell.parse must return commands or
raise ShellParseError, nothing else, in bounded time; the policy gate must
return findings (never raise) for any text a router puts in a shell tool call."""

from __future__ import annotations

import json
import time

from hypothesis import HealthCheck, given, settings, strategies as st

from relayguard import shell
from relayguard.exchange import Exchange, Request, ToolCall
from relayguard.inspectors.policy_gate import PolicyGate
from relayguard.shell import ShellParseError, parse, parse_script

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Generous: the parser's own CPU budget is 0.25 s; a loaded 2-core machine needs slack.
TIME_LIMIT = 10.0  # a hang guard, not a speed test: the quadratic inputs it guards against took ~50 s

SHELL_PIECES = [
    "curl ", "wget -qO- ", "https://evil.example/x.sh", "https://sh.rustup.rs", " | ", " |& ", " && ",
    " || ", "; ", " & ", "\n", "bash", "sh -c ", "bash -lc ", "python3 -c ", "eval ", "sudo -E ",
    "env A=1 ", "xargs ", "timeout 5 ", "$(", ")", "`", "<(", ">(", "${", "}", "$((", "))", "'", '"',
    "\\", "\\\n", "$'\\x63'", "<<EOF\n", "<<'EOF'\n", "<<-E\n", "EOF\n", "E\n", "<<< ", "> ", ">> ",
    "< ", "2>&1 ", "a=cu; ", "b=rl; ", "$a$b ", "IFS=, ", "${IFS}", "f() { ", "}; f", "{ ", "(", "if ",
    "then ", "fi ", "for i in ", "do ", "done", "while ", "case $x in ", "esac", "[[ ", "]] ", "#",
    "*", "?", "[", "{a,b}", "~", "!", "x", " ", "\t", "é", "\x00", "\ud800", "iwr ", "| iex",
    "export ", "declare -x ", "read -r l; ", "unset a; ", "echo ", "printf '%s' ", "cat ",
]

shellish = st.lists(st.sampled_from(SHELL_PIECES), max_size=60).map("".join)
anything = st.text(max_size=400)
GATE = PolicyGate()


def _exchange() -> Exchange:
    req = Request(dialect="openai-chat", path="/v1/chat/completions", body={}, raw=b"",
                  headers=[], model="m", stream=False)
    return Exchange(id="fuzz", request=req)


def check_parse(script: str) -> None:
    start = time.perf_counter()
    try:
        result = parse_script(script)
    except ShellParseError:
        pass
    else:
        assert isinstance(result.has_error, bool)
        for cmd in result.commands:
            assert isinstance(cmd, shell.Command)
            assert all(isinstance(w, str) for w in cmd.argv)
            assert all(0 <= k < len(cmd.argv) for k in cmd.unresolved)
            assert cmd.has_unresolved == bool(cmd.unresolved)
            assert cmd.parent is None or 0 <= cmd.parent < len(result.commands)
            assert cmd.depth <= shell.MAX_NESTING
            assert cmd.stage >= 0
    assert time.perf_counter() - start < TIME_LIMIT


def check_gate(script: str) -> None:
    start = time.perf_counter()
    call = ToolCall(id="c1", name="bash", raw_arguments=json.dumps({"command": script}),
                    arguments={"command": script})
    findings = GATE.on_tool_call(_exchange(), call)
    for f in findings:
        assert f.severity == "block" and f.tool_call == "c1" and f.message
    assert time.perf_counter() - start < TIME_LIMIT


@FUZZ
@given(anything)
def test_parse_takes_any_text(script):
    check_parse(script)


@FUZZ
@given(shellish)
def test_parse_takes_shellish_text(script):
    check_parse(script)


@FUZZ
@given(shellish)
def test_gate_takes_shellish_text(script):
    check_gate(script)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(SHELL_PIECES), min_size=1, max_size=8), st.integers(500, 6000))
def test_large_repetitive_scripts_stay_bounded(pieces, repeat):
    script = ("".join(pieces) * repeat)[: shell.MAX_SCRIPT_BYTES]
    check_parse(script)
    check_gate(script)


@FUZZ
@given(st.integers(0, 12), st.sampled_from(["$(", "<(", "`", "bash -c '", "("]))
def test_nesting_depth_is_bounded(levels, opener):
    closer = {"$(": ")", "<(": ")", "`": "`", "bash -c '": "'", "(": ")"}[opener]
    script = "echo " + opener * levels + "curl x" + closer * levels
    try:
        cmds = parse(script)
    except ShellParseError:
        return
    assert all(c.depth <= shell.MAX_NESTING for c in cmds)
