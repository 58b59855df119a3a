"""The walker's variables and words: assignments, expansions, substitutions."""

from __future__ import annotations

from tree_sitter import Node

from relayguard.shell.model import (
    ARG_OTHER,
    _MAX_AST_DEPTH,
    _MAX_SOURCES,
    _MAX_VAR_VALUE,
    ShellParseError,
)
from relayguard.shell.words import (
    decode_ansi_c,
    _Fields,
    _GLOB_CHARS,
    program_name,
    _unescape_dq,
    _unescape_unquoted,
)
from relayguard.shell.state import _Ctx, _SPECIAL_VARS, _STATEMENTS, _Value


class _Expander:
    """Mixin of _Walker: variables and word expansion."""

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
