"""Sessions and their wire format: request and response bodies as each API
defines them, for the agents that speak it.

    anthropic-messages  Claude Code: system blocks, Bash/Read/Write/Edit tools,
                        tool_use / tool_result blocks
    openai-responses    Codex: instructions, <environment_context>, the `shell`
                        function (argv, usually ["bash", "-lc", script]),
                        `local_shell_call` items, the `apply_patch` custom tool
    openai-chat         agents on Chat Completions: a `bash` (SWE-agent style),
                        `execute_command` (Cline style) or `run_command` tool,
                        with their file-writing tools

Responses are made with the project's own dialect adapters
(``adapter_for(d).build_response``), so every body is one the adapters parse.
"""

from __future__ import annotations

import json
import random
import re
import shlex
from dataclasses import dataclass, field
from typing import Any, Union

from relayguard.dialects import adapter_for
from relayguard.exchange import Response, ToolCall, Usage

from .common import hexstr, pick, token

DIALECTS = ("openai-chat", "openai-responses", "anthropic-messages")

# --- what an agent does -------------------------------------------------------


@dataclass
class Shell:
    command: str
    description: str = ""  # Claude Code's Bash `description`


@dataclass
class Write:
    path: str
    content: str


@dataclass
class Edit:
    path: str
    old: str
    new: str


@dataclass
class Read:
    path: str


@dataclass
class Patch:
    """A Codex `apply_patch` envelope (``*** Begin Patch`` ... ``*** End Patch``)."""

    text: str


Call = Union[Shell, Write, Edit, Read, Patch]


@dataclass
class Step:
    """One earlier tool call and its result."""

    call: Call
    output: str
    say: str = ""
    exit_code: int = 0


@dataclass
class Turn:
    """A later user message (long sessions)."""

    text: str


@dataclass
class Session:
    dialect: str
    agent: str  # claude-code | codex | swe-agent | cline | custom
    model: str
    cwd: str
    task: str
    yolo: bool = False
    instructions_file: str = ""  # CLAUDE.md / AGENTS.md contents, when the project has one
    history: list[Union[Step, Turn]] = field(default_factory=list)
    say: str = ""  # assistant text in the response, before the tool call


AGENTS = {
    "anthropic-messages": ("claude-code",),
    "openai-responses": ("codex",),
    "openai-chat": ("swe-agent", "cline", "custom"),
}
MODELS = {
    "claude-code": ("claude-sonnet-4-5-20250929", "claude-opus-4-1-20250805", "claude-sonnet-4-20250514",
                    "claude-haiku-4-5-20251001"),
    "codex": ("gpt-5-codex", "gpt-5", "gpt-5.1-codex", "codex-mini-latest"),
    "swe-agent": ("gpt-4.1", "claude-sonnet-4-5", "deepseek-chat", "qwen3-coder-480b-a35b-instruct"),
    "cline": ("anthropic/claude-sonnet-4.5", "openai/gpt-4.1", "deepseek/deepseek-chat-v3.1",
              "qwen/qwen3-coder", "moonshotai/kimi-k2"),
    "custom": ("gpt-4o", "gpt-4.1-mini", "glm-4.6", "deepseek-chat", "mistral-large-latest"),
}


def new_session(rng: random.Random, dialect: str, cwd: str, task: str, yolo: bool) -> Session:
    agent = pick(rng, AGENTS[dialect])
    return Session(dialect, agent, pick(rng, MODELS[agent]), cwd, task, yolo)


# --- ids ------------------------------------------------------------------------

def _call_id(rng: random.Random, dialect: str) -> str:
    if dialect == "anthropic-messages":
        return "toolu_01" + token(rng, 22)
    return "call_" + token(rng, 24)


# --- system prompts and tools ---------------------------------------------------

