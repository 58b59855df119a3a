"""Static extraction of the commands a shell script would run, on tree-sitter-bash.

``parse(script)`` returns one :class:`Command` per simple command, wherever it
appears: in pipelines and ``&&``/``||``/``;`` lists, subshells and compound
statements, ``$(...)``/backticks, ``<(...)``/``>(...)``, heredocs and
here-strings fed to a shell, text echoed into a shell, and the scripts given to
``bash -c``/``sh -c``/``eval`` (parsed recursively).  Each command's ``argv`` has
quoting removed (``c''url``, ``"cu"rl`` and ``\\c\\u\\r\\l`` all read ``curl``),
wrapper prefixes (``sudo``, ``env``, ``timeout 5``, ``xargs``, ...) are stripped,
and variables assigned literally earlier in the script are substituted.

The script is attacker-controlled text, so the work is bounded: scripts over
64 KiB, or nested deeper than 8 levels (substitutions, subshells, nested
scripts), raise :class:`ShellParseError`, as do scripts with more than 1024
``|`` or whose analysis takes too long.  tree-sitter-bash is *not* linear on
hostile input: it is quadratic on some (10,000-stage pipelines, runs of unclosed
``a=(``), parts of its error recovery cannot be cancelled, and its scanner reads
out of bounds on some non-ASCII input.  So: the parser only ever sees ASCII (a
same-length copy with non-ASCII bytes replaced), small scripts are parsed here
under a CPU deadline, and larger ones in a worker process that is killed after
``WORKER_TIMEOUT_SECONDS``.  The walk below visits each node a bounded number
of times; the only regular expressions are single-character classes.

Syntax errors do not raise: tree-sitter recovers and the commands it could read
are returned.  ``parse_script`` also reports ``has_error`` so that a caller can
fail closed on scripts that did not parse cleanly.
"""

from __future__ import annotations

import atexit
import dataclasses
import os
import queue
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from functools import lru_cache

import orjson

import tree_sitter_bash
from tree_sitter import Language, Node, Parser

__all__ = [
    "ARG_OTHER",
    "ARG_STDIN",
    "Command",
    "Invocation",
    "MAX_NESTING",
    "MAX_SCRIPT_BYTES",
    "ParsedScript",
    "ShellParseError",
    "invocation",
    "parse",
    "parse_script",
    "program_name",
]

MAX_SCRIPT_BYTES = 64 * 1024
MAX_NESTING = 8
# tree-sitter-bash is quadratic on some inputs (very long pipelines, runs of
# unclosed `a=(`, `$[`, `=~`): cap the `|` count, whose slow phase cannot be
# cancelled, and give the whole analysis a CPU deadline (checked by
# tree-sitter's progress callback and by the walker).
MAX_PIPES = 1024
PARSE_BUDGET_SECONDS = 0.2
# Some of tree-sitter's error recovery runs for seconds between progress
# callbacks and holds the GIL, so only a separate process can be stopped in
# time: scripts over INLINE_BYTES (none of the benign corpus is over 4 KiB) are
# parsed by a worker process that is killed after WORKER_TIMEOUT_SECONDS.
INLINE_BYTES = 2048
WORKER_TIMEOUT_SECONDS = 1.0
_WORKER_BUDGET_SECONDS = 0.8
_MAX_AST_DEPTH = 96  # compound statements / error nodes, on top of MAX_NESTING
_MAX_EXPANSION = 256 * 1024  # total characters produced by variable substitution
_MAX_VAR_VALUE = 4096
_MAX_SOURCES = 16
_MAX_FUNCTION_PATCHES = 20_000

# Command.parent_arg values that are not argv indices.
ARG_STDIN = -1  # input redirect, heredoc, here-string, text piped in
ARG_OTHER = -2  # prefix assignment, output redirect, wrapper option


class ShellParseError(ValueError):
    """The script is too large or too deeply nested to analyse safely."""


@dataclass(frozen=True, slots=True)
class Command:
    """One simple command, as the shell would run it.

    ``pipeline``/``stage``: commands sharing ``pipeline`` are stages of one
    pipeline (``stage`` 0 is the first); a command on its own has a pipeline of
    its own.  A command inside a compound statement that is itself a pipeline
    stage (``{ curl x; } | sh``) takes that stage; ``outer`` lists enclosing
    (pipeline, stage) pairs further out, innermost first.

    ``nested_in`` says how the command is hidden inside another one
    ("command_substitution", "process_substitution",
    "output_process_substitution", "bash -c", "eval", "heredoc", "herestring",
    "stdin"), with ``parent`` the index in the returned list of that other
    command (None when there is none, e.g. ``x=$(...)``) and ``parent_arg``
    the index in the parent's argv where it sits (``ARG_STDIN`` when it feeds
    the parent's standard input, ``ARG_OTHER`` elsewhere).

    ``unresolved`` holds the argv indices whose words contain an expansion
    that cannot be resolved statically (``has_unresolved`` is true when there
    is any); such words keep a readable text such as ``$URL``.  ``inputs``
    holds (argv index, command index) pairs: that argument carries the output
    of that command through a variable (``x=$(curl ...); bash -c "$x"``).
    """

    argv: tuple[str, ...]
    pipeline: int
    stage: int
    redirects: tuple[str, ...] = ()
    nested_in: str | None = None
    has_unresolved: bool = False
    unresolved: tuple[int, ...] = ()
    parent: int | None = None
    parent_arg: int = ARG_OTHER
    inputs: tuple[tuple[int, int], ...] = ()
    outer: tuple[tuple[int, int], ...] = ()
    wrappers: tuple[str, ...] = ()
    depth: int = 0
    # Added for the screening inspector (relayguard.screen): the operator of
    # each redirect, parallel to ``redirects`` (">", ">>", "<", "&>", ...);
    # the text of a heredoc / here-string fed to the command (kind, text);
    # and the environment assignments it runs with (``A=1 cmd``, ``env A=1
    # cmd``), values as written when they are literal, None otherwise.
    redirect_ops: tuple[str, ...] = ()
    stdin_text: tuple[str, str] | None = None
    assignments: tuple[tuple[str, str | None], ...] = ()

    @property
    def program(self) -> str:
        """Normalised program name ("" when argv is empty)."""
        return program_name(self.argv[0]) if self.argv else ""


@dataclass(frozen=True, slots=True)
class ParsedScript:
    commands: tuple[Command, ...]
    has_error: bool  # tree-sitter had to recover from a syntax error somewhere


@dataclass(frozen=True, slots=True)
class Invocation:
    """How an interpreter invocation gets its program.

    ``mode`` is "stdin" (program text read from standard input), "code"
    (inline code, ``bash -c CODE``, ``python -c CODE``, ``eval ...``),
    "file" (a script file) or "module" (``python -m``).  ``index`` is the argv
    index of the code or file (None when missing, e.g. ``xargs sh -c``), and
    ``text`` its text (for attached options such as ``-cCODE`` only the code).
    """

    lang: str  # shell, python, perl, ruby, node, php, powershell, eval, source
    mode: str
    index: int | None = None
    text: str | None = None


# ---------------------------------------------------------------------------
# tree-sitter set-up: one Language per process, one Parser per thread.

_language: Language | None = None
_local = threading.local()


def _parser() -> Parser:
    global _language
    parser = getattr(_local, "parser", None)
    if parser is None:
        if _language is None:
            _language = Language(tree_sitter_bash.language())
        parser = _local.parser = Parser(_language)
    return parser


# ---------------------------------------------------------------------------
# Program names, wrappers and interpreter invocations.

SHELLS = frozenset({
    "sh", "bash", "zsh", "dash", "ksh", "ksh93", "mksh", "pdksh", "oksh", "ash",
    "fish", "csh", "tcsh", "yash", "posh", "rbash",
})
_POWERSHELL = frozenset({"pwsh", "powershell", "pwsh-preview"})
_EVALS = frozenset({"eval", "iex", "invoke-expression"})
_SU = frozenset({"su", "runuser"})
STDIN_PATHS = frozenset({"-", "/dev/stdin", "/dev/fd/0", "/proc/self/fd/0"})


