"""How checks name calls and tool calls in evidence (bounded, one line each)."""

from __future__ import annotations

import shlex
from typing import Any

import orjson

from relayguard.audit.fingerprints import PERSONAS, PROJECTS
from relayguard.audit.model import CallResult, Step, ToolUse

MAX_SHOWN = 300


def clip(text: str, n: int = MAX_SHOWN) -> str:
    text = text.replace("\n", "\\n")
    return text if len(text) <= n else text[:n - 1] + "…"


def command_of(arguments: Any) -> str | None:
    """The shell command in a tool call's arguments (string, or argv such as bash -lc X)."""
    if isinstance(arguments, list):
        command: Any = arguments
    elif isinstance(arguments, dict):
        command = arguments.get("command", arguments.get("cmd"))
    else:
        return None
    if isinstance(command, str):
        return command
    if isinstance(command, list) and command and all(isinstance(a, str) for a in command):
        if len(command) >= 3 and command[0].rsplit("/", 1)[-1] in ("bash", "sh", "zsh") and command[1] in ("-c", "-lc"):
            return command[2]
        return shlex.join(command)
    return None


def show_call(call: ToolUse) -> str:
    command = command_of(call.arguments)
    if command is not None:
        return f"{call.name}: {clip(command)}"
    shown = orjson.dumps(call.arguments).decode() if call.arguments is not None else call.arguments_raw
    return f"{call.name}: {clip(shown)}"


def show_calls(calls: list[ToolUse]) -> str:
    return " + ".join(f"`{show_call(c)}`" for c in calls) if calls else "no tool call"


def show_step(step: Step, result: CallResult) -> str:
    persona = PERSONAS[step.persona].label if step.persona in PERSONAS else step.persona
    parts = [step.phase, step.dialect, "stream" if step.stream else "whole", persona]
    if step.project in PROJECTS:
        parts.append(f"{step.project} project")
    if step.tool and step.phase != "probe":
        parts.append(f"tool {step.tool}")
    return f"call #{result.order} ({', '.join(parts)})"


def signature(calls: list[ToolUse]) -> list[tuple[str, str]]:
    """Tool calls as compared: names and parsed arguments (key order and spacing do not matter)."""
    out = []
    for c in calls:
        if c.arguments is None:
            out.append((c.name, c.arguments_raw))
        else:
            out.append((c.name, orjson.dumps(c.arguments, option=orjson.OPT_SORT_KEYS).decode()))
    return out


def evidence(summary: str, instances: list[dict[str, Any]], shown: int = 3) -> str:
    """A finding's evidence text: the summary, then its first instances."""
    lines = "\n".join(f"- {i['detail']}" for i in instances[:shown])
    more = f"\n- … and {len(instances) - shown} more" if len(instances) > shown else ""
    return f"{summary}.\n{lines}{more}" if instances else summary + "."


def first_needed(instances: list[dict[str, Any]]) -> int | None:
    """How many calls the run needed before the first instance was established (its own call, or the
    later call it was compared with)."""
    return min((i.get("needed", i["call"]) for i in instances), default=None)