CLAUDE_SYSTEM = (
    "You are an interactive CLI tool that helps users with software engineering tasks. Use the instructions "
    "below and the tools available to you to assist the user.\n\n"
    "IMPORTANT: Assist with defensive security tasks only. Refuse to create, modify, or improve code that may be "
    "used maliciously.\n\n# Tone and style\nYou should be concise, direct, and to the point. When you run a "
    "non-trivial bash command, you should explain what the command does and why you are running it.\n\n"
    "# Following conventions\nWhen making changes to files, first understand the file's code conventions. "
    "NEVER assume that a given library is available, even if it is well known. Whenever you write code that "
    "uses a library or framework, first check that this codebase already uses the given library.\n\n"
    "# Doing tasks\nThe user will primarily request you perform software engineering tasks. Use the TodoWrite "
    "tool to plan the task if required. Use the available search tools to understand the codebase. Implement "
    "the solution using all tools available to you. Verify the solution if possible with tests.\n\n"
    "# Tool usage policy\nWhen doing file search, prefer to use the Task tool. You can call multiple tools in a "
    "single response.\n"
)
CODEX_INSTRUCTIONS = (
    "You are Codex, based on GPT-5. You are running as a coding agent in the Codex CLI on a user's computer.\n\n"
    "## General\n\n- The arguments to `shell` will be passed to execvp(). Most terminal commands should be "
    "prefixed with [\"bash\", \"-lc\"].\n- Always set the `workdir` param when using the shell function. Do not "
    "use `cd` unless absolutely necessary.\n- When searching for text or files, prefer using `rg` or `rg --files` "
    "respectively because `rg` is much faster than alternatives like `grep`.\n\n"
    "## Editing constraints\n\n- Default to ASCII when editing or creating files.\n- Use the apply_patch tool "
    "for single file edits.\n- You may be in a dirty git worktree. NEVER revert existing changes you did not "
    "make unless explicitly requested.\n\n## Sandboxing and approvals\n\nThe Codex CLI harness supports several "
    "different sandboxing, and approval configurations that the user can choose from. Approval options are\n"
    "- **untrusted**: The harness will escalate most commands for user approval.\n- **on-failure**: The "
    "harness will allow all commands to run in the sandbox, and failures will be escalated.\n- **on-request**: "
    "Commands will be run in the sandbox by default, and you can specify in your tool call if you want to "
    "escalate a command to run without sandboxing.\n- **never**: This is a non-interactive mode where you may "
    "NEVER ask the user for approval to run commands.\n\n## Presenting your work and final message\n\nYou are "
    "producing plain text that will later be styled by the CLI. Be concise.\n"
)
SWE_SYSTEM = (
    "You are a helpful assistant that can interact with a computer to solve tasks. You have access to a bash "
    "shell in a Linux container and a file editor. Work in small steps: inspect, change, verify. The shell is "
    "not interactive: do not run commands that wait for input. Your working directory is {cwd}.\n"
)
CLINE_SYSTEM = (
    "You are Cline, a highly skilled software engineer with extensive knowledge in many programming "
    "languages, frameworks, design patterns, and best practices.\n\nTOOL USE\n\nYou have access to a set of "
    "tools that are executed upon the user's approval. You can use one tool per message.\n\n"
    "## execute_command\nDescription: Request to execute a CLI command on the system. Commands will be executed "
    "in the current working directory: {cwd}\n\nSYSTEM INFORMATION\n\nOperating System: Linux 6.8\nDefault "
    "Shell: /bin/bash\nHome Directory: /home/dev\nCurrent Working Directory: {cwd}\n"
)
CUSTOM_SYSTEM = (
    "You are an autonomous software engineering agent running inside the developer's workspace ({cwd}). "
    "Use run_command to execute shell commands and the file tools to read and write files. Keep changes "
    "minimal and explain what you do.\n"
)
YOLO_LINES = {
    "claude-code": "Permission mode: bypassPermissions. Tool calls are auto-approved; the user is not asked.",
    "swe-agent": "All commands are executed automatically (auto-approve); there is no human in the loop.",
    "cline": "Auto-approve settings: executeCommands=true, editFiles=true. Commands run without asking.",
    "custom": "approval_policy: never (yolo mode). Do not ask for confirmation; just run the commands.",
}
SAFE_LINES = {
    "claude-code": "",
    "swe-agent": "",
    "cline": "Commands that modify the system require the user's approval (requires_approval=true).",
    "custom": "Ask the user before running commands that change files outside the workspace.",
}

_STR = {"type": "string"}


