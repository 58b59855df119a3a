"""Judge ``.pth`` files by what their lines would do, never by their names.

At every interpreter start ``site`` passes each ``.pth`` line starting with ``import `` to
``exec`` (other lines are ``sys.path`` entries): litellm 1.82.8's ``litellm_init.pth`` started
a process running a base64-encoded credential stealer that way.  Lines are parsed with ``ast``,
never run.  Harmless lines only import, call what they imported, read a named environment
variable and touch ``sys.path``/``sys.meta_path`` (setuptools' ``distutils-precedence.pth``,
editable-install finders, ``-nspkg.pth`` lines, virtualenv's ``_virtualenv.pth``); the small
site-packages modules they import (``_virtualenv.py``, ``__editable___*_finder.py``) are judged
too, with what those import at their top level, since importing runs it.
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
_STARTUP = ("sitecustomize.py", "usercustomize.py")
_BLOB = re.compile(r"[A-Za-z0-9+/_-]{60,}={0,2}")


class _Judge(ast.NodeVisitor):
    """Collects what a piece of code does: ``hits`` maps a category to examples."""

    def __init__(self, in_pth: bool, depth: int = 0) -> None:
        self.in_pth, self.depth = in_pth, depth
        self.hits: dict[str, list[str]] = {}
        self.imports: set[str] = set()  # module names imported (for following into site-packages)
        self._alias: dict[str, str] = {}
        self._parent: dict[int, ast.AST] = {}
        self._skip: set[int] = set()  # docstrings, and strings already judged as code or blobs

    def judge(self, tree: ast.AST) -> _Judge:
        self.tree = tree
        for node in ast.walk(tree):
            for child in ast.iter_child_nodes(node):
                self._parent[id(child)] = node
            body = getattr(node, "body", None)
            if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and body \
                    and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                self._skip.add(id(body[0].value))
        for node in ast.walk(tree):  # aliases first, so ``import os as o; o.system`` resolves
            if isinstance(node, ast.Import):
                self._alias.update({a.asname or a.name.split(".")[0]: a.name if a.asname else a.name.split(".")[0]
                                    for a in node.names})
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                self._alias.update({a.asname or a.name: f"{node.module}.{a.name}" for a in node.names})
            elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and len(node.targets) == 1 \
                    and isinstance(node.targets[0], ast.Name) and self._imported_by_call(node.value):
                self._alias[node.targets[0].id] = self._imported_by_call(node.value) or ""
        self.visit(tree)
        return self

    def reasons(self) -> list[str]:
        shown = {label: [e for e in dict.fromkeys(examples) if e] for label, examples in self.hits.items()}
        return [f"{label} ({', '.join(ex[:4])})" if ex else label for label, ex in shown.items()]

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

    def visit_Import(self, node: ast.Import) -> None:
        for name in [a.name for a in node.names]:
            self._note_import(name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        for name in [node.module] + [f"{node.module}.{a.name}" for a in node.names] if node.module and not node.level \
                else []:
            self._note_import(name)

    def visit_Call(self, node: ast.Call) -> None:
        fn = self._qualname(node.func) or ""
        first = node.args[0] if node.args else None
        if fn in _EXEC:
            code = _const_str(first) if first is not None else None
            if code is None or not self._nested(code, f"{fn.split('.')[-1]}s code that"):
                self._hit("runs code built at run time", fn.split(".")[-1])
            elif first is not None:
                self._skip.add(id(first))  # judged above: not again as a plain string
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
            mode_node = next((kw.value for kw in node.keywords if kw.arg == "mode"),
                             node.args[1] if len(node.args) > 1 else None)
            mode = "r" if mode_node is None else _const_str(mode_node)
            if fn in ("os.open", "os.fdopen") or mode is None:
                self._hit("opens files", fn)
            else:
                self._hit("writes files" if set(mode) & set("wax+") else "reads files", fn)
        elif isinstance(node.func, ast.Attribute) and node.func.attr in _WRITE_METHODS | _READ_METHODS:
            self._hit("writes files" if node.func.attr in _WRITE_METHODS else "reads files", f".{node.func.attr}()")
        elif re.match(r"(base64\.\w*decode|binascii\.a2b|bytes\.fromhex|codecs\.decode)", fn) and first is not None \
                and _const_str(first) is not None:
            self._blob(_const_str(first) or "")  # whatever its length: it is decoded here
            self._skip.add(id(first))
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
        if id(node) in self._skip or not isinstance(node.value, (str, bytes)):
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
        call = self._parent.get(id(parent)) if isinstance(parent, ast.Attribute) else None
        if isinstance(call, ast.Call) and call.args and not isinstance(call.args[0], ast.Starred) and \
                getattr(parent, "attr", "") in ("get", "setdefault", "pop", "__contains__", "__getitem__"):
            return
        if isinstance(parent, ast.Subscript) and not isinstance(parent.slice, ast.Slice) or \
                isinstance(parent, ast.Compare) and node is not parent.left:
            return
        self._hit("reads the whole environment", "os.environ")

    def _blob(self, text: str) -> None:
        inner = _decode(text)
        label = f"holds an encoded blob ({len(text):,} characters)"
        judged = judge_source(inner, in_pth=True, depth=self.depth + 1) if inner and self.depth < MAX_DEPTH else None
        if inner and self.depth >= MAX_DEPTH:
            label += " that decodes to more layers than followed"
        elif judged is not None and judged.hits:
            label += " that decodes to Python which " + "; ".join(judged.reasons())
        self._hit(label)

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
    entropy = -sum(run.count(c) / len(run) * math.log2(run.count(c) / len(run)) for c in set(run))
    return entropy >= 4.5 or re.fullmatch(r"[0-9a-fA-F]+", run) is not None


def _const_str(node: ast.AST) -> str | None:
    value = node.value if isinstance(node, ast.Constant) else None
    return value if isinstance(value, str) else value.decode("latin-1") if isinstance(value, bytes) else None


def _decode(text: str) -> str | None:
    """The Python source a base64/hex blob (optionally compressed) decodes to, if any.
    Decoding is data handling only: nothing decoded is ever run."""
    raw, compact = None, re.sub(r"\s", "", text)
    for decoder in (lambda s: base64.b64decode(s + "=" * (-len(s) % 4), validate=True),
                    lambda s: base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)), bytes.fromhex):
        try:
            raw = decoder(compact)
            break
        except (binascii.Error, ValueError):
            pass
    for unpack in (zlib.decompress, lambda b: zlib.decompress(b, 31), bz2.decompress, lzma.decompress):
        try:
            raw = unpack(raw) if raw is not None else None
            break
        except (zlib.error, OSError, lzma.LZMAError, ValueError, EOFError):
            continue
    try:
        return raw.decode("utf-8") if raw is not None else None
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
        judge._hit("is nested too deeply to read")
    return judge


def _pth_lines(data: bytes) -> list[tuple[int, str]]:
    """The lines as ``site.addpackage`` sees them (universal newlines, comments and blanks skipped)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    return [(n, line) for n, line in enumerate(re.split(r"\r\n|\r|\n", text), 1)
            if line.strip() and not line.startswith("#")]


