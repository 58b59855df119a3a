"""The shell parser's limits and result types: Command, ParsedScript, Invocation."""

from __future__ import annotations

from dataclasses import dataclass, field

from relayguard.shell.words import program_name

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
    # Normalised program name ("" when argv is empty), derived from argv once: every
    # analysis asks for it, many times per command.
    program: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "program", program_name(self.argv[0]) if self.argv else "")


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