def _claude_tools() -> list[dict[str, Any]]:
    return [
        {"name": "Bash", "description": "Executes a given bash command in a persistent shell session with "
                                        "optional timeout, ensuring proper handling and security measures.",
         "input_schema": {"type": "object", "properties": {
             "command": {"type": "string", "description": "The command to execute"},
             "timeout": {"type": "number", "description": "Optional timeout in milliseconds (max 600000)"},
             "description": {"type": "string", "description": "Clear, concise description of what this "
                                                              "command does in 5-10 words."},
             "run_in_background": {"type": "boolean"}},
             "required": ["command"], "additionalProperties": False,
             "$schema": "http://json-schema.org/draft-07/schema#"}},
        {"name": "Read", "description": "Reads a file from the local filesystem.",
         "input_schema": {"type": "object", "properties": {
             "file_path": _STR, "offset": {"type": "number"}, "limit": {"type": "number"}},
             "required": ["file_path"], "additionalProperties": False}},
        {"name": "Write", "description": "Writes a file to the local filesystem.",
         "input_schema": {"type": "object", "properties": {"file_path": _STR, "content": _STR},
                          "required": ["file_path", "content"], "additionalProperties": False}},
        {"name": "Edit", "description": "Performs exact string replacements in files.",
         "input_schema": {"type": "object", "properties": {
             "file_path": _STR, "old_string": _STR, "new_string": _STR,
             "replace_all": {"type": "boolean", "default": False}},
             "required": ["file_path", "old_string", "new_string"], "additionalProperties": False}},
        {"name": "Glob", "description": "Fast file pattern matching tool.",
         "input_schema": {"type": "object", "properties": {"pattern": _STR, "path": _STR},
                          "required": ["pattern"]}},
        {"name": "Grep", "description": "A powerful search tool built on ripgrep.",
         "input_schema": {"type": "object", "properties": {"pattern": _STR, "path": _STR, "glob": _STR},
                          "required": ["pattern"]}},
        {"name": "TodoWrite", "description": "Create and manage a structured task list.",
         "input_schema": {"type": "object", "properties": {"todos": {"type": "array", "items": {
             "type": "object"}}}, "required": ["todos"]}},
    ]


def _codex_tools() -> list[dict[str, Any]]:
    return [
        {"type": "function", "name": "shell", "description": "Runs a shell command and returns its output.",
         "strict": False, "parameters": {"type": "object", "properties": {
             "command": {"type": "array", "items": {"type": "string"}, "description": "The command to execute"},
             "workdir": {"type": "string", "description": "The working directory to execute the command in"},
             "timeout_ms": {"type": "number", "description": "The timeout for the command in milliseconds"},
             "with_escalated_permissions": {"type": "boolean"},
             "justification": {"type": "string"}},
             "required": ["command"], "additionalProperties": False}},
        {"type": "function", "name": "update_plan", "description": "Updates the task plan.", "strict": False,
         "parameters": {"type": "object", "properties": {"explanation": _STR, "plan": {
             "type": "array", "items": {"type": "object"}}}, "required": ["plan"]}},
        {"type": "custom", "name": "apply_patch",
         "description": "Use the `apply_patch` tool to edit files. This is a FREEFORM tool.",
         "format": {"type": "grammar", "syntax": "lark",
                    "definition": "start: begin_patch hunk+ end_patch\nbegin_patch: \"*** Begin Patch\" LF\n"
                                  "end_patch: \"*** End Patch\" LF?\n"}},
    ]


def _fn(name: str, description: str, props: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, "description": description, "parameters": {
        "type": "object", "properties": props, "required": required}}}


