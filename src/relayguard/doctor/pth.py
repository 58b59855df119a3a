"""Judge ``.pth`` files by what their lines would do, never by their names.

At every interpreter start, ``site`` reads each ``*.pth`` file in a site
directory: a line starting with ``import `` (or ``import\\t``) is passed to
``exec``; any other non-comment line is a directory added to ``sys.path``.
The trojanized litellm 1.82.8 used exactly that: ``litellm_init.pth`` started a
process that ran a base64-encoded credential stealer.

Import lines are parsed with ``ast`` and walked; nothing is executed or
imported.  A line is harmless when all it does is import modules, call them,
read a named environment variable and touch ``sys.path``/``sys.meta_path`` --
setuptools' ``distutils-precedence.pth``, editable-install finders, old-style
``-nspkg.pth`` namespace lines and virtualenv's ``_virtualenv.pth`` are all of
that shape.  When a line imports a small module that lives in site-packages
(``_virtualenv.py``, ``__editable___*_finder.py``, ``_distutils_hack``), that
module's source is judged too, since importing it runs its top level.
"""

from __future__ import annotations

import ast
import base64
import binascii
import bz2
import lzma
import math
import re
import stat
import sys
import zlib
from pathlib import Path

from relayguard.doctor import Problem

MAX_MODULE_BYTES = 128 * 1024  # modules larger than this are left to the RECORD check
MAX_DEPTH = 4  # nested exec/blob layers, and module-import hops, followed

_CATEGORIES: tuple[tuple[str, re.Pattern[str]], ...] = tuple((label, re.compile(rx)) for label, rx in (
    ("starts processes", r"^(subprocess|_posixsubprocess|pty|multiprocessing|os\.(system|popen|exec\w*|spawn\w*|"
                         r"posix_spawnp?|fork|forkpty)|platform\.popen|asyncio\.create_subprocess_\w+)(\.|$)"),
    ("uses the network", r"^(socket|_socket|ssl|urllib(?!\.parse)|urllib3|http\.(client|server|cookiejar)|requests|"
                         r"httpx|aiohttp|ftplib|smtplib|telnetlib|poplib|imaplib|xmlrpc|websockets?|paramiko|dns|"
                         r"asyncio\.open_connection)(\.|$)"),
    ("decodes or unpacks data", r"^(base64|binascii|zlib|marshal|lzma|bz2|gzip|zipfile|zipimport|pickle|codecs|"
                                r"bytes\.fromhex|bytearray\.fromhex)(\.|$)"),
    ("runs code it builds", r"^(runpy|code|types\.(CodeType|FunctionType)|builtins\.(exec|eval|compile))(\.|$)"),
    ("loads native code", r"^(ctypes|_ctypes|cffi|importlib\.machinery\.ExtensionFileLoader)(\.|$)"),
    ("starts threads", r"^(threading\.(Thread|Timer)|_thread\.start_new(_thread)?|concurrent\.futures)(\.|$)"),
    ("writes files", r"^(os\.(write|remove|unlink|rename|renames|replace|chmod|chown|makedirs|mkdir|symlink|link|"
                     r"truncate)|shutil|tempfile)(\.|$)"),
    ("lists directories", r"^(os\.(walk|scandir|listdir)|glob)(\.|$)"),
))
_EXEC = {"exec", "eval", "compile", "builtins.exec", "builtins.eval", "builtins.compile"}
_IMPORT_FUNCS = {"__import__", "builtins.__import__", "importlib.import_module", "importlib.__import__"}
_OPEN = {"open", "builtins.open", "io.open", "os.open", "codecs.open", "io.FileIO", "os.fdopen"}
_WRITE_METHODS = {"write_text", "write_bytes", "touch", "symlink_to", "hardlink_to"}
_READ_METHODS = {"read_text", "read_bytes", "rglob", "iterdir"}
_CREDENTIAL_PATH = re.compile(
    r"(^|[/\\~])\.(aws|ssh|kube|gnupg|docker|azure|gcloud|config/gcloud|netrc|git-credentials|pypirc|npmrc)\b"
    r"|id_(rsa|dsa|ecdsa|ed25519)\b|(^|[/\\])\.env(\.\w+)?$|/etc/(shadow|sudoers)|kubeconfig|wallet\.dat"
    r"|(^|[/\\])credentials(\.json)?$")
_CREDENTIAL_VAR = re.compile(r"^[A-Z0-9_]*(SECRET|TOKEN|PASSWORD|PASSWD|API_KEY|ACCESS_KEY|PRIVATE_KEY|CREDENTIAL)"
                             r"[A-Z0-9_]*$")
_BLOB = re.compile(r"[A-Za-z0-9+/_-]{60,}={0,2}")