@lru_cache(maxsize=2048)
def program_name(word: str) -> str:
    """``/usr/bin/Python3.exe`` -> ``python3``: basename, lower case, no .exe."""
    slash = max(word.rfind("/"), word.rfind("\\"))
    name = word[slash + 1:].lower() if slash >= 0 else word.lower()
    if name.endswith(".exe"):
        name = name[:-4]
    return name


def _versioned(name: str, base: str) -> bool:
    if not name.startswith(base):
        return False
    rest = name[len(base):]
    return all(c in "0123456789." for c in rest)


@lru_cache(maxsize=1024)
def interpreter_lang(name: str) -> str | None:
    """The language an interpreter program runs, or None for other programs."""
    if name in SHELLS:
        return "shell"
    if _versioned(name, "python") or _versioned(name, "pypy"):
        return "python"
    if _versioned(name, "perl"):
        return "perl"
    if _versioned(name, "ruby"):
        return "ruby"
    if name in ("node", "nodejs"):
        return "node"
    if _versioned(name, "php"):
        return "php"
    if name in _POWERSHELL:
        return "powershell"
    if name in _EVALS:
        return "eval"
    if name in ("source", "."):
        return "source"
    if name in _SU:
        return "su"
    return None


# wrapper -> (short options taking a value, long options taking a value)
_WRAPPERS: dict[str, tuple[str, frozenset[str]]] = {
    "sudo": ("CDghprtTuUR", frozenset({
        "--chdir", "--close-from", "--group", "--host", "--prompt", "--role",
        "--type", "--user", "--other-user", "--command-timeout", "--chroot"})),
    "doas": ("Cu", frozenset()),
    "env": ("uCS", frozenset({"--unset", "--chdir", "--split-string"})),
    "nohup": ("", frozenset()),
    "time": ("fo", frozenset({"--format", "--output"})),
    "command": ("", frozenset()),
    "builtin": ("", frozenset()),
    "exec": ("a", frozenset()),
    "nice": ("n", frozenset({"--adjustment"})),
    "ionice": ("cnp", frozenset({"--class", "--classdata", "--pid"})),
    "timeout": ("sk", frozenset({"--signal", "--kill-after"})),
    "xargs": ("aEdILnPse", frozenset({
        "--arg-file", "--delimiter", "--eof", "--replace", "--max-lines",
        "--max-args", "--max-procs", "--max-chars", "--process-slot-var"})),
    "stdbuf": ("ioe", frozenset({"--input", "--output", "--error"})),
    "setsid": ("", frozenset()),
    "busybox": ("", frozenset()),
}


def _is_assignment_word(word: str) -> bool:
    eq = word.find("=")
    if eq <= 0:
        return False
    name = word[:eq]
    return (name[0].isalpha() or name[0] == "_") and all(c.isalnum() or c == "_" for c in name)


def _skip_options(argv: list[str], i: int, short_arg: str, long_arg: frozenset[str],
                  numeric_flags: bool = False) -> int:
    """Index of the first operand after the options at argv[i:]."""
    n = len(argv)
    while i < n:
        a = argv[i]
        if a == "--":
            return i + 1
        if len(a) < 2 or a[0] != "-":
            return i
        if a.startswith("--"):
            if "=" not in a and a in long_arg:
                i += 2
            else:
                i += 1
            continue
        if numeric_flags and a[1:].isdigit():
            i += 1
            continue
        step = 1
        for j in range(1, len(a)):
            if a[j] in short_arg:
                if j == len(a) - 1:
                    step = 2  # value is the next word
                break  # value attached to the cluster
        i += step
    return i


def strip_wrappers(argv: list[str]) -> tuple[list[str], list[str], int]:
    """Remove wrapper prefixes; returns (argv, wrappers, words removed)."""
    wrappers: list[str] = []
    start = 0
    for _ in range(len(argv)):  # each round removes at least one word
        if start >= len(argv):
            break
        name = program_name(argv[start])
        spec = _WRAPPERS.get(name)
        if spec is None:
            break
        if name == "command" and start + 1 < len(argv) and argv[start + 1] in ("-v", "-V"):
            break  # `command -v x` looks x up, it does not run it
        i = start + 1
        if name == "env":
            # env -S 'prog args' splits its argument into words
            j = i
            while j < len(argv) and argv[j].startswith("-") and argv[j] != "--":
                a = argv[j]
                if a in ("-S", "--split-string") and j + 1 < len(argv):
                    argv = argv[:j] + argv[j + 1].split() + argv[j + 2:]
                    break
                if a.startswith("-S") and len(a) > 2:
                    argv = argv[:j] + a[2:].split() + argv[j + 1:]
                    break
                if a.startswith("--split-string="):
                    argv = argv[:j] + a[len("--split-string="):].split() + argv[j + 1:]
                    break
                j += 1
            i = _skip_options(argv, i, spec[0], spec[1])
            while i < len(argv) and _is_assignment_word(argv[i]):
                i += 1
        elif name == "sudo":
            shell_flag = False
            j = i
            while j < len(argv) and argv[j].startswith("-") and argv[j] != "--":
                a = argv[j]
                if not a.startswith("--") and ("s" in a[1:] or "i" in a[1:]):
                    shell_flag = True
                elif a in ("--shell", "--login"):
                    shell_flag = True
                j += 1
            i = _skip_options(argv, i, spec[0], spec[1])
            while i < len(argv) and _is_assignment_word(argv[i]):
                i += 1
            if shell_flag and i >= len(argv):
                wrappers.append(name)
                return ["sh"], wrappers, start  # sudo -s / -i: a shell reading stdin
        elif name == "timeout":
            i = _skip_options(argv, i, spec[0], spec[1])
            i += 1  # the duration
        elif name == "nice":
            i = _skip_options(argv, i, spec[0], spec[1], numeric_flags=True)
        elif name == "busybox":
            pass
        else:
            i = _skip_options(argv, i, spec[0], spec[1])
        if i >= len(argv) or i == start:
            break
        wrappers.append(name)
        start = i
    return argv[start:], wrappers, start


def _cluster_value(argv: list[str], i: int, j: int) -> tuple[int | None, str | None, int]:
    """Option letter at argv[i][j] takes a value: (index, text, next i)."""
    word = argv[i]
    if j + 1 < len(word):
        return i, word[j + 1:], i + 1
    if i + 1 < len(argv):
        return i + 1, argv[i + 1], i + 2
    return None, None, i + 1


def _file_or_stdin(lang: str, argv: list[str], i: int) -> Invocation:
    if i >= len(argv) or argv[i] in STDIN_PATHS:
        return Invocation(lang, "stdin")
    return Invocation(lang, "file", i, argv[i])


def _shell_invocation(argv: list[str], name: str) -> Invocation:
    n = len(argv)
    i = 1
    code = stdin = False
    while i < n:
        a = argv[i]
        if a in ("--", "-"):
            i += 1
            break
        if a.startswith("--"):
            if a in ("--rcfile", "--init-file", "--init-command"):
                i += 2
            elif a == "--command":  # fish
                code = True
                i += 1
            else:
                i += 1
            continue
        if len(a) > 1 and a[0] in "-+":
            step = 1
            for ch in a[1:]:
                if ch == "c":
                    code = True
                elif ch == "s":
                    stdin = True
                elif ch in "oO" or (ch == "C" and name == "fish"):
                    step += 1  # -o option-name
            i += step
            continue
        break
    if code:
        return Invocation("shell", "code", i if i < n else None, argv[i] if i < n else None)
    if stdin:
        return Invocation("shell", "stdin")
    return _file_or_stdin("shell", argv, i)


def _python_invocation(argv: list[str]) -> Invocation:
    n = len(argv)
    i = 1
    while i < n:
        a = argv[i]
        if a == "-":
            return Invocation("python", "stdin")
        if a == "--":
            i += 1
            break
        if a.startswith("--"):
            i += 2 if a == "--check-hash-based-pycs" else 1
            continue
        if len(a) > 1 and a[0] == "-":
            nxt = i + 1
            for j in range(1, len(a)):
                ch = a[j]
                if ch in "cm":
                    idx, text, _ = _cluster_value(argv, i, j)
                    return Invocation("python", "code" if ch == "c" else "module", idx, text)
                if ch in "WX":
                    _, _, nxt = _cluster_value(argv, i, j)
                    break
            i = nxt
            continue
        break
    return _file_or_stdin("python", argv, i)


