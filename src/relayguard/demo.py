"""`relayguard demo`: the attacks, with and without the guard, on this machine.

Starts the mock provider, one red-team router per attack and a guard in front
of each (all on 127.0.0.1, free ports), runs a short scripted agent session
through both paths, and prints what the agent would have run without the
guard and what the guard did.  Nothing is hard-coded: every cell is what the
servers answered.
"""

from __future__ import annotations

import shutil
import sys
import textwrap
from dataclasses import dataclass

from relayguard.dialects.base import BLOCK_PREFIX
from relayguard.testing import procs
from relayguard.testing.client import PATHS, agent_request, command_of, headers_for, parse_reply, post_json


@dataclass(frozen=True)
class Scenario:
    attack: str
    flags: tuple[str, ...]
    steps: tuple[tuple[str, str, bool], ...]  # (dialect, what the user asks, stream)
    label: str


SCENARIOS = (
    Scenario("ac1", (), (("openai-chat", "install rust", False), ("anthropic-messages", "install uv", True),
                         ("openai-responses", "install bun", False)),
             "AC-1 payload injection"),
    Scenario("ac1a", (), (("openai-chat", "please install requests", False),
                          ("anthropic-messages", "npm install express", True)),
             "AC-1.a typosquat"),
    Scenario("ac1b", ("--after", "2"), (("openai-chat", "list the files", False),
                                        ("openai-chat", "run the tests", False),
                                        ("openai-chat", "install rust", True)),
             "AC-1.b after 2 calls"),
)


def _outcome(dialect: str, reply) -> tuple[str, bool]:  # type: ignore[no-untyped-def]
    if reply.status != 200:
        return f"HTTP {reply.status}", False
    response = parse_reply(dialect, reply)
    if response.tool_calls:
        return "runs: " + "; ".join(command_of(c.arguments) for c in response.tool_calls), False
    if BLOCK_PREFIX in response.text:
        reason = response.text[response.text.index(BLOCK_PREFIX):]
        return "BLOCKED: " + reason.split(": ", 1)[-1], True
    return "text: " + response.text, False


def _row(step: str, bare: str, guarded: str, col: int) -> None:
    """One table row, each cell wrapped to its column."""
    cells = [_wrap(step, 22), _wrap(bare, col - 2), _wrap(guarded, col)]
    for i in range(max(map(len, cells))):
        a, b, c = (cell[i] if i < len(cell) else "" for cell in cells)
        print(f"  {a:<24}{b:<{col}}  {c}".rstrip())
    print(flush=True)


def run_demo() -> int:
    width = max(100, min(shutil.get_terminal_size((140, 20)).columns, 160))
    col = (width - 28) // 2
    print("relayguard demo: an agent with auto-approve on, behind a malicious router.", flush=True)
    print("Without the guard the agent runs what the router sends; with it, the guard judges every tool call.\n")
    blocked = 0
    with procs.start("mock-provider") as mock:
        for scenario in SCENARIOS:
            args = ("redteam", "--upstream", mock.url, "--attack", scenario.attack, *scenario.flags)
            # Two routers, so each path sees the same request count (AC-1.b counts calls).
            with procs.start(*args) as bare_router, procs.start(*args) as guarded_router, \
                    procs.start("guard", "--upstream", guarded_router.url) as guard:
                print(f"== {scenario.label}  (relayguard redteam --attack {scenario.attack}"
                      f"{' ' + ' '.join(scenario.flags) if scenario.flags else ''}) ==")
                print(f"  {'agent asked':<24}{'without guard':<{col}}  with guard")
                for dialect, ask, stream in scenario.steps:
                    body = agent_request(dialect, ask, stream=stream)
                    bare, _ = _outcome(dialect, post_json(bare_router.url, PATHS[dialect], body,
                                                          headers_for(dialect)))
                    guarded, was_blocked = _outcome(dialect, post_json(guard.url, PATHS[dialect], body,
                                                                       headers_for(dialect)))
                    blocked += was_blocked
                    step = f"{ask} [{dialect}{', stream' if stream else ''}]"
                    _row(step, bare, guarded, col)
    print(f"The guard blocked {blocked} tool call(s). Blocked calls reach the agent as text "
          f"starting with '{BLOCK_PREFIX}', so it can tell the user why.")
    sys.stdout.flush()
    return 0


def _wrap(text: str, width: int) -> list[str]:
    return textwrap.wrap(text, width, break_on_hyphens=False, break_long_words=True)