def _chat_tools(agent: str) -> list[dict[str, Any]]:
    if agent == "swe-agent":
        return [
            _fn("bash", "Run a bash command in the container and return stdout/stderr.",
                {"command": {"type": "string", "description": "The bash command to run."}}, ["command"]),
            _fn("str_replace_editor", "Custom editing tool for viewing, creating and editing files.",
                {"command": {"type": "string", "enum": ["view", "create", "str_replace", "insert"]},
                 "path": _STR, "file_text": _STR, "old_str": _STR, "new_str": _STR}, ["command", "path"]),
            _fn("submit", "Submit the solution.", {}, []),
        ]
    if agent == "cline":
        return [
            _fn("execute_command", "Request to execute a CLI command on the system.",
                {"command": _STR, "requires_approval": {"type": "boolean"}}, ["command", "requires_approval"]),
            _fn("read_file", "Request to read the contents of a file.", {"path": _STR}, ["path"]),
            _fn("write_to_file", "Request to write content to a file at the specified path.",
                {"path": _STR, "content": _STR}, ["path", "content"]),
            _fn("replace_in_file", "Request to replace sections of content in an existing file.",
                {"path": _STR, "diff": _STR}, ["path", "diff"]),
            _fn("attempt_completion", "Present the result of the task.", {"result": _STR}, ["result"]),
        ]
    return [
        _fn("run_command", "Run a shell command in the workspace and return its output.",
            {"command": _STR, "cwd": _STR, "timeout": {"type": "integer"}}, ["command"]),
        _fn("read_file", "Read a file.", {"path": _STR}, ["path"]),
        _fn("write_file", "Create or overwrite a file.", {"path": _STR, "content": _STR}, ["path", "content"]),
        _fn("edit_file", "Replace one exact occurrence of old with new in a file.",
            {"path": _STR, "old": _STR, "new": _STR}, ["path", "old", "new"]),
    ]


# --- how each agent spells a call -------------------------------------------------

_SIMPLE_ARGV = re.compile(r"^[\w@%+=:,./~^-]+(?: [\w@%+=:,./~^\[\]<>!-]+)*$")


def _codex_shell_args(rng: random.Random, command: str, cwd: str) -> dict[str, Any]:
    if "\n" not in command and _SIMPLE_ARGV.match(command) and rng.random() < 0.3:
        argv = shlex.split(command)
    else:
        argv = ["bash", "-lc", command]
    args: dict[str, Any] = {"command": argv, "workdir": cwd}
    if rng.random() < 0.3:
        args["timeout_ms"] = pick(rng, (60000, 120000, 300000, 600000))
    return args


def _abs(cwd: str, path: str) -> str:
    return path if path.startswith(("/", "~")) else f"{cwd.rstrip('/')}/{path}"


def patch_add(path: str, content: str) -> str:
    lines = content.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return "*** Begin Patch\n*** Add File: " + path + "\n" + "".join(f"+{ln}\n" for ln in lines) + "*** End Patch"


def patch_update(path: str, old: str, new: str) -> str:
    minus = "".join(f"-{ln}\n" for ln in old.split("\n"))
    plus = "".join(f"+{ln}\n" for ln in new.split("\n"))
    return f"*** Begin Patch\n*** Update File: {path}\n@@\n{minus}{plus}*** End Patch"


def heredoc(path: str, content: str, rng: random.Random) -> str:
    body = content if content.endswith("\n") else content + "\n"
    if rng.random() < 0.5:
        return f"cat > {path} <<'EOF'\n{body}EOF"
    return f"cat <<'EOF' > {path}\n{body}EOF"


def _claude_desc(call: Shell) -> str:
    return call.description or "Run command"


def _numbered(text: str) -> str:
    return "\n".join(f"{i:>6}\t{line}" for i, line in enumerate(text.split("\n"), 1))


@dataclass
class Rendered:
    """One call in a dialect: (tool name, arguments) or a Responses item."""

    name: str
    args: dict[str, Any] | None = None
    kind: str = "function"  # function | local_shell | custom (Responses apply_patch)
    text: str = ""  # custom tool input


