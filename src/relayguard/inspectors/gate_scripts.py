"""Tool calls -> scripts: which tool calls run shell commands, and their script text."""

from __future__ import annotations

import shlex
from typing import Any

from relayguard import shell
from relayguard.exchange import ToolCall

SHELL_TOOL_NAMES = frozenset({
    "bash", "shell", "sh", "exec", "run", "run_command", "run_shell_command", "execute_command",
    "terminal", "run_terminal_cmd", "local_shell", "container.exec",
})
_SHELL_TOOL_PARTS = ("bash", "shell", "exec", "command", "terminal")
_COMMAND_KEYS = ("command", "cmd", "script", "commands", "input")


def is_shell_tool(call: ToolCall) -> bool:
    if call.kind == "shell":
        return True
    name = (call.name or "").lower()
    return name in SHELL_TOOL_NAMES or any(part in name for part in _SHELL_TOOL_PARTS)


def _argv_script(argv: list[str]) -> str:
    inv = shell.invocation(argv)
    if inv is not None and inv.lang == "shell" and inv.mode == "code" and inv.text is not None:
        return inv.text
    return shlex.join(argv)


def _value_scripts(value: Any, key: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        if not all(isinstance(v, str) for v in value):
            raise ValueError(f"shell tool argument {key!r} is a list with non-string items; "
                             "blocked because the command cannot be checked")
        if not value:
            return []
        if any(c.isspace() for c in value[0]):
            return ["\n".join(value)]  # a list of command lines
        return [_argv_script(value)]
    raise ValueError(f"shell tool argument {key!r} has an unexpected type "
                     f"({type(value).__name__}); blocked because the command cannot be checked")


def shell_scripts(arguments: Any) -> list[str]:
    """The shell scripts a shell-like tool call would run."""
    if isinstance(arguments, (str, list)):
        return _value_scripts(arguments, "arguments")
    if not isinstance(arguments, dict):
        raise ValueError("shell tool arguments are not a JSON object; blocked because the "
                         "command cannot be checked")
    scripts: list[str] = []
    found = False
    for key in _COMMAND_KEYS:
        if key in arguments:
            found = True
            scripts.extend(_value_scripts(arguments[key], key))
    if not found:  # unknown schema: check every string it carries
        for key, value in arguments.items():
            if isinstance(value, str) or (isinstance(value, list) and
                                          all(isinstance(v, str) for v in value)):
                scripts.extend(_value_scripts(value, str(key)))
    return scripts
