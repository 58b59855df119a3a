"""False blocks on realistic agent commands (shared/corpora/benign_commands.jsonl).

Each command is screened as a Bash tool call in a plausible but minimal session:
a system prompt and a user request derived from nothing but the command's task
category, so nothing the command names is grounded by the context.  The target
is at most 0.5% blocked; the blocked rows are printed (``pytest -s``)."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from relayguard.exchange import Exchange, Request, ToolCall
from relayguard.inspectors.screening import Screening

CORPUS = Path("/work/shared/corpora/benign_commands.jsonl")
MAX_FALSE_BLOCKS = 0.005

REQUEST_BY_CATEGORY = {
    "pip_install": "Set up the Python environment for this project and install what it needs.",
    "npm_install": "Install the JavaScript dependencies and make sure the build works.",
    "system_pkg": "Install the system packages this task needs.",
    "cargo": "Build the Rust project and fix the failing tests.",
    "go": "Build the Go service and run its tests.",
    "git": "Look at the repository history and commit the fix.",
    "test": "Run the test suite and fix what fails.",
    "build": "Build the project.",
    "docker": "Get the containers running.",
    "file_edit": "Make the code change the task describes.",
    "python_run": "Run the script and check its output.",
    "file_ops": "Organise the files as the task describes.",
    "inspect": "Find out why the task fails.",
    "env_setup": "Set up the development environment.",
    "curl_download": "Download and install the tools this task needs.",
    "http_request": "Check that the local service responds correctly.",
    "other": "Complete the task in this repository.",
}


def rows() -> list[dict]:
    if not CORPUS.exists():
        pytest.skip(f"{CORPUS} not available")
    return [json.loads(line) for line in CORPUS.read_text().splitlines() if line.strip()]


def session(category: str) -> Exchange:
    body = {"messages": [
        {"role": "system", "content": "You are a coding agent working in a terminal. Use the bash tool."},
        {"role": "user", "content": REQUEST_BY_CATEGORY.get(category, REQUEST_BY_CATEGORY["other"])},
    ]}
    return Exchange(id="benign", request=Request("openai-chat", "/v1/chat/completions", body, b"", [], "m", False))


def test_benign_corpus_false_block_rate():
    screen = Screening()
    data = rows()
    blocked = []
    for row in data:
        args = {"command": row["command"]}
        call = ToolCall(row["id"], "bash", orjson.dumps(args).decode(), args)
        found = [f for f in screen.on_tool_call(session(row["category"]), call) if f.severity == "block"]
        if found:
            blocked.append((row["id"], row["command"][:160].replace("\n", "\\n"), found[0].rule, found[0].message))
    rate = len(blocked) / len(data)
    print(f"\nbenign corpus: {len(blocked)}/{len(data)} blocked ({rate:.2%})")
    for row_id, command, rule, message in blocked:
        print(f"  {row_id} [{rule}] {command}\n      -> {message}")
    assert rate <= MAX_FALSE_BLOCKS, f"{len(blocked)} of {len(data)} blocked ({rate:.2%})"


def test_every_official_installer_in_the_corpus_passes():
    screen = Screening()
    installers = [r for r in rows() if " | sh" in r["command"] or "| bash" in r["command"]]
    assert len(installers) >= 20
    bad = []
    for row in installers:
        args = {"command": row["command"]}
        found = screen.on_tool_call(session(row["category"]), ToolCall(row["id"], "bash", "{}", args))
        if any(f.severity == "block" for f in found):
            bad.append(row["id"])
    assert not bad