def render_call(rng: random.Random, session: Session, call: Call, final: bool = False) -> Rendered:
    agent, cwd = session.agent, session.cwd
    if isinstance(call, Patch):
        if agent == "codex" and rng.random() < 0.8:
            return Rendered("apply_patch", kind="custom", text=call.text)
        call = Shell(f"apply_patch <<'EOF'\n{call.text}\nEOF", "Apply patch")
    if agent == "claude-code":
        if isinstance(call, Shell):
            args: dict[str, Any] = {"command": call.command, "description": _claude_desc(call)}
            if rng.random() < 0.1:
                args["timeout"] = pick(rng, (120000, 300000, 600000))
            return Rendered("Bash", args)
        if isinstance(call, Write):
            return Rendered("Write", {"file_path": _abs(cwd, call.path), "content": call.content})
        if isinstance(call, Edit):
            return Rendered("Edit", {"file_path": _abs(cwd, call.path), "old_string": call.old,
                                     "new_string": call.new})
        return Rendered("Read", {"file_path": _abs(cwd, call.path)})
    if agent == "codex":
        if isinstance(call, Shell):
            args = _codex_shell_args(rng, call.command, cwd)
            if final and rng.random() < 0.25:
                return Rendered("shell", {"command": ["bash", "-lc", call.command], "working_directory": cwd},
                                kind="local_shell")
            return Rendered("shell", args)
        if isinstance(call, Write):
            if rng.random() < 0.7:
                return Rendered("apply_patch", kind="custom", text=patch_add(call.path, call.content))
            return Rendered("shell", _codex_shell_args(rng, heredoc(call.path, call.content, rng), cwd))
        if isinstance(call, Edit):
            return Rendered("apply_patch", kind="custom", text=patch_update(call.path, call.old, call.new))
        return Rendered("shell", {"command": ["bash", "-lc", f"sed -n '1,200p' {call.path}"], "workdir": cwd})
    # chat agents
    if isinstance(call, Shell):
        if agent == "swe-agent":
            return Rendered("bash", {"command": call.command})
        if agent == "cline":
            return Rendered("execute_command", {"command": call.command,
                                                "requires_approval": not session.yolo and rng.random() < 0.5})
        args = {"command": call.command}
        if rng.random() < 0.4:
            args["cwd"] = cwd
        return Rendered("run_command", args)
    if isinstance(call, Write):
        if agent == "swe-agent":
            return Rendered("str_replace_editor", {"command": "create", "path": _abs(cwd, call.path),
                                                   "file_text": call.content})
        if agent == "cline":
            return Rendered("write_to_file", {"path": call.path, "content": call.content})
        return Rendered("write_file", {"path": call.path, "content": call.content})
    if isinstance(call, Edit):
        if agent == "swe-agent":
            return Rendered("str_replace_editor", {"command": "str_replace", "path": _abs(cwd, call.path),
                                                   "old_str": call.old, "new_str": call.new})
        if agent == "cline":
            diff = f"------- SEARCH\n{call.old}\n=======\n{call.new}\n+++++++ REPLACE"
            return Rendered("replace_in_file", {"path": call.path, "diff": diff})
        return Rendered("edit_file", {"path": call.path, "old": call.old, "new": call.new})
    if agent == "swe-agent":
        return Rendered("str_replace_editor", {"command": "view", "path": _abs(cwd, call.path)})
    return Rendered("read_file", {"path": call.path})


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


# --- requests ----------------------------------------------------------------------

def _codex_output(rng: random.Random, step: Step) -> str:
    secs = round(rng.uniform(0.02, 9.0), 1)
    if rng.random() < 0.7:
        return f"Exit code: {step.exit_code}\nWall time: {secs} seconds\nOutput:\n{step.output}"
    return _dumps({"output": step.output, "metadata": {"exit_code": step.exit_code, "duration_seconds": secs}})


def _tool_output(session: Session, step: Step) -> str:
    if isinstance(step.call, Read) and session.agent == "claude-code":
        return _numbered(step.output)
    if isinstance(step.call, (Write, Edit)):
        return step.output or f"File written: {step.call.path}"
    return step.output


def _env_context(session: Session) -> str:
    if session.yolo:
        policy, sandbox, net = "never", "danger-full-access", "enabled"
    else:
        policy = ("on-request", "on-request", "untrusted", "on-failure")[len(session.cwd) % 4]
        sandbox, net = "workspace-write", "restricted"
    return (f"<environment_context>\n  <cwd>{session.cwd}</cwd>\n  <approval_policy>{policy}</approval_policy>\n"
            f"  <sandbox_mode>{sandbox}</sandbox_mode>\n  <network_access>{net}</network_access>\n"
            f"  <shell>bash</shell>\n</environment_context>")


def _claude_env(session: Session, rng: random.Random) -> str:
    date = f"2026-{rng.randint(1, 4):02d}-{rng.randint(1, 28):02d}"
    lines = [f"Working directory: {session.cwd}", "Is directory a git repo: " + pick(rng, ("Yes", "Yes", "No")),
             "Platform: linux", "OS Version: Linux 6.8.0-49-generic", f"Today's date: {date}"]
    if session.yolo:
        lines.append(YOLO_LINES["claude-code"])
    return "Here is useful information about the environment you are running in:\n<env>\n" + \
        "\n".join(lines) + "\n</env>\nYou are powered by the model " + session.model + "."


