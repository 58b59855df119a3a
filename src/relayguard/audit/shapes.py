"""A planned step as the request body a real coding agent would send, per dialect.

A battery request is a conversation in progress: the persona's system prompt,
its context turn (environment and project notes), a first tool call that read
the project's manifest and its .env (the tool result is where the canaries
are), then the task.  The same bytes go to the router and to the reference.
"""

from __future__ import annotations

import random
from typing import Any

import orjson

from relayguard.audit.battery import TASKS, Task
from relayguard.audit.canaries import CanarySet
from relayguard.audit.fingerprints import PERSONAS, PROJECT_NOTES, PROJECTS, Persona, ToolSpec
from relayguard.audit.model import Step
from relayguard.audit.probes import GENERIC, WHOAMI, known_probe, known_probe_token


class Shaper:
    def __init__(self, model: str, canaries: CanarySet, secret: str, seed: int) -> None:
        self.model = model
        self.canaries = canaries
        self.secret = secret
        notes = list(PROJECT_NOTES)
        random.Random(seed).shuffle(notes)
        self.notes = "\n".join(f"- {n}" for n in notes)

    # -- what is said ----------------------------------------------------------------------

    def body(self, step: Step) -> bytes:
        persona = PERSONAS[step.persona]
        tools = [persona.shell_spec(step.tool), persona.edit_tool]
        if step.phase == "probe":
            turns = _Turns(persona.system, None, None, self._probe_text(step))
        elif step.task == "warmup:question":
            turns = _Turns(persona.system, None, None,
                           f"Here is my .env:\n```\n{self.canaries.env_file(step.index)}```\n"
                           "Which of these settings does the app need in production? One line, please.")
        elif step.phase == "warm-up":
            turns = _Turns(persona.system, None, None, self._task_text(step, persona, TASKS[step.task]))
        else:
            project = PROJECTS[step.project]
            context = persona.context.format(cwd=project.cwd, notes=self.notes)
            command = f"ls -a && cat {project.manifest} .env"
            output = ("  ".join((".", "..") + project.files) + "\n" + project.manifest_text + "\n"
                      + self.canaries.env_file(step.index))
            prior = (f"call_{step.index:04d}rg", step.tool, persona.shell_arguments(command), output)
            turns = _Turns(persona.system, context, prior, self._task_text(step, persona, TASKS[step.task]))
        small = step.phase != "battery"
        build = {"openai-chat": _chat, "anthropic-messages": _anthropic, "openai-responses": _responses}[step.dialect]
        return orjson.dumps(build(self.model, step.stream, turns, tools, small))

    def _probe_text(self, step: Step) -> str:
        kind, _, n = step.task.removeprefix("probe:").partition(":")
        if kind == "whoami":
            return WHOAMI
        if kind == "known":
            return known_probe(known_probe_token(self.secret, int(n)))
        return GENERIC[int(n)]

    def _task_text(self, step: Step, persona: Persona, task: Task) -> str:
        if task.kind == "edit":
            project = PROJECTS[step.project]
            return task.prompt + "\n" + _hint(persona.edit_tool.name, _edit_arguments(persona.edit_tool, project.cwd,
                                                                                        task.edit))
        if task.hint:
            return task.prompt + "\n" + _hint(step.tool, persona.shell_arguments(task.command))
        return task.prompt


class _Turns:
    """The conversation, dialect-neutral: system, context turn, one earlier tool call, the task."""

    def __init__(self, system: str, context: str | None,
                 prior: tuple[str, str, dict[str, Any], str] | None, task: str) -> None:
        self.system, self.context, self.prior, self.task = system, context, prior, task


def _hint(tool: str, arguments: dict[str, Any]) -> str:
    return "MOCK_TOOL_CALL: " + orjson.dumps({"name": tool, "arguments": arguments}).decode()


def _edit_arguments(tool: ToolSpec, cwd: str, edit: tuple[str, str, str]) -> dict[str, Any]:
    path, old, new = edit
    if tool.name == "Edit":
        return {"file_path": f"{cwd}/{path}", "old_string": old, "new_string": new}
    if tool.name == "apply_patch":
        return {"input": f"*** Begin Patch\n*** Update File: {path}\n@@\n-{old}\n+{new}\n*** End Patch\n"}
    if tool.name == "edit_file":
        return {"target_file": path, "instructions": "Raise the timeout",
                "code_edit": f"# ... existing code ...\n{new}\n# ... existing code ..."}
    return {"path": path, "content": f"[http]\n{new}\n"}


def _chat(model: str, stream: bool, t: _Turns, tools: list[ToolSpec], small: bool) -> dict[str, Any]:
    messages: list[dict[str, Any]] = [{"role": "system", "content": t.system}]
    if t.context:
        messages.append({"role": "user", "content": t.context})
    if t.prior:
        cid, name, args, output = t.prior
        messages.append({"role": "assistant", "content": None, "tool_calls": [
            {"id": cid, "type": "function", "function": {"name": name, "arguments": orjson.dumps(args).decode()}}]})
        messages.append({"role": "tool", "tool_call_id": cid, "content": output})
    messages.append({"role": "user", "content": t.task})
    body: dict[str, Any] = {"model": model, "messages": messages, "stream": stream, "tools": [
        {"type": "function", "function": {"name": s.name, "description": s.description, "parameters": s.schema}}
        for s in tools]}
    if stream:
        body["stream_options"] = {"include_usage": True}
    if small:
        body["max_tokens"] = 512
    return body


def _anthropic(model: str, stream: bool, t: _Turns, tools: list[ToolSpec], small: bool) -> dict[str, Any]:
    messages: list[dict[str, Any]] = []
    task = [{"type": "text", "text": t.task}]
    if t.context:
        messages.append({"role": "user", "content": [{"type": "text", "text": t.context}]})
    if t.prior:
        cid, name, args, output = t.prior
        tid = "toolu_" + cid
        messages.append({"role": "assistant", "content": [
            {"type": "text", "text": "Let me look at the project first."},
            {"type": "tool_use", "id": tid, "name": name, "input": args}]})
        task = [{"type": "tool_result", "tool_use_id": tid, "content": output}] + task
    messages.append({"role": "user", "content": task})
    return {"model": model, "max_tokens": 512 if small else 8192, "stream": stream,
            "system": [{"type": "text", "text": t.system}], "messages": messages,
            "tools": [{"name": s.name, "description": s.description, "input_schema": s.schema} for s in tools]}


def _responses(model: str, stream: bool, t: _Turns, tools: list[ToolSpec], small: bool) -> dict[str, Any]:
    items: list[dict[str, Any]] = []
    if t.context:
        items.append({"type": "message", "role": "user", "content": [{"type": "input_text", "text": t.context}]})
    if t.prior:
        cid, name, args, output = t.prior
        items.append({"type": "function_call", "call_id": cid, "name": name, "arguments": orjson.dumps(args).decode()})
        items.append({"type": "function_call_output", "call_id": cid, "output": output})
    items.append({"type": "message", "role": "user", "content": [{"type": "input_text", "text": t.task}]})
    body: dict[str, Any] = {"model": model, "instructions": t.system, "input": items, "stream": stream,
                            "store": False, "parallel_tool_calls": False, "tools": [
                                {"type": "function", "name": s.name, "description": s.description,
                                 "parameters": s.schema} for s in tools]}
    if small:
        body["max_output_tokens"] = 512
    return body


def expected_command(step: Step) -> str:
    """What an honest answer to a battery step runs (for the report)."""
    task = TASKS.get(step.task)
    return task.command if task else ""
