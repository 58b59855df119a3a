"""Where each value of a TOML document sits.

``tomllib`` parses but reports no positions, and a configuration error is only useful when it
names the line.  ``value_lines(text)`` walks the text once and maps every table and key to the
line it starts on, with the same paths ``tomllib`` produces::

    [[provider]]            ("provider", 0)                 -> line of the header
    dialect = "openai"      ("provider", 0, "dialect")      -> line of the key
    targets = [{ provider = "a" }, ...]
                            ("model", 0, "targets", 0)      -> line of the inline table
                            ("model", 0, "targets", 0, "provider")

It runs on text ``tomllib`` has already accepted, so it only has to find structure, not judge
it; on anything surprising it stops and returns what it found (a missing line only makes an
error message less precise).  ``line_of`` answers with the closest enclosing path it knows.
"""

from __future__ import annotations

Path = tuple[str | int, ...]

_SCALAR_END = frozenset(",]}\n#")


def value_lines(text: str) -> dict[Path, int]:
    scanner = _Scanner(text)
    try:
        scanner.document()
    except (IndexError, ValueError, RecursionError):
        pass  # best effort: keep the positions found so far
    return scanner.out


def line_of(lines: dict[Path, int], path: Path) -> int | None:
    """The line of ``path``, else of its closest enclosing table or key that has one."""
    for k in range(len(path), 0, -1):
        line = lines.get(path[:k])
        if line is not None:
            return line
    return None


def split_key(key: str) -> tuple[str, ...]:
    """A dotted TOML key as its parts, quotes removed (escapes are left as written)."""
    parts: list[str] = []
    buf: list[str] = []
    quote = ""
    for c in key:
        if quote:
            if c == quote:
                quote = ""
            else:
                buf.append(c)
        elif c in "\"'":
            quote = c
        elif c == ".":
            parts.append("".join(buf).strip())
            buf = []
        elif c not in " \t":
            buf.append(c)
    parts.append("".join(buf).strip())
    return tuple(parts)


class _Scanner:
    def __init__(self, text: str) -> None:
        self.s = text
        self.n = len(text)
        self.i = 0
        self.line = 1
        self.out: dict[Path, int] = {}
        self.counts: dict[Path, int] = {}  # array-of-tables headers seen, per name

    # -- characters ---------------------------------------------------------------------------

    def peek(self, k: int = 0) -> str:
        j = self.i + k
        return self.s[j] if j < self.n else ""

    def advance(self, count: int = 1) -> None:
        end = min(self.i + count, self.n)
        self.line += self.s.count("\n", self.i, end)
        self.i = end

    def skip_blank(self, newlines: bool) -> None:
        while self.i < self.n:
            c = self.s[self.i]
            if c in " \t\r" or (newlines and c == "\n"):
                self.advance()
            elif c == "#":
                end = self.s.find("\n", self.i)
                self.advance((self.n if end < 0 else end) - self.i)
            else:
                return

    def take_until(self, stop: str) -> str:
        """The text up to ``stop`` (outside quotes) or the end of the line; consumes ``stop``."""
        start = self.i
        quote = ""
        while self.i < self.n:
            c = self.s[self.i]
            if quote:
                if c == "\\" and quote == '"':
                    self.advance()
                elif c == quote:
                    quote = ""
            elif c in "\"'":
                quote = c
            elif self.s.startswith(stop, self.i):
                text = self.s[start:self.i]
                self.advance(len(stop))
                return text
            elif c == "\n":
                break
            self.advance()
        return self.s[start:self.i]

    # -- structure ----------------------------------------------------------------------------

    def document(self) -> None:
        prefix: Path = ()
        while self.i < self.n:
            self.skip_blank(newlines=True)
            if self.i >= self.n:
                return
            start, line = self.i, self.line
            if self.s.startswith("[[", self.i):
                self.advance(2)
                name = split_key(self.take_until("]]"))
                index = self.counts.get(name, 0)
                self.counts[name] = index + 1
                prefix = name + (index,)
                self.out.setdefault(name, line)  # the array as a whole: its first table
                self.out.setdefault(prefix, line)
            elif self.s[self.i] == "[":
                self.advance()
                prefix = split_key(self.take_until("]"))
                self.out.setdefault(prefix, line)
            else:
                self.key_value(prefix)
            if self.i == start:
                self.advance()  # never stall on text this walker does not understand

    def key_value(self, prefix: Path) -> None:
        line = self.line
        key = self.take_until("=")
        if not key.strip():
            return
        path = prefix + split_key(key)
        self.out.setdefault(path, line)
        self.value(path)

    def value(self, path: Path) -> None:
        self.skip_blank(newlines=False)
        c = self.peek()
        if self.s.startswith('"""', self.i) or self.s.startswith("'''", self.i):
            self.multiline_string(self.s[self.i])
        elif c in "\"'":
            self.single_line_string(c)
        elif c == "[":
            self.array(path)
        elif c == "{":
            self.inline_table(path)
        else:
            while self.i < self.n and self.s[self.i] not in _SCALAR_END:
                self.advance()

    def single_line_string(self, quote: str) -> None:
        self.advance()
        while self.i < self.n:
            c = self.s[self.i]
            if c == "\\" and quote == '"':
                self.advance(2)
            elif c == quote:
                self.advance()
                return
            elif c == "\n":
                return
            else:
                self.advance()

    def multiline_string(self, quote: str) -> None:
        delim = quote * 3
        self.advance(3)
        while self.i < self.n:
            if quote == '"' and self.s[self.i] == "\\":
                self.advance(2)
            elif self.s.startswith(delim, self.i):
                self.advance(3)
                while self.peek() == quote:  # up to two quotes may end the content
                    self.advance()
                return
            else:
                self.advance()

    def array(self, path: Path) -> None:
        self.advance()  # '['
        index = 0
        while self.i < self.n:
            self.skip_blank(newlines=True)
            if self.peek() == "]":
                self.advance()
                return
            start = self.i
            self.out.setdefault(path + (index,), self.line)
            self.value(path + (index,))
            index += 1
            self.skip_blank(newlines=True)
            if self.peek() == ",":
                self.advance()
            elif self.i == start:
                self.advance()

    def inline_table(self, path: Path) -> None:
        self.advance()  # '{'
        while self.i < self.n:
            self.skip_blank(newlines=True)
            if self.peek() == "}":
                self.advance()
                return
            start = self.i
            self.key_value(path)
            self.skip_blank(newlines=True)
            if self.peek() == ",":
                self.advance()
            elif self.i == start:
                self.advance()