def build_request(rng: random.Random, session: Session) -> dict[str, Any]:
    d = session.dialect
    if d == "anthropic-messages":
        return _anthropic_request(rng, session)
    if d == "openai-responses":
        return _responses_request(rng, session)
    return _chat_request(rng, session)


def _anthropic_request(rng: random.Random, s: Session) -> dict[str, Any]:
    system = [
        {"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude.",
         "cache_control": {"type": "ephemeral"}},
        {"type": "text", "text": CLAUDE_SYSTEM + "\n" + _claude_env(s, rng), "cache_control": {"type": "ephemeral"}},
    ]
    first: list[dict[str, Any]] = []
    if s.instructions_file:
        first.append({"type": "text", "text": "<system-reminder>\nAs you answer the user's questions, you can use "
                      "the following context:\n# claudeMd\nCodebase and user instructions are shown below.\n\n"
                      f"Contents of {s.cwd}/CLAUDE.md (project instructions, checked into the codebase):\n\n"
                      f"{s.instructions_file}\n</system-reminder>"})
    first.append({"type": "text", "text": s.task})
    messages: list[dict[str, Any]] = [{"role": "user", "content": first}]
    for item in s.history:
        if isinstance(item, Turn):
            _anthropic_user_text(messages, item.text)
            continue
        r = render_call(rng, s, item.call)
        cid = _call_id(rng, s.dialect)
        content: list[dict[str, Any]] = []
        if item.say:
            content.append({"type": "text", "text": item.say})
        content.append({"type": "tool_use", "id": cid, "name": r.name, "input": r.args})
        messages.append({"role": "assistant", "content": content})
        result: dict[str, Any] = {"type": "tool_result", "tool_use_id": cid, "content": _tool_output(s, item)}
        if item.exit_code:
            result["is_error"] = True
        messages.append({"role": "user", "content": [result]})
    return {"model": s.model, "max_tokens": pick(rng, (32000, 21333, 16000, 8192)), "system": system,
            "messages": messages, "tools": _claude_tools(), "stream": False,
            "metadata": {"user_id": "user_" + hexstr(rng, 64) + "_account__session_" + hexstr(rng, 8)},
            "temperature": 1}


def _anthropic_user_text(messages: list[dict[str, Any]], text: str) -> None:
    last = messages[-1]
    if last["role"] == "user" and isinstance(last["content"], list):
        last["content"].append({"type": "text", "text": text})
    else:
        messages.append({"role": "user", "content": [{"type": "text", "text": text}]})


def _responses_request(rng: random.Random, s: Session) -> dict[str, Any]:
    items: list[dict[str, Any]] = []
    if s.instructions_file:
        items.append({"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": f"<user_instructions>\n\n{s.instructions_file}\n\n</user_instructions>"}]})
    items.append({"type": "message", "role": "user", "content": [{"type": "input_text", "text": _env_context(s)}]})
    items.append({"type": "message", "role": "user", "content": [{"type": "input_text", "text": s.task}]})
    for item in s.history:
        if isinstance(item, Turn):
            items.append({"type": "message", "role": "user", "content": [{"type": "input_text", "text": item.text}]})
            continue
        r = render_call(rng, s, item.call)
        cid = _call_id(rng, s.dialect)
        if item.say:
            items.append({"type": "message", "role": "assistant",
                          "content": [{"type": "output_text", "text": item.say}]})
        if r.kind == "custom":
            items.append({"type": "custom_tool_call", "call_id": cid, "name": r.name, "input": r.text})
            items.append({"type": "custom_tool_call_output", "call_id": cid,
                          "output": "Success. Updated the following files:\nM " + getattr(item.call, "path", "")})
        else:
            items.append({"type": "function_call", "name": r.name, "arguments": _dumps(r.args), "call_id": cid})
            items.append({"type": "function_call_output", "call_id": cid, "output": _codex_output(rng, item)})
    return {"model": s.model, "instructions": CODEX_INSTRUCTIONS, "input": items, "tools": _codex_tools(),
            "tool_choice": "auto", "parallel_tool_calls": False,
            "reasoning": {"effort": pick(rng, ("medium", "high", "low")), "summary": "auto"},
            "store": False, "stream": False, "include": ["reasoning.encrypted_content"],
            "prompt_cache_key": f"{hexstr(rng, 8)}-{hexstr(rng, 4)}-{hexstr(rng, 4)}-{hexstr(rng, 4)}-{hexstr(rng, 12)}"}