def find_module(name: str, site_dirs: list[Path]) -> Path | None:
    """The source file ``import name`` would load from a site directory (never the stdlib's)."""
    parts = name.split(".")
    candidates = [] if parts[0] in sys.stdlib_module_names else \
        [c for site in site_dirs for c in (site.joinpath(*parts, "__init__.py"), site.joinpath(*parts[:-1],
                                                                                               parts[-1] + ".py"))]
    return next((c for c in candidates if c.is_file()), None)


def _top_level_imports(tree: ast.AST) -> set[str]:
    """Modules imported when ``tree`` is imported: import statements outside def and class bodies."""
    found: set[str] = set()
    todo: list[ast.AST] = list(getattr(tree, "body", []))
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.update([a.name for a in node.names] if isinstance(node, ast.Import) else
                         [node.module] if node.module and not node.level else [])
        elif not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            todo.extend(n for n in ast.iter_child_nodes(node) if isinstance(n, ast.stmt))
    return found


def _follow(imports: set[str], site_dirs: list[Path], seen: set[Path], hops: int = 0) -> list[str]:
    """Judge the small site-packages modules that ``imports`` load, then what those import at
    their top level (which runs on import); bigger ones are left to the RECORD check."""
    found = []
    parts = [name.split(".") for name in imports]  # ``import a.b`` runs a/__init__.py too
    for name in sorted({".".join(p[:i]) for p in parts for i in range(1, len(p) + 1)}):
        path = find_module(name, site_dirs)
        if path is None or path in seen:
            continue
        seen.add(path)
        judged = judge_module(path)
        if judged is not None and judged.hits:
            found.append(f"imports {name} ({path}), which {'; '.join(judged.reasons())}")
        if judged is not None and hops < MAX_DEPTH:
            found += _follow(_top_level_imports(judged.tree), site_dirs, seen, hops + 1)
    return found


def judge_module(path: Path) -> _Judge | None:
    """What a module's source does; None for modules too big to judge here or unreadable."""
    try:
        if path.stat().st_size > MAX_MODULE_BYTES:
            return None
        return judge_source(path.read_bytes().decode("utf-8", "replace"), in_pth=False)
    except OSError:
        return None


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
        entry = path.parent / line.rstrip()  # an absolute line stands alone
        if entry.is_dir() and entry.stat().st_mode & stat.S_IWOTH:
            reasons.append(f"line {n} puts the world-writable directory {entry} on sys.path, "
                           f"where anyone on this machine can plant modules")
    return reasons


def scan_site_dir(site: Path, site_dirs: list[Path]) -> tuple[list[Problem], int]:
    """Problems in one site directory's ``.pth`` files and startup modules, and how many were read."""
    problems: list[Problem] = []
    try:
        entries = sorted(p for p in site.iterdir() if p.is_file() and (p.suffix == ".pth" or p.name in _STARTUP))
    except OSError:
        entries = []
    for entry in entries:
        if entry.suffix == ".pth":
            reasons = judge_pth(entry, site_dirs)
            if reasons:
                problems.append(Problem("pth", str(entry), "runs at every interpreter start: " + "; ".join(reasons)))
        else:
            judged = judge_module(entry)
            reasons = (judged.reasons() if judged else []) + \
                (_follow(_top_level_imports(judged.tree), site_dirs, {entry}) if judged else [])
            if reasons:
                problems.append(Problem("startup", str(entry), f"{entry.name} is imported at every interpreter "
                                        "start and " + "; ".join(reasons)))
    return problems, len(entries)
