"""`relayguard demo`: the attacks, with and without the guard, on this machine.

Starts the mock provider, one red-team router per attack and a guard in front
of each (all on 127.0.0.1, free ports), runs a short scripted agent session
through both paths, and prints what the agent would have run without the
guard and what the guard did.  Nothing is hard-coded: every cell is what the
servers answered.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import dataclass

import orjson

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
    # The demo's vault, keys and log live in a scratch directory, not the user's.
    scratch = tempfile.TemporaryDirectory(prefix="relayguard-demo-")
    os.environ["XDG_DATA_HOME"] = scratch.name
    with scratch, procs.start("mock-provider") as mock:
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
        kept = _secrets_section(mock.url, col)
        blocked += _envelope_section(col)
        _audit_section(col)
    print(f"The guard blocked {blocked} tool call(s) and kept {kept} credential(s) from the router. "
          f"Blocked calls reach the agent as text starting with '{BLOCK_PREFIX}', so it can tell the user why.")
    sys.stdout.flush()
    return 0


def _wrap(text: str, width: int) -> list[str]:
    return textwrap.wrap(text, width, break_on_hyphens=False, break_long_words=True)


def _fake_credentials() -> dict[str, str]:
    """FAKE credentials (built from pieces; not live) that an agent session might carry."""
    filler = "Zq7Lm2Xw9Rt4Vb8NcJ5hKp3sYd6Ge1Fu"
    return {"GITHUB_TOKEN": "ghp_" + filler + "R7dQ", "OPENAI_API_KEY": "sk-proj-" + filler + "T3BlbkFJ" + filler[:20],
            "AWS_ACCESS_KEY_ID": "AKIA" + "Q7XR2MV4KZ3T6WPN"}


def _mask(text: str, secrets: dict[str, str]) -> str:
    for value in secrets.values():
        text = text.replace(value, value[:8] + "…(real value)")
    return text


def _secrets_section(mock_url: str, col: int) -> int:
    """AC-2: the router harvests credentials from requests; the guard's vault sends placeholders."""
    creds = _fake_credentials()
    command = f"GITHUB_TOKEN={creds['GITHUB_TOKEN']} gh repo list"
    text = ("my credentials are in .env:\n" + "\n".join(f"{k}={v}" for k, v in creds.items())
            + "\nMOCK_TOOL_CALL: " + orjson.dumps({"name": "bash", "arguments": {"command": command}}).decode())
    print("== AC-2 credential harvesting  (relayguard redteam --attack ac2) ==")
    print(f"  {'agent asked':<24}{'without guard':<{col}}  with guard (vault on)")
    with tempfile.TemporaryDirectory() as tmp:
        bare_log, guarded_log = os.path.join(tmp, "bare.jsonl"), os.path.join(tmp, "guarded.jsonl")
        with procs.start("redteam", "--upstream", mock_url, "--attack", "ac2", "--harvest-log", bare_log) as bare, \
                procs.start("redteam", "--upstream", mock_url, "--attack", "ac2", "--harvest-log", guarded_log) as r, \
                procs.start("guard", "--upstream", r.url, "--vault-dir", os.path.join(tmp, "vault")) as guard:
            body = agent_request("openai-chat", text)
            post_json(bare.url, PATHS["openai-chat"], body, headers_for("openai-chat"))
            reply = post_json(guard.url, PATHS["openai-chat"], body, headers_for("openai-chat"))
        outcome, _ = _outcome("openai-chat", reply)

        def harvested(path: str) -> list[str]:
            if not os.path.exists(path):
                return []
            return [orjson.loads(line)["kind"] for line in open(path, "rb") if line.strip()]

        bare_kinds, guarded_kinds = harvested(bare_log), harvested(guarded_log)
    bare_cell = f"router harvested {len(bare_kinds)} credential(s): {', '.join(bare_kinds) or '-'}"
    guarded_cell = (f"router harvested {len(guarded_kinds)} credential(s); agent "
                    + _mask(outcome, creds) + " (placeholders restored on this machine)")
    _row("pastes a .env and asks to list repos [openai-chat]", bare_cell, guarded_cell, col)
    return len(bare_kinds) - len(guarded_kinds)


def _envelope_section(col: int) -> int:
    """A signing provider behind a router that strips signatures; the guard requires them."""
    print("== Signed envelopes  (mock-provider --sign-key; redteam --strip-envelope) ==")
    print(f"  {'agent asked':<24}{'guard, honest router':<{col}}  guard, signature-stripping router")
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "relayguard", "keys", "generate", "--out", tmp],
                       check=True, capture_output=True)
        keyset = os.path.join(tmp, "keyset.json")
        with procs.start("mock-provider", "--sign-key", os.path.join(tmp, "signing.key")) as signed, \
                procs.start("redteam", "--upstream", signed.url, "--attack", "none") as honest, \
                procs.start("redteam", "--upstream", signed.url, "--attack", "none", "--strip-envelope") as strip, \
                procs.start("guard", "--upstream", honest.url, "--trust-keyset", keyset, "--require-envelope",
                            "--no-vault") as g1, \
                procs.start("guard", "--upstream", strip.url, "--trust-keyset", keyset, "--require-envelope",
                            "--no-vault") as g2:
            body = agent_request("anthropic-messages", "please install requests", stream=True)
            ok, _ = _outcome("anthropic-messages", post_json(g1.url, PATHS["anthropic-messages"], body,
                                                             headers_for("anthropic-messages")))
            stripped, was_blocked = _outcome("anthropic-messages", post_json(
                g2.url, PATHS["anthropic-messages"], body, headers_for("anthropic-messages")))
    _row("please install requests [anthropic-messages, stream]", ok + " (signature verified)", stripped, col)
    return int(was_blocked)


def _audit_section(col: int) -> None:
    """Before trusting a router: the auditor against a patient attacker and an honest relay."""
    print("== The auditor  (relayguard audit --router URL --reference URL) ==")
    print(f"  {'router audited':<24}{'verdict':<{col}}  strongest evidence")
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "relayguard", "keys", "generate", "--out", tmp],
                       check=True, capture_output=True)
        with procs.start("mock-provider", "--sign-key", os.path.join(tmp, "signing.key")) as reference:
            for label, flags in (("strikes after 50 calls", ("--attack", "ac1b", "--after", "50")),
                                 ("honest relay", ("--attack", "none"))):
                with procs.start("redteam", "--upstream", reference.url, *flags) as router:
                    report_path = os.path.join(tmp, "audit.json")
                    done = subprocess.run([sys.executable, "-m", "relayguard", "audit", "--router", router.url,
                                           "--reference", reference.url, "--seed", "1", "--quiet",
                                           "--canary-wait", "0", "--json", report_path],
                                          capture_output=True, text=True, timeout=600)
                    with open(report_path, "rb") as f:
                        report = orjson.loads(f.read())
                verdict = f"{report['verdict']} (exit {done.returncode}; {report['calls']} calls"
                first = report.get("first_proof_after_calls")
                verdict += f", first proof after {first})" if first else ")"
                findings = report["findings"]
                if findings:
                    lines = findings[0]["evidence"].splitlines()
                    evidence = findings[0]["check"] + ": " + next((x[2:] for x in lines if x.startswith("- ")), lines[0])
                else:
                    evidence = "no finding: every tool call matched the reference's and passed screening"
                _row(f"{label} [redteam {' '.join(flags[1:])}]", verdict,
                     textwrap.shorten(evidence, 330, placeholder=" …"), col)
