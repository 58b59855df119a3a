"""The walker's simple commands: argv, redirects, nested scripts, the result."""

from __future__ import annotations

import time

from tree_sitter import Node

from relayguard.shell.model import (
    ARG_OTHER,
    ARG_STDIN,
    Command,
    _MAX_FUNCTION_PATCHES,
    _MAX_SOURCES,
    ShellParseError,
)
from relayguard.shell.words import _Fields, _GLOB_CHARS, _only_continuations, program_name
from relayguard.shell.invocation import invocation, _is_assignment_word, strip_wrappers
from relayguard.shell.state import _B, _Ctx, _INPUT_OPS, _REDIRECTS, _Value


class _CommandBuilder:
    """Mixin of _Walker: simple commands and the final list."""

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
                # `cu\<newline>rl` is one word to the shell, two to tree-sitter
                glue = bool(argv) and prev_end >= 0 and _only_continuations(ctx.src, prev_end,
                                                                           child.start_byte)
                if not glue and node_.type == "word":  # the common case, short-cut: a plain word
                    raw = ctx.src[node_.start_byte:node_.end_byte].decode("utf-8", "replace")
                    if "\\" not in raw and not _GLOB_CHARS.search(raw):
                        argv.append(raw)
                        prev_end = child.end_byte
                        continue
                f = _Fields()
                srcs = []
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
            unresolved = tuple(sorted(k for k in b.unresolved if 0 <= k < len(b.argv))) if b.unresolved else ()
            result.append(Command(  # positional, in field order (keywords cost more, for every command)
                tuple(b.argv), pipeline, stage, tuple(b.redirects) if b.redirects else (), b.nested_in,
                bool(unresolved), unresolved, b.parent, b.parent_arg,
                tuple(dict.fromkeys(b.inputs)) if b.inputs else (), tuple(outer) if outer else (),
                tuple(b.wrappers) if b.wrappers else (), b.depth,
                tuple(b.redirect_ops) if b.redirect_ops else (), b.stdin_text,
                tuple(b.assignments) if b.assignments else (),
            ))
        return tuple(result)