class _Judge(ast.NodeVisitor):
    """Collects what a piece of code does: ``hits`` maps a category to examples."""

    def __init__(self, in_pth: bool, depth: int = 0) -> None:
        self.in_pth = in_pth
        self.depth = depth
        self.hits: dict[str, list[str]] = {}
        self.imports: set[str] = set()  # module names imported (for following into site-packages)
        self._alias: dict[str, str] = {}
        self._parent: dict[int, ast.AST] = {}
        self._docstrings: set[int] = set()

    # -- entry points

    def judge(self, tree: ast.AST) -> _Judge:
        self.tree = tree
        for node in ast.walk(tree):
            for child in ast.iter_child_nodes(node):
                self._parent[id(child)] = node
            if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.body:
                first = node.body[0]
                if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                    self._docstrings.add(id(first.value))
        for node in ast.walk(tree):  # aliases first, so ``import os as o; o.system`` resolves
            if isinstance(node, ast.Import):
                for a in node.names:
                    self._alias[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for a in node.names:
                    self._alias[a.asname or a.name] = f"{node.module}.{a.name}"
            elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and len(node.targets) == 1 \
                    and isinstance(node.targets[0], ast.Name):
                mod = self._imported_by_call(node.value)
                if mod:
                    self._alias[node.targets[0].id] = mod
        self.visit(tree)
        return self

    def reasons(self) -> list[str]:
        out = []
        for label, examples in self.hits.items():
            shown = [e for e in dict.fromkeys(examples) if e]
            out.append(f"{label} ({', '.join(shown[:4])})" if shown else label)
        return out

    # -- helpers

    def _hit(self, label: str, example: str = "") -> None:
        self.hits.setdefault(label, []).append(example)

    def _qualname(self, node: ast.AST) -> str | None:
        if isinstance(node, ast.Name):
            return self._alias.get(node.id, node.id)
        if isinstance(node, ast.Attribute):
            base = self._qualname(node.value)
            return f"{base}.{node.attr}" if base else None
        if isinstance(node, ast.Call):
            return self._imported_by_call(node)
        return None

    def _imported_by_call(self, node: ast.Call) -> str | None:
        fn = self._qualname(node.func) if not isinstance(node.func, ast.Call) else None
        if fn in _IMPORT_FUNCS and node.args and _const_str(node.args[0]) is not None:
            return _const_str(node.args[0])
        return None

    def _categorise(self, name: str) -> None:
        for label, rx in _CATEGORIES:
            if rx.match(name):
                self._hit(label, name)

    def _note_import(self, name: str) -> None:
        self.imports.add(name)
        self._categorise(name)

    # -- visitors

    def visit_Import(self, node: ast.Import) -> None:
        for a in node.names:
            self._note_import(a.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.module and not node.level:
            self.imports.add(node.module)
            for a in node.names:
                self._note_import(f"{node.module}.{a.name}")

    def visit_Call(self, node: ast.Call) -> None:
        fn = self._qualname(node.func) or ""
        first = node.args[0] if node.args else None
        if fn in _EXEC:
            code = _const_str(first) if first is not None else None
            if code is None or not self._nested(code, f"{fn.split('.')[-1]}s code that"):
                self._hit("runs code built at run time", fn.split(".")[-1])
            elif first is not None:
                self._docstrings.add(id(first))  # judged above: not again as a plain string
        elif fn in _IMPORT_FUNCS:
            name = _const_str(first) if first is not None else None
            if name is not None:
                self._note_import(name)
            elif self.in_pth:
                self._hit("hides what it imports", f"{fn}(<computed>)")
        elif fn in ("getattr", "setattr", "delattr", "builtins.getattr"):
            attr = _const_str(node.args[1]) if len(node.args) > 1 else None
            owner = self._qualname(node.args[0]) if node.args else None
            if attr is not None and owner:
                self._categorise(f"{owner}.{attr}")
                if f"{owner}.{attr}" in _EXEC or (owner in ("builtins", "__builtins__") and attr in _EXEC):
                    self._hit("runs code built at run time", f"getattr({owner}, {attr!r})")
            elif attr is None and (self.in_pth or owner in ("builtins", "__builtins__")):
                self._hit("hides what it calls", f"{fn}(..., <computed>)")
        elif fn in _OPEN:
            mode_node = node.args[1] if len(node.args) > 1 else None
            for kw in node.keywords:
                if kw.arg == "mode":
                    mode_node = kw.value
            mode = "r" if mode_node is None else _const_str(mode_node)
            if fn in ("os.open", "os.fdopen") or mode is None:
                self._hit("opens files", fn)
            else:
                self._hit("writes files" if set(mode) & set("wax+") else "reads files", fn)
        elif isinstance(node.func, ast.Attribute) and node.func.attr in _WRITE_METHODS:
            self._hit("writes files", f".{node.func.attr}()")
        elif isinstance(node.func, ast.Attribute) and node.func.attr in _READ_METHODS:
            self._hit("reads files", f".{node.func.attr}()")
        elif fn in ("chr", "builtins.chr") and self.in_pth:
            self._hit("builds strings from character codes", "chr")
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        name = self._qualname(node)
        if name in ("os.environ", "os.environb"):
            self._environ(node)
        elif name:
            self._categorise(name)
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        name = self._alias.get(node.id)
        if name in ("os.environ", "os.environb"):
            self._environ(node)
        elif name:
            self._categorise(name)
        elif node.id == "__builtins__" and self.in_pth:
            self._hit("hides what it calls", "__builtins__")
        elif node.id in ("globals", "vars", "locals") and self.in_pth:
            self._hit("hides what it calls", f"{node.id}()")

    def visit_Constant(self, node: ast.Constant) -> None:
        if id(node) in self._docstrings or not isinstance(node.value, (str, bytes)):
            return
        value = node.value
        text = value if isinstance(value, str) else value.decode("latin-1")
        if _CREDENTIAL_PATH.search(text) or _CREDENTIAL_VAR.match(text):
            self._hit("touches credentials", repr(text[:40]))
        if self.in_pth and isinstance(value, str) and len(value) >= 8 and self._nested(value, "holds code that"):
            return
        blob = next((m.group() for m in _BLOB.finditer(text) if _looks_encoded(m.group(), self.in_pth)), None)
        if blob or self.in_pth and isinstance(value, bytes) and len(value) >= 60:
            self._blob(blob or text)

    def _environ(self, node: ast.AST) -> None:
        """``os.environ.get(NAME)``, ``os.environ[NAME]``, ``NAME in os.environ`` and setting a
        variable read or change one variable; anything else hands over the whole environment."""
        parent = self._parent.get(id(node))
        if isinstance(parent, ast.Attribute) and parent.attr in ("get", "setdefault", "pop", "__contains__",
                                                                 "__getitem__", "__setitem__"):
            call = self._parent.get(id(parent))
            if isinstance(call, ast.Call) and call.args and not isinstance(call.args[0], ast.Starred):
                return
        if isinstance(parent, ast.Subscript) and not isinstance(parent.slice, ast.Slice):
            return
        if isinstance(parent, ast.Compare) and node is not parent.left:
            return
        self._hit("reads the whole environment", "os.environ")

    def _blob(self, text: str) -> None:
        inner = _decode(text)
        label = f"holds an encoded blob ({len(text):,} characters)"
        if inner is None:
            self._hit(label)
        elif self.depth >= MAX_DEPTH:
            self._hit(label + " that decodes to more layers than followed")
        else:
            judged = judge_source(inner, in_pth=True, depth=self.depth + 1)
            if judged is None or not judged.hits:
                self._hit(label)
            else:
                self._hit(label + " that decodes to Python which " + "; ".join(judged.reasons()))

    def _nested(self, code: str, what: str) -> bool:
        """Judge a string as code; False (and nothing noted) when it is not code that calls anything."""
        judged = judge_source(code, in_pth=True, depth=self.depth + 1) if self.depth < MAX_DEPTH else None
        if judged is None or not any(isinstance(n, (ast.Call, ast.Import, ast.ImportFrom))
                                     for n in ast.walk(judged.tree)):
            return False
        self.imports |= judged.imports
        if judged.hits:
            self._hit(what + " " + "; ".join(judged.reasons()))
        return True


def _looks_encoded(run: str, in_pth: bool) -> bool:
    """A long run of base64/hex characters that is not a path or an identifier: hex digits
    only, or close to random (base64 carries about 6 bits a character, words and paths under 4.5)."""
    if len(run) < (60 if in_pth else 200):
        return False
    if re.fullmatch(r"[0-9a-fA-F]+", run):
        return True
    counts = [run.count(c) for c in set(run)]
    entropy = -sum(c / len(run) * math.log2(c / len(run)) for c in counts)
    return entropy >= 4.5


def _const_str(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Constant) and isinstance(node.value, bytes):
        return node.value.decode("latin-1")
    return None


def _decode(text: str) -> str | None:
    """The Python source a base64/hex blob (optionally compressed) decodes to, if any.
    Decoding is data handling only: nothing decoded is ever run."""
    raw = None
    compact = re.sub(r"\s", "", text)
    for decoder in (lambda s: base64.b64decode(s + "=" * (-len(s) % 4), validate=True),
                    lambda s: base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)), bytes.fromhex):
        try:
            raw = decoder(compact)
            break
        except (binascii.Error, ValueError):
            continue
    if raw is None:
        return None
    for unpack in (zlib.decompress, lambda b: zlib.decompress(b, 31), bz2.decompress, lzma.decompress):
        try:
            raw = unpack(raw)
            break
        except (zlib.error, OSError, lzma.LZMAError, ValueError, EOFError):
            continue
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def judge_source(source: str, *, in_pth: bool, depth: int = 0) -> _Judge | None:
    """Parse ``source`` (never run it) and collect what it does; None if it does not parse."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    judge = _Judge(in_pth, depth)
    try:
        return judge.judge(tree)
    except RecursionError:
        judge._hit("is too deeply nested to read")
        return judge


def _pth_lines(data: bytes) -> list[tuple[int, str]]:
    """The lines as ``site.addpackage`` sees them (universal newlines, comments and blanks skipped)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    out = []
    for n, line in enumerate(re.split(r"\r\n|\r|\n", text), 1):
        if line.startswith("#") or not line.strip():
            continue
        out.append((n, line))
    return out