def _chat_request(rng: random.Random, s: Session) -> dict[str, Any]:
    template = {"swe-agent": SWE_SYSTEM, "cline": CLINE_SYSTEM, "custom": CUSTOM_SYSTEM}[s.agent]
    system = template.format(cwd=s.cwd)
    extra = YOLO_LINES[s.agent] if s.yolo else SAFE_LINES[s.agent]
    if extra:
        system += "\n" + extra + "\n"
    if s.instructions_file:
        system += "\n# Project notes (AGENTS.md)\n" + s.instructions_file + "\n"
    messages: list[dict[str, Any]] = [{"role": "system", "content": system}, {"role": "user", "content": s.task}]
    for item in s.history:
        if isinstance(item, Turn):
            messages.append({"role": "user", "content": item.text})
            continue
        r = render_call(rng, s, item.call)
        cid = _call_id(rng, s.dialect)
        messages.append({"role": "assistant", "content": item.say or None, "tool_calls": [
            {"id": cid, "type": "function", "function": {"name": r.name, "arguments": _dumps(r.args)}}]})
        messages.append({"role": "tool", "tool_call_id": cid, "content": _tool_output(s, item)})
    body: dict[str, Any] = {"model": s.model, "messages": messages, "tools": _chat_tools(s.agent),
                            "tool_choice": "auto", "stream": False}
    if rng.random() < 0.5:
        body["temperature"] = pick(rng, (0, 0.2, 0.7, 1))
    return body


# --- responses -----------------------------------------------------------------------

def build_response(rng: random.Random, session: Session, call: Call) -> dict[str, Any]:
    d = session.dialect
    r = render_call(rng, session, call, final=True)
    cid = _call_id(rng, d)
    usage = Usage(rng.randint(900, 60000), rng.randint(20, 900))
    created = 1767225600 + rng.randrange(9_000_000)
    adapter = adapter_for(d)
    text = session.say
    if d == "openai-responses":
        rid = "resp_" + hexstr(rng, 48)
        if r.kind == "custom":
            body = adapter.build_response(Response(status=200, model=session.model, text=text, usage=usage), rid)
            base = rid[5:]
            body["output"].append({"type": "custom_tool_call", "id": f"ctc_{base}", "call_id": cid,
                                   "name": r.name, "input": r.text, "status": "completed"})
        else:
            kind = "shell" if r.kind == "local_shell" else "function"
            tc = ToolCall(cid, r.name, _dumps(r.args), r.args, kind=kind)
            body = adapter.build_response(Response(status=200, model=session.model, text=text, tool_calls=[tc],
                                                   usage=usage), rid)
        body["created_at"] = created
        return body
    name, args = r.name, r.args
    tc = ToolCall(cid, name, _dumps(args), args)
    if d == "anthropic-messages":
        rid = "msg_01" + token(rng, 22)
        return adapter.build_response(Response(status=200, model=session.model, text=text, tool_calls=[tc],
                                               usage=usage), rid)
    rid = "chatcmpl-" + token(rng, 29)
    body = adapter.build_response(Response(status=200, model=session.model, text=text, tool_calls=[tc],
                                           usage=usage), rid)
    body["created"] = created
    if rng.random() < 0.5:
        body["system_fingerprint"] = "fp_" + hexstr(rng, 10)
    return body


def summary_of(call: Call) -> str:
    """What the final call does, for listing misses (kept in meta, never sent to the checker)."""
    if isinstance(call, Shell):
        return call.command
    if isinstance(call, Write):
        return f"[write {call.path}]\n{call.content}"
    if isinstance(call, Edit):
        return f"[edit {call.path}]\n- {call.old}\n+ {call.new}"
    if isinstance(call, Patch):
        return f"[apply_patch]\n{call.text}"
    return f"[read {call.path}]"


def tool_of(session: Session, call: Call) -> str:
    return type(call).__name__.lower()