# lang -> (code option letters, short options taking a value, long code options,
#          long options taking a value)
_GENERIC: dict[str, tuple[str, str, frozenset[str], frozenset[str]]] = {
    "perl": ("eE", "", frozenset(), frozenset()),
    "ruby": ("e", "rICEK", frozenset(), frozenset({"--encoding", "--external-encoding",
                                                    "--internal-encoding", "--enable", "--disable"})),
    "node": ("ep", "r", frozenset({"--eval", "--print"}),
             frozenset({"--require", "--import", "--loader", "--experimental-loader",
                        "--input-type", "--conditions", "--env-file", "--title", "--inspect-port"})),
    "php": ("rBRE", "dcz", frozenset(), frozenset({"--define"})),
}
_PERL_ATTACHED = "IMmlx0iCdDFV"  # perl options whose value is attached to the cluster


def _generic_invocation(argv: list[str], lang: str) -> Invocation:
    code_letters, arg_letters, long_code, long_arg = _GENERIC[lang]
    n = len(argv)
    i = 1
    while i < n:
        a = argv[i]
        if a in STDIN_PATHS:
            return Invocation(lang, "stdin")
        if a == "--":
            i += 1
            break
        if a.startswith("--"):
            key = a.split("=", 1)[0]
            if key in long_code:
                if "=" in a:
                    return Invocation(lang, "code", i, a.split("=", 1)[1])
                return Invocation(lang, "code", i + 1 if i + 1 < n else None,
                                  argv[i + 1] if i + 1 < n else None)
            i += 2 if (key in long_arg and "=" not in a) else 1
            continue
        if len(a) > 1 and a[0] == "-":
            nxt = i + 1
            for j in range(1, len(a)):
                ch = a[j]
                if ch in code_letters:
                    idx, text, _ = _cluster_value(argv, i, j)
                    return Invocation(lang, "code", idx, text)
                if lang == "php" and ch == "f":
                    idx, text, _ = _cluster_value(argv, i, j)
                    if text is None or text in STDIN_PATHS:
                        return Invocation(lang, "stdin")
                    return Invocation(lang, "file", idx, text)
                if ch in arg_letters:
                    _, _, nxt = _cluster_value(argv, i, j)
                    break
                if lang == "perl" and ch in _PERL_ATTACHED:
                    break
            i = nxt
            continue
        break
    return _file_or_stdin(lang, argv, i)


_PS_CODE = ("command", "c", "ec", "encodedcommand", "e", "enc")
_PS_SWITCHES = ("noprofile", "nologo", "noninteractive", "noexit", "mta", "sta",
                "interactive", "login", "l", "nop", "noni")


def _powershell_invocation(argv: list[str]) -> Invocation:
    n = len(argv)
    i = 1
    while i < n:
        a = argv[i]
        if a[:1] not in ("-", "/") or len(a) < 2:
            break
        key = a[1:].lower()
        if key in _PS_CODE or (len(key) >= 3 and "command".startswith(key)) or \
                (len(key) >= 3 and "encodedcommand".startswith(key)):
            if i + 1 >= n:
                return Invocation("powershell", "code", None)
            if argv[i + 1] == "-":
                return Invocation("powershell", "stdin")
            return Invocation("powershell", "code", i + 1, argv[i + 1])
        if key in ("file", "f"):
            return _file_or_stdin("powershell", argv, i + 1)
        if key in _PS_SWITCHES:
            i += 1
        else:
            i += 2  # -ExecutionPolicy Bypass, -WindowStyle Hidden, ...
    if i >= n:
        return Invocation("powershell", "stdin")
    if argv[i].lower().endswith(".ps1"):
        return Invocation("powershell", "file", i, argv[i])
    return Invocation("powershell", "code", i, " ".join(argv[i:]))


def _su_invocation(argv: list[str]) -> Invocation:
    n = len(argv)
    i = 1
    while i < n:
        a = argv[i]
        if a in ("-c", "--command"):
            return Invocation("shell", "code", i + 1 if i + 1 < n else None,
                              argv[i + 1] if i + 1 < n else None)
        if a.startswith("--command="):
            return Invocation("shell", "code", i, a[len("--command="):])
        i += 2 if a in ("-s", "--shell", "-g", "--group", "-G", "--supp-group", "-w") else 1
    return Invocation("shell", "stdin")


def invocation(argv: tuple[str, ...] | list[str]) -> Invocation | None:
    """How ``argv`` (wrappers already stripped) gets the program it runs, or
    None when argv[0] is not an interpreter."""
    if not argv:
        return None
    name = program_name(argv[0])
    lang = interpreter_lang(name)
    if lang is None:
        return None
    args = list(argv)
    if lang == "shell":
        return _shell_invocation(args, name)
    if lang == "python":
        return _python_invocation(args)
    if lang in _GENERIC:
        return _generic_invocation(args, lang)
    if lang == "powershell":
        return _powershell_invocation(args)
    if lang == "su":
        return _su_invocation(args)
    if lang == "eval":
        if len(args) < 2:
            return Invocation("eval", "stdin") if name != "eval" else Invocation("eval", "code", None)
        return Invocation("eval", "code", 1, " ".join(args[1:]))
    # source / .
    return _file_or_stdin("source", args, 1)


# ---------------------------------------------------------------------------
# Word text: quote removal, escapes, field splitting.

_UNQUOTED_ESCAPE = re.compile(r"\\(.)", re.S)
_DQ_ESCAPE = re.compile(r'\\([$`"\\\n])')
_GLOB_CHARS = re.compile(r"[*?\[{]")


def _unescape_unquoted(text: str) -> str:
    if "\\" not in text:
        return text
    return _UNQUOTED_ESCAPE.sub(lambda m: "" if m.group(1) == "\n" else m.group(1), text)


def _unescape_dq(text: str) -> str:
    if "\\" not in text:
        return text
    return _DQ_ESCAPE.sub(lambda m: "" if m.group(1) == "\n" else m.group(1), text)


_ANSI_SIMPLE = {"a": "\a", "b": "\b", "e": "\x1b", "E": "\x1b", "f": "\f", "n": "\n",
                "r": "\r", "t": "\t", "v": "\v", "\\": "\\", "'": "'", '"': '"', "?": "?"}


def decode_ansi_c(text: str) -> str:
    """Decode the escapes of a ``$'...'`` string (also printf / echo -e)."""
    if "\\" not in text:
        return text
    out: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c != "\\" or i + 1 >= n:
            out.append(c)
            i += 1
            continue
        e = text[i + 1]
        i += 2
        if e in _ANSI_SIMPLE:
            out.append(_ANSI_SIMPLE[e])
        elif e in "01234567":
            j = i
            while j < n and j < i + 2 and text[j] in "01234567":
                j += 1
            out.append(chr(int(text[i - 1:j], 8) & 0xFF))
            i = j
        elif e in "xuU":
            limit = {"x": 2, "u": 4, "U": 8}[e]
            j = i
            while j < n and j < i + limit and text[j] in "0123456789abcdefABCDEF":
                j += 1
            if j == i:
                out.append("\\" + e)
            else:
                code = int(text[i:j], 16)
                out.append(chr(code) if code <= 0x10FFFF else "\ufffd")
            i = j
        elif e == "c" and i < n:
            out.append(chr(ord(text[i]) & 0x1F))
            i += 1
        else:
            out.append("\\" + e)
    return "".join(out)


