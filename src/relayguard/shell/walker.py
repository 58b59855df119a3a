"""The tree-sitter walk: statements, lists, pipelines and compound statements."""

from __future__ import annotations

import time

from tree_sitter import Node

from relayguard.shell.model import (
    ARG_OTHER,
    ARG_STDIN,
    _MAX_AST_DEPTH,
    _MAX_EXPANSION,
    MAX_NESTING,
    MAX_PIPES,
    MAX_SCRIPT_BYTES,
    _MAX_SOURCES,
    PARSE_BUDGET_SECONDS,
    ShellParseError,
)
from relayguard.shell.words import decode_ansi_c, program_name
from relayguard.shell.invocation import invocation
from relayguard.shell.state import (
    _ASCII_ONLY,
    _B,
    _COMPOUND,
    _Ctx,
    _INPUT_OPS,
    _NeedsIsolation,
    _OPS,
    _parser,
    _REDIRECTS,
    _STATEMENTS,
    _Value,
)
from relayguard.shell.expand import _Expander
from relayguard.shell.commands import _CommandBuilder


class _Walker(_Expander, _CommandBuilder):
    """Walks one script's tree (statements here; words in _Expander, simple
    commands and the result in _CommandBuilder)."""

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
        # tree-sitter-bash is slow to close a pipeline at the end of the input (`a | b | c`:
        # ~100 us; with a final newline, ~5 us).  A final newline changes nothing for the shell,
        # unless it would turn a trailing backslash (a literal at the end) into a continuation.
        if not data.endswith((b"\n", b"\\")):
            data += b"\n"
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