def find_module(name: str, site_dirs: list[Path]) -> Path | None:
    """The source file ``import name`` would load from a site directory (never the stdlib's)."""
    parts = name.split(".")
    if parts[0] in sys.stdlib_module_names:
        return None
    for site in site_dirs:
        base = site.joinpath(*parts)
        for candidate in (base / "__init__.py", base.with_name(parts[-1] + ".py")):
            if candidate.is_file():
                return candidate
    return None


def _top_level_imports(tree: ast.AST) -> set[str]:
    """Modules imported when ``tree`` is imported: import statements outside def and class bodies."""
    found: set[str] = set()
    todo = list(getattr(tree, "body", []))
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
        elif not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            todo.extend(n for n in ast.iter_child_nodes(node) if isinstance(n, ast.stmt))
    return found


def _follow(imports: set[str], site_dirs: list[Path], seen: set[Path], hops: int = 0) -> list[str]:
    """Judge the small site-packages modules that ``imports`` load, then what those import at
    their top level (which runs on import); bigger ones are left to the RECORD check."""
    found = []
    names = set(imports)
    for name in imports:  # ``import a.b`` runs a/__init__.py too
        parts = name.split(".")
        names.update(".".join(parts[:i]) for i in range(1, len(parts)))
    for name in sorted(names):
        path = find_module(name, site_dirs)
        if path is None or path in seen:
            continue
        seen.add(path)
        try:
            if path.stat().st_size > MAX_MODULE_BYTES:
                continue
            judged = judge_source(path.read_bytes().decode("utf-8", "replace"), in_pth=False)
        except OSError:
            continue
        if judged is None:
            continue
        if judged.hits:
            found.append(f"imports {name} ({path}), which {'; '.join(judged.reasons())}")
        if hops < MAX_DEPTH:
            found += _follow(_top_level_imports(judged.tree), site_dirs, seen, hops + 1)
    return found


