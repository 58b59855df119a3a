"""The walker's building blocks: the tree-sitter parser, node kinds, the walk
context and the command under construction."""

from __future__ import annotations

import threading

import tree_sitter_bash
from tree_sitter import Language, Parser

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
