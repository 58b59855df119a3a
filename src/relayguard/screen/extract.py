"""What a tool call asks to run or write: scripts and file writes.

* Shell-like tools (``call.kind == "shell"``, Bash ``command`` strings, Codex
  ``shell`` argv arrays such as ``["bash", "-lc", "..."]``, ``run_command``,
  ``exec``, ``terminal``, ``execute_command``, ...): the scripts they run
  (the baseline gate's ``shell_scripts`` reads every argument shape agents use).
  Codex's ``["apply_patch", "*** Begin Patch ..."]`` is a file write, not a script.
* Code tools (``python``, ``execute_code``, ``code_interpreter`` with a ``code``
  argument): the code, as the equivalent ``python3 -c CODE`` script, so one
  analysis covers inline code wherever it comes from.
* File-writing tools (Write, Edit, MultiEdit, ``str_replace_editor``,
  ``write_file``, ``create_file``, ``edit_file``, ``apply_patch``): the path and
  the text written (for an edit, the new text).

A shell-like or file tool whose arguments cannot be read raises
:class:`ExtractError`: the caller blocks (fail closed).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any

from relayguard.exchange import ToolCall
from relayguard.inspectors.gate_scripts import is_shell_tool, shell_scripts

__all__ = ["ExtractError", "Extracted", "FileWrite", "extract", "parse_patch"]

MAX_CONTENT = 256 * 1024  # characters of written content that are screened


class ExtractError(ValueError):
    """The arguments of a shell-like or file tool cannot be understood."""


@dataclass(frozen=True, slots=True)
class FileWrite:
    path: str
    content: str | None  # None: not known statically (cp, curl -o, a redirect of a command)
    append: bool = False
    via: str = "file tool"


@dataclass(frozen=True, slots=True)
class Extracted:
    scripts: tuple[str, ...] = ()
    writes: tuple[FileWrite, ...] = ()


_WRITE_TOOLS = frozenset({
    "write", "edit", "multiedit", "str_replace_editor", "str_replace_based_edit_tool",
    "write_file", "create_file", "edit_file", "write_to_file", "replace_in_file", "update_file",
    "append_to_file", "notebookedit", "search_replace", "insert_content", "apply_diff",
    "writefile", "editfile", "create", "text_editor",
})
_PATCH_TOOLS = frozenset({"apply_patch", "applypatch", "patch"})
_CODE_TOOLS = ("python", "execute_code", "code_interpreter", "run_code", "jupyter", "notebook")
_WRITE_PARTS = ("write", "edit", "creat", "save", "patch", "replace", "insert", "append")
_PATH_KEYS = ("file_path", "path", "filename", "file", "target_file", "filepath", "notebook_path")
_CONTENT_KEYS = ("content", "file_text", "contents", "text", "new_string", "new_str", "code_edit",
                 "new_source", "diff", "replace", "insert_text", "new", "new_text", "replacement", "updated")
_PATCH_KEYS = ("input", "patch", "diff")


def _clip(text: str) -> str:
    return text[:MAX_CONTENT]


def parse_patch(text: str) -> list[FileWrite]:
    """Codex's patch format: ``*** Add File:`` / ``*** Update File:`` (with an
    optional ``*** Move to:``) and their ``+`` lines.  Deletions write nothing."""
    writes: list[FileWrite] = []
    path: str | None = None
    added: list[str] = []
    size = 0

    def flush() -> None:
        if path is not None:
            writes.append(FileWrite(path, "\n".join(added), False, "apply_patch"))

    for line in text.splitlines():
        if line.startswith("*** "):
            head = line[4:]
            for marker in ("Add File:", "Update File:", "Move to:", "Delete File:"):
                if head.startswith(marker):
                    target = head[len(marker):].strip()
                    if marker == "Move to:":
                        path = target or path
                    else:
                        flush()
                        path, added = (None, []) if marker == "Delete File:" else (target, [])
                    break
            continue
        if path is not None and line.startswith("+") and size < MAX_CONTENT:
            added.append(line[1:])
            size += len(line)
    flush()
    return writes


def added_text(text: str) -> str:
    """The text a diff adds: unified / V4A ``+`` lines, or the REPLACE side of a
    SEARCH/REPLACE block; other text is returned as it is."""
    if "=======" in text and ("REPLACE" in text or ">>>>>>>" in text):
        out: list[str] = []
        taking = False
        for line in text.splitlines():
            if line.startswith("======="):
                taking = True
            elif line.startswith(("+++++++", ">>>>>>>", "------- SEARCH", "<<<<<<<")):
                taking = False
            elif taking:
                out.append(line)
        return "\n".join(out)
    lines = text.splitlines()
    if lines and sum(1 for ln in lines if ln.startswith(("+", "-", " ", "@@"))) >= 0.8 * len(lines) \
            and any(ln.startswith("+") for ln in lines):
        return "\n".join(ln[1:] for ln in lines if ln.startswith("+") and not ln.startswith("+++"))
    return text


def _string(args: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = args.get(key)
        if isinstance(value, str):
            return value
    return None


def _file_writes(name: str, args: Any) -> list[FileWrite] | None:
    """File writes of a file tool, or None when the call is not a file write."""
    if isinstance(args, str) and "*** Begin Patch" in args:
        return parse_patch(args)
    if not isinstance(args, dict):
        return None
    patch = _string(args, _PATCH_KEYS)
    if patch is not None and "*** Begin Patch" in patch:
        return parse_patch(patch)
    path = _string(args, _PATH_KEYS)
    texts: list[str] = []
    content = _string(args, _CONTENT_KEYS)
    if content is not None:
        texts.append(added_text(content) if "diff" in args or "patch" in args else content)
    edits = args.get("edits")
    if isinstance(edits, list):
        for edit in edits:
            if isinstance(edit, dict):
                new = _string(edit, _CONTENT_KEYS)
                if new is not None:
                    texts.append(new)
    if path is None:
        if name in _WRITE_TOOLS or name in _PATCH_TOOLS:
            if not texts and patch is None:
                return []  # e.g. str_replace_editor "view": nothing written
            raise ExtractError(f"the file tool {name!r} writes without a path; "
                               "blocked because the write cannot be checked")
        return None
    if name not in _WRITE_TOOLS and not any(part in name for part in _WRITE_PARTS):
        return None
    command = args.get("command")
    append = command == "insert" or name in ("append_to_file", "insert_content")
    return [FileWrite(path, _clip("\n".join(texts)), append, f"{name or 'file'} tool")]


def _code_script(name: str, args: Any) -> str | None:
    if not isinstance(args, dict) or not any(part in name for part in _CODE_TOOLS):
        return None
    code = _string(args, ("code", "source", "script"))
    if code is None:
        return None
    lang = str(args.get("language") or args.get("lang") or "python").lower()
    if lang in ("bash", "sh", "shell", "zsh"):
        return code
    prog = {"javascript": "node", "js": "node", "node": "node", "ruby": "ruby", "perl": "perl"}
    interp = prog.get(lang, "python3")
    return shlex.join([interp, "-e" if interp in ("node", "ruby", "perl") else "-c", code])


def extract(call: ToolCall) -> Extracted:
    """The scripts and file writes of ``call``.  Raises ExtractError (block)."""
    name = (call.name or "").lower()
    args = call.arguments
    shell_like = is_shell_tool(call)
    file_like = name in _WRITE_TOOLS or name in _PATCH_TOOLS
    if args is None:
        if shell_like or file_like or any(p in name for p in _CODE_TOOLS):
            raise ExtractError(f"the arguments of tool call {call.name!r} are not valid JSON; "
                               "blocked because what it does cannot be checked")
        return Extracted()
    if shell_like:
        argv = args.get("command") if isinstance(args, dict) else args
        if isinstance(argv, list) and argv and isinstance(argv[0], str) \
                and argv[0].rsplit("/", 1)[-1] in _PATCH_TOOLS and len(argv) >= 2:
            if not all(isinstance(a, str) for a in argv):
                raise ExtractError("apply_patch arguments must be strings")
            return Extracted(writes=tuple(parse_patch("\n".join(argv[1:]))))
        try:
            scripts = shell_scripts(args)
        except ValueError as exc:
            raise ExtractError(str(exc)) from None
        return Extracted(scripts=tuple(scripts))
    code = _code_script(name, args)
    if code is not None:
        return Extracted(scripts=(code,))
    writes = _file_writes(name, args)
    if writes is not None:
        return Extracted(writes=tuple(writes))
    return Extracted()