def judge_pth(path: Path, site_dirs: list[Path]) -> list[str]:
    """What is wrong with one ``.pth`` file: empty when every line is harmless."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return [f"cannot be read ({exc.strerror})"]
    reasons: list[str] = []
    seen: set[Path] = set()
    for n, line in _pth_lines(data):
        if line.startswith(("import ", "import\t")):
            judged = judge_source(line, in_pth=True)
            if judged is None:
                continue  # exec() fails on it too: site prints the error and runs nothing of it
            if judged.hits:
                reasons.append(f"line {n} {'; '.join(judged.reasons())}")
            reasons += [f"line {n} {r}" for r in _follow(judged.imports, site_dirs, seen)]
            continue
        entry = Path(line.rstrip())
        entry = entry if entry.is_absolute() else path.parent / entry
        try:
            mode = entry.stat().st_mode
        except OSError:
            continue
        if stat.S_ISDIR(mode) and mode & stat.S_IWOTH:
            reasons.append(f"line {n} puts the world-writable directory {entry} on sys.path, "
                           f"where anyone on this machine can plant modules")
    return reasons


def scan_site_dir(site: Path, site_dirs: list[Path]) -> tuple[list[Problem], int]:
    """Problems in one site directory's ``.pth`` files and startup modules, and how many were read."""
    problems: list[Problem] = []
    try:
        entries = sorted(p for p in site.iterdir() if p.is_file())
    except OSError:
        return problems, 0
    count = 0
    for entry in entries:
        if entry.suffix == ".pth":
            count += 1
            reasons = judge_pth(entry, site_dirs)
            if reasons:
                problems.append(Problem("pth", str(entry), "runs at every interpreter start: " + "; ".join(reasons)))
        elif entry.name in ("sitecustomize.py", "usercustomize.py"):
            count += 1
            reasons = _follow({entry.stem}, [site], set())
            if reasons:
                problems.append(Problem("startup", str(entry), f"{entry.name} is imported at every interpreter "
                                        "start and " + "; ".join(r.split(", which ", 1)[-1] for r in reasons)))
    return problems, count