def _only_continuations(src: bytes, start: int, end: int) -> bool:
    """Is src[start:end] one or more backslash-newlines and nothing else?"""
    gap = end - start
    if gap < 2 or gap % 2:
        return False
    return src[start:end] == b"\\\n" * (gap // 2)


class _Fields:
    """Accumulates the fields one shell word expands to."""

    __slots__ = ("fields", "parts", "have", "unresolved", "glob")

    def __init__(self) -> None:
        self.fields: list[str] = []
        self.parts: list[str] = []
        self.have = False
        self.unresolved = False
        self.glob = False

    def lit(self, text: str) -> None:
        self.parts.append(text)
        self.have = True

    def finish(self) -> None:
        if self.have:
            self.fields.append("".join(self.parts))
        self.parts = []
        self.have = False

    def split(self, text: str) -> None:
        """Unquoted expansion result: field-split on whitespace."""
        if not text:
            return
        pieces = text.split()
        if not pieces:
            self.finish()
            return
        if text[0].isspace():
            self.finish()
        self.lit(pieces[0])
        for piece in pieces[1:]:
            self.finish()
            self.lit(piece)
        if text[-1].isspace():
            self.finish()

    def done(self) -> list[str]:
        self.finish()
        return self.fields


# ---------------------------------------------------------------------------
# The walker.

_STATEMENTS = frozenset({
    "command", "pipeline", "list", "redirected_statement", "subshell", "compound_statement",
    "if_statement", "while_statement", "for_statement", "c_style_for_statement",
    "case_statement", "function_definition", "negated_command", "declaration_command",
    "unset_command", "test_command", "variable_assignment", "variable_assignments",
    "do_group", "ERROR",
})
_COMPOUND = frozenset({
    "subshell", "compound_statement", "if_statement", "while_statement", "for_statement",
    "c_style_for_statement", "case_statement", "do_group", "negated_command", "test_command",
    "elif_clause", "else_clause", "case_item", "ERROR",
})
_REDIRECTS = frozenset({"file_redirect", "heredoc_redirect", "herestring_redirect"})
_OPS = frozenset({"|", "|&", "&&", "||", ";", "&", ";;", "\n"})
_INPUT_OPS = frozenset({"<", "<>", "<&"})
_SPECIAL_VARS = frozenset("0123456789@*#?$!-_")


class _Ctx:
    __slots__ = ("src", "nest", "nested_in", "parent", "parent_arg")

    def __init__(self, src: bytes, nest: int, nested_in: str | None, parent: int | None,
                 parent_arg: int) -> None:
        self.src = src
        self.nest = nest
        self.nested_in = nested_in
        self.parent = parent
        self.parent_arg = parent_arg


class _B:
    """A command under construction (frozen into Command at the end)."""

    __slots__ = ("argv", "chain", "redirects", "nested_in", "unresolved", "parent",
                 "parent_arg", "inputs", "wrappers", "depth", "stdin_text", "extra_outer",
                 "redirect_ops", "assignments")

    def __init__(self, ctx: _Ctx, chain: tuple[tuple[int, int], ...]) -> None:
        self.argv: list[str] = []
        self.chain = chain
        self.redirects: list[str] = []
        self.nested_in = ctx.nested_in
        self.unresolved: set[int] = set()
        self.parent = ctx.parent
        self.parent_arg = ctx.parent_arg
        self.inputs: list[tuple[int, int]] = []
        self.wrappers: list[str] = []
        self.depth = ctx.nest
        self.stdin_text: tuple[str, str] | None = None  # (kind, text) of heredoc / herestring
        self.extra_outer: list[tuple[int, int]] = []
        self.redirect_ops: list[str] = []
        self.assignments: list[tuple[str, str | None]] = []


_ASCII_ONLY = bytes.maketrans(bytes(range(128, 256)),
                              bytes(ord("A") + b % 26 for b in range(128, 256)))

# A variable's value: literal text, or the indices of the commands whose output
# it holds (possibly none: unknown).
_Value = str | tuple[int, ...]


class _NeedsIsolation(Exception):
    """Too much to parse in this process: hand the script to the worker."""


class _Walker:
    def __init__(self, budget: float = PARSE_BUDGET_SECONDS, inline_bytes: int | None = None) -> None:
        self.out: list[_B | None] = []
        self.pid = 0
        self.env: dict[str, _Value] = {"IFS": " \t\n"}
        self.ifs_modified = False
        self.budget = _MAX_EXPANSION
        self.has_error = False
        self.children: dict[int, list[int]] = {}
        self.functions: dict[str, tuple[int, int]] = {}
        self.calls: list[tuple[str, int]] = []
        self.deadline = time.perf_counter() + budget
        self.inline_left = inline_bytes  # None: no limit (we are the worker)

    # -- helpers ----------------------------------------------------------
    def new_pid(self) -> int:
        self.pid += 1
        return self.pid - 1

    @staticmethod
    def text(node: Node, ctx: _Ctx) -> str:
        return ctx.src[node.start_byte:node.end_byte].decode("utf-8", "replace")

    def script(self, text: str, nest: int, nested_in: str | None, parent: int | None,
               parent_arg: int, depth: int = 0) -> None:
        if nest > MAX_NESTING:
            raise ShellParseError(f"shell script nested deeper than {MAX_NESTING} levels")
        data = text.encode("utf-8", "replace")
        if len(data) > MAX_SCRIPT_BYTES:
            raise ShellParseError(f"shell script longer than {MAX_SCRIPT_BYTES} bytes")
        if data.count(b"|") > MAX_PIPES:
            raise ShellParseError(f"shell script has more than {MAX_PIPES} '|' characters")
        if self.inline_left is not None:
            self.inline_left -= len(data)
            if self.inline_left < 0:
                raise _NeedsIsolation
        # tree-sitter-bash's scanner calls isdigit()/isalpha() on code points,
        # which reads out of bounds (and can crash) for non-ASCII characters.
        # Shell syntax is all ASCII: parse a same-length copy in which every
        # non-ASCII byte is an upper-case letter (no keyword is upper case), and
        # take all text from the original bytes, at the same offsets.
        view = memoryview(data if data.isascii() else data.translate(_ASCII_ONLY))
        deadline = self.deadline
        parser = _parser()
        try:
            tree = parser.parse(lambda offset, _point: view[offset:offset + 65536],
                                progress_callback=lambda _offset, _err: time.perf_counter() > deadline)
        except ValueError:  # cancelled by the progress callback
            parser.reset()
            raise ShellParseError("shell script too expensive to parse") from None
        root = tree.root_node
        if root.has_error:
            self.has_error = True
        ctx = _Ctx(data, nest, nested_in, parent, parent_arg)
        self.block(root, ctx, (), False, depth)

    def nested(self, node: Node, ctx: _Ctx, kind: str, owner: int | None, pos: int,
               cond: bool, depth: int) -> None:
        """Walk the commands inside a command / process substitution."""
        nest = ctx.nest + 1
        if nest > MAX_NESTING:
            raise ShellParseError(f"shell script nested deeper than {MAX_NESTING} levels")
        sub = _Ctx(ctx.src, nest, kind, owner, pos)
        self.block(node, sub, (), cond, depth + 1)

    # -- statements -------------------------------------------------------
    def block(self, node: Node, ctx: _Ctx, chain: tuple[tuple[int, int], ...], cond: bool,
              depth: int) -> None:
        for child in node.named_children:
            t = child.type
            if t in _STATEMENTS:
                self.statement(child, ctx, chain, cond, depth)
            elif t in ("command_substitution", "process_substitution"):
                self.substitution(child, ctx, None, ARG_OTHER, cond, depth)
            elif t != "comment":
                self.scan(child, ctx, None, ARG_OTHER, cond, depth)

    def statement(self, node: Node, ctx: _Ctx, chain: tuple[tuple[int, int], ...], cond: bool,
                  depth: int, redirects: list[Node] | None = None) -> None:
        if depth > _MAX_AST_DEPTH:
            raise ShellParseError("shell script nested too deeply")
        t = node.type
        if t == "command":
            self.command(node, ctx, chain, cond, depth, redirects or [])
        elif t in ("pipeline", "list", "redirected_statement"):
            self.sequence(node, ctx, chain, cond, depth)
        elif t == "variable_assignment":
            self.assign(node, ctx, cond, depth)
        elif t == "variable_assignments":
            for child in node.named_children:
                if child.type == "variable_assignment":
                    self.assign(child, ctx, cond, depth)
        elif t == "declaration_command":
            self.declaration(node, ctx, cond, depth)
        elif t == "unset_command":
            for child in node.named_children:
                if child.type == "variable_name":
                    self.env.pop(self.text(child, ctx), None)
        elif t == "function_definition":
            body = node.child_by_field_name("body")
            name = node.child_by_field_name("name")
            start = len(self.out)
            if body is not None:
                self.statement(body, ctx, (), True, depth + 1)
            if name is not None:
                self.functions[self.text(name, ctx)] = (start, len(self.out))
        else:
            self.compound(node, ctx, chain, cond, depth, redirects or [])

    def compound(self, node: Node, ctx: _Ctx, chain: tuple[tuple[int, int], ...], cond: bool,
                 depth: int, redirects: list[Node]) -> None:
        t = node.type
        if t == "subshell":
            if ctx.nest + 1 > MAX_NESTING:
                raise ShellParseError(f"shell script nested deeper than {MAX_NESTING} levels")
            ctx = _Ctx(ctx.src, ctx.nest + 1, ctx.nested_in, ctx.parent, ctx.parent_arg)
        if t == "ERROR":
            self.has_error = True
        # `{ ...; } < <(curl x)` is `curl x | { ...; }`; `... > >(sh)` is `... | sh`.
        for r in redirects:
            if r.type != "file_redirect":
                self.scan(r, ctx, None, ARG_STDIN, cond, depth)
                continue
            op = ""
            for c in r.children:
                if not c.is_named:
                    op = c.type
            for dest in r.named_children:
                if dest.type == "process_substitution":
                    pid = self.new_pid()
                    inward = self.text(dest, ctx).startswith("<(")
                    kind = "process_substitution" if inward else "output_process_substitution"
                    sub = _Ctx(ctx.src, ctx.nest + 1, kind, None, ARG_OTHER)
                    if sub.nest > MAX_NESTING:
                        raise ShellParseError(f"shell script nested deeper than {MAX_NESTING} levels")
                    self.block(dest, sub, ((pid, 0 if inward else 1),), cond, depth + 1)
                    chain = ((pid, 1 if inward else 0),) + chain
                elif dest.type != "file_descriptor":
                    self.scan(dest, ctx, None, ARG_STDIN if op in _INPUT_OPS else ARG_OTHER,
                              cond, depth)
        loop_var = node.child_by_field_name("variable") if t == "for_statement" else None
        if loop_var is not None:
            self.env.pop(self.text(loop_var, ctx), None)
        inner_cond = cond or t not in ("subshell", "compound_statement", "negated_command")
        first = len(self.out)
        for child in node.named_children:
            ct = child.type
            if ct == "do_group" and loop_var is not None and len(self.out) > first:
                # `for x in $(cmd)`: x holds the output of cmd (a source, like x=$(cmd))
                self.env[self.text(loop_var, ctx)] = tuple(range(first, len(self.out)))[:_MAX_SOURCES]
            if ct in _STATEMENTS or ct in _COMPOUND:
                self.statement(child, ctx, chain, inner_cond, depth + 1)
            elif ct in ("command_substitution", "process_substitution"):
                self.substitution(child, ctx, None, ARG_OTHER, cond, depth)
            elif ct not in ("comment", "variable_name"):
                self.scan(child, ctx, None, ARG_OTHER, cond, depth)

    def sequence(self, node: Node, ctx: _Ctx, chain: tuple[tuple[int, int], ...], cond: bool,
                 depth: int) -> None:
        """A pipeline / and-or list / redirected statement, re-associated.

        tree-sitter-bash nests these oddly (``a | b | c || d`` comes out as
        ``a | (b | c || d)``, and a heredoc's ``| sh`` hangs inside the heredoc
        redirect), so flatten to elements and operators and rebuild with the
        shell's precedence: ``|`` binds tighter than ``&&``/``||``/``;``.
        """
        items: list[object] = []  # [elem, op, elem, ...]; elem = [node, redirects]
        stack: list[object] = [node]
        while stack:
            cur = stack.pop()
            if isinstance(cur, tuple):  # ("attach", redirects)
                if items and isinstance(items[-1], list):
                    items[-1][1].extend(cur[1])
                continue
            n = cur  # type: ignore[assignment]
            t = n.type  # type: ignore[attr-defined]
            if t in ("pipeline", "list"):
                stack.extend(reversed(n.children))  # type: ignore[attr-defined]
            elif t == "redirected_statement":
                body = n.child_by_field_name("body")  # type: ignore[attr-defined]
                reds: list[Node] = []
                tail: list[Node] = []
                for c in n.children:  # type: ignore[attr-defined]
                    if c.type in _REDIRECTS:
                        reds.append(c)
                        if c.type == "heredoc_redirect":
                            started = False
                            for hc in c.children:
                                if hc.type == "heredoc_start":
                                    started = True
                                elif started and hc.type not in (
                                        "heredoc_body", "heredoc_end", "file_redirect",
                                        "herestring_redirect", "comment"):
                                    tail.append(hc)
                later: list[object] = []
                if body is not None:
                    later.append(body)
                later.append(("attach", reds))
                later.extend(tail)
                stack.extend(reversed(later))
            elif not n.is_named:  # type: ignore[attr-defined]
                if t in _OPS:
                    items.append(t)
            elif t != "comment":
                items.append([n, []])
        # group into and-or list of pipelines
        pipelines: list[tuple[list[list], bool]] = []
        current: list[list] = []
        cur_cond = cond
        pending_cond = cond
        for it in items:
            if isinstance(it, list):
                current.append(it)
            elif it in ("|", "|&"):
                continue
            else:
                if current:
                    pipelines.append((current, pending_cond))
                current = []
                if it == "||":
                    cur_cond = True
                pending_cond = cur_cond
        if current:
            pipelines.append((current, pending_cond))
        for elems, pcond in pipelines:
            if len(elems) == 1:
                elem = elems[0]
                self.statement(elem[0], ctx, chain, pcond, depth, elem[1])
                continue
            pid = self.new_pid()
            first = len(self.out)
            for stage, elem in enumerate(elems):
                self.statement(elem[0], ctx, ((pid, stage),) + chain, True, depth, elem[1])
            self.piped_text(first, pid, ctx, depth)

    def piped_text(self, first: int, pid: int, ctx: _Ctx, depth: int) -> None:
        """Text fed into a shell by an earlier stage (``echo 'x' | sh``,
        ``cat <<EOF | bash``) is a script: parse it as one."""
        shells: list[tuple[int, int]] = []
        texts: list[tuple[int, str, str]] = []
        for i in range(first, len(self.out)):
            b = self.out[i]
            if b is None or not b.chain or b.chain[0][0] != pid or b.parent != ctx.parent \
                    or b.nested_in != ctx.nested_in:
                continue
            stage = b.chain[0][1]
            inv = invocation(b.argv)
            if inv is not None and inv.lang == "shell" and inv.mode == "stdin":
                shells.append((i, stage))
            prog = program_name(b.argv[0]) if b.argv else ""
            if b.stdin_text is not None and prog in ("cat", "tee", "head", "tail", "sed",
                                                    "dd", "cut", "tr", "sort", "uniq"):
                texts.append((stage, b.stdin_text[0], b.stdin_text[1]))
            elif prog in ("echo", "printf") and len(b.argv) > 1:
                if all(k not in b.unresolved for k in range(1, len(b.argv))):
                    args = b.argv[1:]
                    if prog == "echo":
                        while args and args[0] in ("-n", "-e", "-E", "-ne", "-en"):
                            args = args[1:]
                        texts.append((stage, "stdin", decode_ansi_c(" ".join(args))))
                    else:
                        texts.append((stage, "stdin", decode_ansi_c("\n".join(args))))
        for tstage, kind, text in texts:
            # the next shell down the pipeline reads it as code; later ones read its output
            later = [(stage, idx) for idx, stage in shells if stage > tstage]
            if later and text.strip():
                self.script(text, ctx.nest + 1, kind, min(later)[1], ARG_STDIN, depth + 1)

    # -- variables --------------------------------------------------------
    def assign(self, node: Node, ctx: _Ctx, cond: bool, depth: int) -> None:
        name_node = node.child_by_field_name("name")
        value_node = node.child_by_field_name("value")
        if name_node is None:
            return
        name = self.text(name_node, ctx)
        if name == "IFS":
            self.ifs_modified = True
        first = len(self.out)
        if value_node is None:
            value: _Value = ""
        elif value_node.type == "array":
            self.scan(value_node, ctx, None, ARG_OTHER, cond, depth)
            value = ()
        else:
            f = _Fields()
            sources: list[int] = []
            self.word(value_node, ctx, f, None, ARG_OTHER, cond, depth, quoted=True,
                      sources=sources)
            text = "".join(f.parts)
            sources.extend(range(first, len(self.out)))
            if f.unresolved or len(text) > _MAX_VAR_VALUE:
                value = tuple(sources[:_MAX_SOURCES])
            else:
                value = text
        is_append = any(c.type == "+=" for c in node.children)
        self.set_var(name, value, cond, is_append)

    def set_var(self, name: str, value: _Value, cond: bool, append: bool = False) -> None:
        old = self.env.get(name)
        if append:
            if isinstance(old, str) and isinstance(value, str) and len(old) + len(value) <= _MAX_VAR_VALUE:
                value = old + value
            else:
                value = tuple((old if isinstance(old, tuple) else ()) +
                              (value if isinstance(value, tuple) else ()))[:_MAX_SOURCES]
        if cond and old != value:
            # may or may not have run: known only as "some value from these sources"
            merged = (old if isinstance(old, tuple) else ()) + (value if isinstance(value, tuple) else ())
            value = tuple(merged)[:_MAX_SOURCES]
        self.env[name] = value

    def declaration(self, node: Node, ctx: _Ctx, cond: bool, depth: int) -> None:
        keyword = node.children[0].type if node.children else ""
        for child in node.named_children:
            if child.type == "variable_assignment":
                self.assign(child, ctx, cond, depth)
            elif child.type == "variable_name":
                if keyword in ("local", "declare", "typeset"):
                    self.env.pop(self.text(child, ctx), None)
            else:
                self.scan(child, ctx, None, ARG_OTHER, cond, depth)

    def expand_var(self, name: str, f: _Fields, raw: str, quoted: bool,
                   sources: list[int] | None) -> None:
        value = self.env.get(name) if name not in _SPECIAL_VARS and not name[:1].isdigit() else None
        if isinstance(value, str) and (quoted or not self.ifs_modified) and len(value) <= self.budget:
            self.budget -= len(value)
            if quoted:
                f.lit(value)
            else:
                f.split(value)
            return
        f.unresolved = True
        f.lit(raw)
        if isinstance(value, tuple) and sources is not None:
            sources.extend(value)

    # -- words ------------------------------------------------------------
    def substitution(self, node: Node, ctx: _Ctx, owner: int | None, pos: int, cond: bool,
                     depth: int) -> None:
        if node.type == "process_substitution":
            kind = "process_substitution" if self.text(node, ctx).startswith("<") \
                else "output_process_substitution"
        else:
            kind = "command_substitution"
        self.nested(node, ctx, kind, owner, pos, cond, depth)

    def scan(self, node: Node, ctx: _Ctx, owner: int | None, pos: int, cond: bool,
             depth: int) -> None:
        """Find substitutions (and, in error nodes, statements) below ``node``."""
        if depth > _MAX_AST_DEPTH:
            raise ShellParseError("shell script nested too deeply")
        for child in node.named_children:
            t = child.type
            if t in ("command_substitution", "process_substitution"):
                self.substitution(child, ctx, owner, pos, cond, depth)
            elif t in _STATEMENTS and t != "variable_assignment":
                self.statement(child, ctx, (), cond, depth + 1)
            elif child.named_child_count:
                self.scan(child, ctx, owner, pos, cond, depth + 1)

    def word(self, node: Node, ctx: _Ctx, f: _Fields, owner: int | None, pos: int, cond: bool,
             depth: int, quoted: bool = False, sources: list[int] | None = None) -> None:
        t = node.type
        if t == "word":
            raw = self.text(node, ctx)
            if not quoted and _GLOB_CHARS.search(raw):
                f.glob = True
            f.lit(raw if quoted else _unescape_unquoted(raw))
        elif t == "raw_string":
            f.lit(self.text(node, ctx)[1:-1])
        elif t in ("string", "translated_string"):
            self.dq_string(node, ctx, f, owner, pos, cond, depth, sources)
        elif t == "ansi_c_string":
            f.lit(decode_ansi_c(self.text(node, ctx)[2:-1]))
        elif t == "concatenation":
            for child in node.children:
                self.word(child, ctx, f, owner, pos, cond, depth, quoted, sources)
        elif t == "simple_expansion":
            raw = self.text(node, ctx)
            self.expand_var(raw[1:], f, raw, quoted, sources)
        elif t == "expansion":
            raw = self.text(node, ctx)
            named = node.named_children
            if len(named) == 1 and named[0].type == "variable_name" and node.child_count == 3:
                self.expand_var(self.text(named[0], ctx), f, raw, quoted, sources)
            else:
                self.scan(node, ctx, owner, pos, cond, depth)
                f.unresolved = True
                f.lit(raw)
        elif t in ("command_substitution", "process_substitution"):
            first = len(self.out)
            self.substitution(node, ctx, owner, pos, cond, depth)
            echoed = self.echoed(first) if t == "command_substitution" else None
            if echoed is not None and len(echoed) <= self.budget:
                # $(echo curl), "$(printf 'curl x | sh')": literal text, statically
                self.budget -= len(echoed)
                if quoted:
                    f.lit(echoed)
                else:
                    f.split(echoed)
                return
            if sources is not None:
                sources.extend(range(first, min(len(self.out), first + _MAX_SOURCES)))
            f.unresolved = True
            f.lit(self.text(node, ctx))
        elif t in ("number", "test_operator", "variable_name", "file_descriptor", "regex",
                   "extglob_pattern", "special_variable_name", "heredoc_start"):
            f.lit(_unescape_unquoted(self.text(node, ctx)))
        elif not node.is_named:
            raw = self.text(node, ctx)
            if raw in ("{", "}", "[", "]", "*", "?") and not quoted:
                f.glob = True
            if raw == "$":
                f.unresolved = True
            f.lit(raw)
        elif t == "_special_character" or node.grammar_name == "_special_character":
            f.glob = True
            f.lit(self.text(node, ctx))
        else:
            # brace expressions, arithmetic, arrays, anything unusual
            self.scan(node, ctx, owner, pos, cond, depth)
            f.unresolved = True
            if t == "brace_expression":
                f.glob = True
            f.lit(self.text(node, ctx))

    def echoed(self, first: int) -> str | None:
        """The output of a substitution that is a lone literal echo/printf."""
        if len(self.out) != first + 1:
            return None
        b = self.out[first]
        if b is None or b.unresolved or b.redirects or b.wrappers or not b.argv:
            return None
        prog = program_name(b.argv[0])
        if prog == "echo":
            args = list(b.argv[1:])
            escapes = False
            while args and args[0] in ("-n", "-e", "-E", "-ne", "-en"):
                escapes = escapes or "e" in args[0]
                args.pop(0)
            text = " ".join(args)
            text = decode_ansi_c(text) if escapes else text
        elif prog == "printf" and len(b.argv) == 2 and "%" not in b.argv[1]:
            text = decode_ansi_c(b.argv[1])
        else:
            return None
        return text.rstrip("\n")

    def dq_string(self, node: Node, ctx: _Ctx, f: _Fields, owner: int | None, pos: int,
                  cond: bool, depth: int, sources: list[int] | None) -> None:
        f.lit("")  # "" is a field even when empty
        start = node.start_byte
        end = node.end_byte
        src = ctx.src
        at = start + (2 if src[start:start + 1] == b"$" else 1)
        inner_end = end - 1 if end - 1 >= at and src[end - 1:end] == b'"' else end
        children = node.children
        last = len(children) - 1
        for k, child in enumerate(children):
            if not child.is_named:
                if (k == 0 or k == last) and child.type in ('"', '$"', "$"):
                    at = max(at, child.end_byte)
                    continue
            if child.start_byte > at:
                f.lit(_unescape_dq(src[at:child.start_byte].decode("utf-8", "replace")))
            ct = child.type
            if not child.is_named:
                f.lit(self.text(child, ctx))
            elif ct == "string_content":
                f.lit(_unescape_dq(self.text(child, ctx)))
            else:
                self.word(child, ctx, f, owner, pos, cond, depth, quoted=True, sources=sources)
            at = child.end_byte
        if inner_end > at:
            f.lit(_unescape_dq(src[at:inner_end].decode("utf-8", "replace")))

    # -- commands ---------------------------------------------------------
    def command(self, node: Node, ctx: _Ctx, chain: tuple[tuple[int, int], ...], cond: bool,
                depth: int, redirects: list[Node]) -> None:
        idx = len(self.out)
        if not idx & 63 and time.perf_counter() > self.deadline:
            raise ShellParseError("shell script too expensive to analyse")
        self.out.append(None)  # reserve: nested commands refer to this index
        b = _B(ctx, chain)
        if ctx.parent is not None:
            self.children.setdefault(ctx.parent, []).append(idx)
        argv = b.argv
        prefix: list[tuple[str, _Value]] = []
        reds = list(redirects)
        prev_end = -1
        for child in node.children:
            t = child.type
            if t == "variable_assignment":
                name_node = child.child_by_field_name("name")
                value_node = child.child_by_field_name("value")
                if value_node is not None:
                    f = _Fields()
                    srcs: list[int] = []
                    first = len(self.out)
                    self.word(value_node, ctx, f, idx, ARG_OTHER, cond, depth, quoted=True,
                              sources=srcs)
                    srcs.extend(range(first, len(self.out)))
                    if name_node is not None:
                        val = "".join(f.parts)
                        prefix.append((self.text(name_node, ctx),
                                       tuple(srcs[:_MAX_SOURCES]) if f.unresolved else val))
            elif t in _REDIRECTS:
                reds.append(child)
            elif t == "comment":
                continue
            elif t == "number" and argv and ctx.src[child.end_byte:child.end_byte + 1] in (b"<", b">"):
                continue  # `sh 0</tmp/p`: tree-sitter-bash reads the descriptor as an argument
            else:
                node_ = child.named_children[0] if t == "command_name" and child.named_child_count else child
                f = _Fields()
                srcs = []
                # `cu\<newline>rl` is one word to the shell, two to tree-sitter
                glue = bool(argv) and prev_end >= 0 and _only_continuations(ctx.src, prev_end,
                                                                           child.start_byte)
                pos = len(argv) - 1 if glue else len(argv)
                self.word(node_, ctx, f, idx, pos, cond, depth, sources=srcs)
                fields = f.done()
                if glue and fields:
                    fields[0] = argv.pop() + fields[0]
                elif glue:
                    pos = len(argv)
                for k in range(len(fields)):
                    if f.unresolved:
                        b.unresolved.add(pos + k)
                    for s in srcs[:_MAX_SOURCES]:
                        b.inputs.append((pos + k, s))
                if f.glob and pos == 0 and fields:
                    b.unresolved.add(0)
                argv.extend(fields)
                prev_end = child.end_byte
        # redirects
        for r in reds:
            self.redirect(r, ctx, b, idx, cond, depth)
        # wrappers
        stripped, wrappers, shift = strip_wrappers(argv)
        for name_, value_ in prefix:
            b.assignments.append((name_, value_ if isinstance(value_, str) else None))
        for k in range(shift):  # env A=1 cmd
            if _is_assignment_word(argv[k]) and k not in b.unresolved:
                name_, _, value_ = argv[k].partition("=")
                b.assignments.append((name_, value_))
        if wrappers:
            b.wrappers = wrappers
            b.argv = stripped
            b.unresolved = {k - shift for k in b.unresolved if k >= shift}
            b.inputs = [(k - shift, s) for k, s in b.inputs if k >= shift]
            for j in self.children.get(idx, ()):
                cb = self.out[j]
                if cb is not None and cb.parent == idx and cb.parent_arg >= 0:
                    cb.parent_arg = cb.parent_arg - shift if cb.parent_arg >= shift else ARG_OTHER
            if len(stripped) > 0 and _GLOB_CHARS.search(stripped[0]) and stripped[0] != "[":
                b.unresolved.add(0)
        self.out[idx] = b
        self.after_command(b, idx, ctx, cond, depth, prefix)

    def redirect(self, r: Node, ctx: _Ctx, b: _B, idx: int, cond: bool, depth: int) -> None:
        t = r.type
        if t == "file_redirect":
            op = ""
            for c in r.children:
                if not c.is_named:
                    op = c.type
            pos = ARG_STDIN if op in _INPUT_OPS else ARG_OTHER
            seen_target = False
            for dest in r.named_children:
                if dest.type == "file_descriptor":
                    continue
                if seen_target:
                    # `pip install a>=1 b c`: tree-sitter-bash hangs b and c on the
                    # redirect, but to the shell they are arguments of the command.
                    f = _Fields()
                    at = len(b.argv)
                    self.word(dest, ctx, f, idx, at, cond, depth)
                    words = f.done()
                    if f.unresolved:
                        b.unresolved.update(range(at, at + len(words)))
                    b.argv.extend(words)
                    continue
                f = _Fields()
                self.word(dest, ctx, f, idx, pos, cond, depth, quoted=True)
                target = "".join(f.parts)
                seen_target = True
                if op in (">&", "<&") and (target.isdigit() or target == "-"):
                    continue
                b.redirects.append(target)
                b.redirect_ops.append(op)
        elif t == "herestring_redirect":
            f = _Fields()
            for child in r.named_children:
                self.word(child, ctx, f, idx, ARG_STDIN, cond, depth)
            text = " ".join(f.done())
            if not f.unresolved:
                b.stdin_text = ("herestring", text)
        elif t == "heredoc_redirect":
            quoted = False
            strip_tabs = False
            body = ""
            for c in r.children:
                ct = c.type
                if ct == "<<-":
                    strip_tabs = True
                elif ct == "heredoc_start":
                    delim = self.text(c, ctx)
                    quoted = any(q in delim for q in "'\"\\")
                elif ct == "heredoc_body":
                    body = self.text(c, ctx)
                    if not quoted:
                        self.scan(c, ctx, idx, ARG_STDIN, cond, depth)
                elif ct == "file_redirect":
                    self.redirect(c, ctx, b, idx, cond, depth)
            if strip_tabs:
                body = "\n".join(line.lstrip("\t") for line in body.split("\n"))
            b.stdin_text = ("heredoc", body)

    def after_command(self, b: _B, idx: int, ctx: _Ctx, cond: bool, depth: int,
                      prefix: list[tuple[str, _Value]]) -> None:
        argv = b.argv
        if not argv:
            return
        name = program_name(argv[0])
        if name == "read":
            for w in argv[1:]:
                if not w.startswith("-"):
                    self.env.pop(w, None)
        elif name in ("export", "readonly"):
            for w in argv[1:]:
                if _is_assignment_word(w):
                    self.set_var(w.split("=", 1)[0], w.split("=", 1)[1], cond)
        if 0 not in b.unresolved and argv[0] in self.functions:
            self.calls.append((argv[0], idx))
        inv = invocation(argv)
        if inv is None:
            return
        # A nested shell is another process: what it assigns does not come back
        # (eval runs in this shell, but it has no prefix assignments to undo).
        saved = dict(self.env) if (prefix or inv.lang != "eval") else None
        for k, v in prefix:
            self.env[k] = v
        try:
            if inv.mode == "code" and inv.index is not None and inv.text is not None \
                    and inv.index not in b.unresolved:
                if inv.lang in ("shell", "powershell"):
                    self.script(inv.text, ctx.nest + 1, f"{name} -c", idx, inv.index, depth + 1)
                elif inv.lang == "eval" and all(k not in b.unresolved for k in range(1, len(argv))):
                    self.script(inv.text, ctx.nest + 1, "eval", idx, 1, depth + 1)
            elif inv.mode == "stdin" and inv.lang == "shell" and b.stdin_text is not None:
                kind, text = b.stdin_text
                if text.strip():
                    self.script(text, ctx.nest + 1, kind, idx, ARG_STDIN, depth + 1)
        finally:
            if saved is not None:
                self.env = saved

    # -- result -----------------------------------------------------------
    def finish(self) -> tuple[Command, ...]:
        out = self.out
        # Calls of functions defined in the script: the body runs where the call is.
        work = 0
        for fname, call_idx in self.calls:
            span = self.functions.get(fname)
            cb = out[call_idx]
            if span is None or cb is None:
                continue
            chain = cb.chain if cb.chain else ()
            if not chain:
                continue
            for j in range(span[0], span[1]):
                body = out[j]
                if body is None or j == call_idx:
                    continue
                work += len(chain)
                if work > _MAX_FUNCTION_PATCHES:
                    raise ShellParseError("shell script too complex (function calls)")
                body.extra_outer.extend(chain)
        result: list[Command] = []
        for b in out:
            if b is None:  # cannot happen: every reserved slot is filled
                continue
            if b.chain:
                pipeline, stage = b.chain[0]
                outer = b.chain[1:]
            else:
                pipeline, stage = self.new_pid(), 0
                outer = ()
            if b.extra_outer:
                outer = tuple(outer) + tuple(b.extra_outer)
            unresolved = tuple(sorted(k for k in b.unresolved if 0 <= k < len(b.argv)))
            result.append(Command(
                argv=tuple(b.argv),
                pipeline=pipeline,
                stage=stage,
                redirects=tuple(b.redirects),
                nested_in=b.nested_in,
                has_unresolved=bool(unresolved),
                unresolved=unresolved,
                parent=b.parent,
                parent_arg=b.parent_arg,
                inputs=tuple(dict.fromkeys(b.inputs)),
                outer=tuple(outer),
                wrappers=tuple(b.wrappers),
                depth=b.depth,
                redirect_ops=tuple(b.redirect_ops),
                stdin_text=b.stdin_text,
                assignments=tuple(b.assignments),
            ))
        return tuple(result)


def parse_script(script: str) -> ParsedScript:
    """Parse ``script``; see the module docstring.  Raises ShellParseError."""
    if not isinstance(script, str):
        raise ShellParseError("shell script must be a string")
    if len(script) > MAX_SCRIPT_BYTES:
        raise ShellParseError(f"shell script longer than {MAX_SCRIPT_BYTES} bytes")
    if _IN_WORKER:
        return _parse_here(script, _WORKER_BUDGET_SECONDS, None)
    try:
        return _parse_here(script, PARSE_BUDGET_SECONDS, INLINE_BYTES)
    except _NeedsIsolation:
        pass
    try:
        return _WORKER.parse(script)
    except _WorkerUnavailable:
        # No worker process here: best effort, under the CPU deadline.
        return _parse_here(script, PARSE_BUDGET_SECONDS, None)


def _parse_here(script: str, budget: float, inline_bytes: int | None) -> ParsedScript:
    walker = _Walker(budget, inline_bytes)
    try:
        walker.script(script, 0, None, None, ARG_OTHER)
        commands = walker.finish()
    except RecursionError:
        raise ShellParseError("shell script nested too deeply") from None
    return ParsedScript(commands, walker.has_error)


# ---------------------------------------------------------------------------
# The worker process for large scripts.
#
# Protocol on stdin/stdout: 4-byte big-endian length, then the payload.  The
# request is the script (UTF-8, surrogates passed through); the answer is JSON,
# {"e": message} or {"h": has_error, "c": [command fields...]}.  The worker
# sends an empty message when it is ready.

_IN_WORKER = False
# Every Command field crosses the pipe (tuples travel as JSON lists).
_FIELDS = tuple(f.name for f in dataclasses.fields(Command))


class _WorkerUnavailable(Exception):
    pass


def _freeze(value: object) -> object:
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def _encode_result(result: ParsedScript) -> bytes:
    return orjson.dumps({"h": result.has_error, "c": [
        [getattr(c, name) for name in _FIELDS] for c in result.commands]})


def _decode_result(body: bytes) -> ParsedScript:
    data = orjson.loads(body)
    if "e" in data:
        raise ShellParseError(str(data["e"]))
    commands = tuple(Command(**{name: _freeze(value) for name, value in zip(_FIELDS, row)})
                     for row in data["c"])
    return ParsedScript(commands, bool(data["h"]))


def _read_message(stream) -> bytes | None:  # type: ignore[no-untyped-def]
    header = stream.read(4)
    if len(header) < 4:
        return None
    size = int.from_bytes(header, "big")
    body = stream.read(size)
    return body if len(body) == size else None


def _write_message(stream, body: bytes) -> None:  # type: ignore[no-untyped-def]
    stream.write(len(body).to_bytes(4, "big") + body)
    stream.flush()


class _Worker:
    """One lazily started worker process, killed (by its handle) on timeout."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.proc: subprocess.Popen[bytes] | None = None
        self.answers: queue.Queue[bytes | None] = queue.Queue()
        self.pid_of_owner = 0
        self.failures = 0

    def _start(self) -> None:
        package_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env = dict(os.environ)
        env["PYTHONPATH"] = package_parent + os.pathsep + env.get("PYTHONPATH", "")
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "relayguard.shell", "--worker"], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, close_fds=True)
        except OSError as exc:
            raise _WorkerUnavailable(str(exc)) from None
        answers: queue.Queue[bytes | None] = queue.Queue()

        def reader() -> None:
            assert proc.stdout is not None
            while True:
                msg = _read_message(proc.stdout)
                answers.put(msg)
                if msg is None:
                    return

        threading.Thread(target=reader, name="relayguard-shell-worker", daemon=True).start()
        try:
            ready = answers.get(timeout=30)
        except queue.Empty:
            ready = None
        if ready != b"":
            self._stop(proc)
            raise _WorkerUnavailable("the shell parser worker did not start")
        self.proc, self.answers, self.pid_of_owner = proc, answers, os.getpid()

    @staticmethod
    def _stop(proc: subprocess.Popen[bytes]) -> None:
        try:
            proc.kill()
            proc.wait(timeout=5)
        except Exception:  # noqa: BLE001 - already gone
            pass

    def close(self) -> None:
        with self.lock:
            if self.proc is not None and self.pid_of_owner == os.getpid():
                self._stop(self.proc)
            self.proc = None

    def parse(self, script: str) -> ParsedScript:
        with self.lock:
            if self.proc is not None and self.pid_of_owner != os.getpid():
                self.proc = None  # forked: that worker belongs to the parent process
            if self.proc is None or self.proc.poll() is not None:
                if self.failures >= 3:
                    raise _WorkerUnavailable("the shell parser worker keeps failing to start")
                try:
                    self._start()
                except _WorkerUnavailable:
                    self.failures += 1
                    raise
            proc = self.proc
            assert proc is not None and proc.stdin is not None
            try:
                _write_message(proc.stdin, script.encode("utf-8", "surrogatepass"))
                body = self.answers.get(timeout=WORKER_TIMEOUT_SECONDS)
            except queue.Empty:
                self._stop(proc)
                self.proc = None
                raise ShellParseError("shell script too expensive to parse") from None
            except OSError:
                body = None
            if body is None:  # the worker died (a crash in the parser)
                self._stop(proc)
                self.proc = None
                raise ShellParseError("the shell parser failed on this script")
            return _decode_result(body)


_WORKER = _Worker()
atexit.register(_WORKER.close)


def _worker_main() -> None:
    global _IN_WORKER
    _IN_WORKER = True
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    _parser()
    _write_message(stdout, b"")
    while True:
        body = _read_message(stdin)
        if body is None:
            return
        try:
            answer = _encode_result(parse_script(body.decode("utf-8", "surrogatepass")))
        except ShellParseError as exc:
            answer = orjson.dumps({"e": str(exc)})
        except Exception as exc:  # noqa: BLE001 - report, keep serving
            answer = orjson.dumps({"e": f"shell parser error ({type(exc).__name__})"})
        _write_message(stdout, answer)


def parse(script: str) -> list[Command]:
    """The commands ``script`` would run.  Raises ShellParseError."""
    return list(parse_script(script).commands)


if __name__ == "__main__" and sys.argv[1:] == ["--worker"]:
    _worker_main()
