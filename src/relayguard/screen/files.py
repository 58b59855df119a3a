"""How one command uses files: what it writes, unpacks, runs, installs or uploads.

``flow`` uses these to follow data through files: ``curl -o f URL`` then
``bash f``; ``wget URL -O /usr/local/bin/x`` then ``chmod +x`` or ``x``;
``curl URL | tar xz -C /tmp`` then ``/tmp/dir/install``; ``zip -r a.zip ~/.ssh``
then ``curl -F f=@a.zip``.
"""

from __future__ import annotations

from relayguard import shell
from relayguard.inspectors.gate_downloads import _CURL_SHORT_ARG, _WGET_SHORT_ARG

__all__ = ["BIN_DIRS", "data_files", "extract_dir", "key", "output_files", "runs_files", "base",
           "in_dir"]

BIN_DIRS = ("/usr/local/bin", "/usr/bin", "/bin", "/usr/local/sbin", "/usr/sbin", "/sbin",
            "~/.local/bin", "~/bin", "/opt/bin", "~/.cargo/bin", "/snap/bin", "$HOME/.local/bin",
            "$HOME/bin")
_NOWHERE = ("", "-", "/dev/null", "/dev/stdout", "/dev/stderr")


def key(path: str) -> str:
    p = path.strip().strip("'\"")
    while p.startswith("./"):
        p = p[2:]
    return p.rstrip("/") or p


def base(path: str) -> str:
    return key(path).rsplit("/", 1)[-1]


def in_dir(path: str, directory: str) -> bool:
    p, d = key(path), key(directory)
    if d in (".", ""):
        return not p.startswith(("/", "~", "$"))
    return p.startswith(d + "/")


def _cluster(argv: tuple[str, ...], i: int, letter: str, takes_value: str) -> tuple[bool, str | None]:
    """Does the short-option cluster argv[i] contain ``letter``, and its value."""
    a = argv[i]
    for j in range(1, len(a)):
        ch = a[j]
        if ch == letter:
            if j + 1 < len(a):
                return True, a[j + 1:]
            return True, argv[i + 1] if i + 1 < len(argv) else None
        if ch in takes_value:
            return False, None
    return False, None


def _remote_names(words: tuple[str, ...]) -> list[str]:
    return [w.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1] for w in words if "://" in w]


def _tar_mode(argv: tuple[str, ...]) -> tuple[str, str | None, str | None]:
    """(mode letters, -f archive, -C directory) of a tar command."""
    mode = ""
    archive = directory = None
    for i, a in enumerate(argv[1:], 1):
        nxt = argv[i + 1] if i + 1 < len(argv) else None
        if a.startswith("--"):
            name, _, value = a.partition("=")
            if name in ("--file",):
                archive = value or nxt
            elif name in ("--directory",):
                directory = value or nxt
            elif name in ("--extract", "--get"):
                mode += "x"
            elif name == "--create":
                mode += "c"
        elif i == 1 and not a.startswith("-") or a.startswith("-") and len(a) > 1:
            letters = a.lstrip("-")
            mode += letters
            if "f" in letters:
                after = letters[letters.index("f") + 1:]
                archive = after or nxt
            if "C" in letters:
                directory = nxt
    return mode, archive, directory


def output_files(cmd: shell.Command) -> list[str]:
    """Files this command writes its output (or a download, or an archive) to."""
    out = [t for t, op in zip(cmd.redirects, cmd.redirect_ops)
           if op in (">", ">>", "&>", "&>>", ">|", ">&", "1>", "2>")]
    argv = cmd.argv
    prog = cmd.program
    n = len(argv)
    for i, a in enumerate(argv[1:], 1):
        if prog in ("curl", "curlie"):
            if a in ("--output", "--out") and i + 1 < n:
                out.append(argv[i + 1])
            elif a in ("--remote-name", "--remote-name-all"):
                out += _remote_names(argv[i + 1:])
            elif a.startswith("-") and not a.startswith("--"):
                hit, value = _cluster(argv, i, "o", _CURL_SHORT_ARG)
                if hit and value:
                    out.append(value)
                elif "O" in a and not _cluster(argv, i, "O", _CURL_SHORT_ARG.replace("O", ""))[1]:
                    out += _remote_names(argv[i + 1:])
        elif prog in ("wget", "wget2"):
            if a.startswith("--output-document"):
                out.append(a.split("=", 1)[1] if "=" in a else (argv[i + 1] if i + 1 < n else ""))
            elif a.startswith("-") and not a.startswith("--"):
                hit, value = _cluster(argv, i, "O", _WGET_SHORT_ARG)
                if hit and value:
                    out.append(value)
        elif prog == "tee" and not a.startswith("-"):
            out.append(a)
        elif prog == "dd" and a.startswith("of="):
            out.append(a[3:])
        elif prog == "aria2c" and a in ("-o", "--out") and i + 1 < n:
            out.append(argv[i + 1])
    if prog in ("wget", "wget2", "aria2c") and not any(
            a.startswith(("-O", "--output-document")) or (a.startswith("-") and "O" in a and not a.startswith("--"))
            for a in argv[1:]):
        out += _remote_names(argv[1:])
    if prog in ("cp", "mv", "install", "ln", "rsync") and n >= 3 and not argv[-1].startswith("-"):
        dest = argv[-1]
        if dest.endswith("/") or any(key(dest) == key(b) for b in BIN_DIRS):
            out += [dest.rstrip("/") + "/" + base(s) for s in argv[1:-1] if not s.startswith("-")]
        out.append(dest)
    if prog in ("zip", "7z", "7za") and n >= 2:
        words = [a for a in argv[1:] if not a.startswith("-")]
        if prog != "zip" and words and words[0] in ("a", "u"):
            words = words[1:]
        if words:
            out.append(words[0])
    if prog in ("tar", "bsdtar"):
        mode, archive, _ = _tar_mode(argv)
        if "c" in mode and archive:
            out.append(archive)
    if prog in ("gunzip", "gzip", "xz", "bunzip2", "unxz") and ("-d" in argv or prog.startswith(("gun", "bun", "unx"))):
        out += [a.rsplit(".", 1)[0] for a in argv[1:] if not a.startswith("-") and "." in a]
    return [o for o in out if o not in _NOWHERE]


def extract_dir(cmd: shell.Command) -> str | None:
    """Where an archive command unpacks (None when it does not unpack)."""
    argv = cmd.argv
    prog = cmd.program
    if prog in ("tar", "bsdtar"):
        mode, _, directory = _tar_mode(argv)
        return (directory or ".") if "x" in mode else None
    if prog == "unzip":
        for i, a in enumerate(argv[1:], 1):
            if a == "-d" and i + 1 < len(argv):
                return argv[i + 1]
        return "."
    if prog in ("7z", "7za") and len(argv) > 1 and argv[1] in ("x", "e"):
        for a in argv[2:]:
            if a.startswith("-o") and len(a) > 2:
                return a[2:]
        return "."
    return None


_INSTALLERS = frozenset({"pip", "pip3", "uv", "pipx", "npm", "pnpm", "yarn", "bun", "gem"})
_SYSTEM_PKG = {"dpkg": ("-i", "--install"), "rpm": ("-i", "-U", "-ivh", "-Uvh", "--install"),
               "apt": ("install",), "apt-get": ("install",), "yum": ("install", "localinstall"),
               "dnf": ("install",), "zypper": ("install", "in")}


def runs_files(cmd: shell.Command, inv: shell.Invocation | None) -> list[tuple[str, str]]:
    """(path, how) for each file this command runs or makes runnable."""
    argv = cmd.argv
    prog = cmd.program
    hits: list[tuple[str, str]] = []
    if not argv or 0 in cmd.unresolved:
        return hits
    if "/" in argv[0]:
        hits.append((argv[0], "runs the file"))
    elif inv is None:
        for d in BIN_DIRS:
            hits.append((f"{d}/{argv[0]}", f"runs it as `{argv[0]}`"))
    if inv is not None and inv.mode == "file" and inv.text is not None:
        hits.append((inv.text, f"runs it with {prog}"))
    if prog in ("source", ".", "exec") and len(argv) > 1:
        hits.append((argv[1], f"runs it with {prog}"))
    words = [a for a in argv[1:] if not a.startswith("-")]
    if prog == "chmod" and words:
        mode = words[0]
        if "x" in mode or (mode.isdigit() and any(int(d) & 1 for d in mode[-3:])):
            hits += [(a, "makes it executable") for a in words[1:]]
    elif prog == "install" and any(a.startswith("-m") and ("7" in a or "5" in a or "x" in a) or
                                   a in ("-m",) for a in argv[1:]):
        hits += [(a, "installs it as a program") for a in words[:-1]]
    elif prog == "make":
        for i, a in enumerate(argv[1:], 1):
            if a in ("-f", "--file", "--makefile") and i + 1 < len(argv):
                hits.append((argv[i + 1], "runs it with make"))
            elif a.startswith("-f") and len(a) > 2:
                hits.append((a[2:], "runs it with make"))
        hits += [(m, "runs it with make") for m in ("Makefile", "makefile", "GNUmakefile")]
    elif prog in _INSTALLERS or prog.startswith("pip"):
        hits += [(a, f"installs it with {prog}") for a in words
                 if a.startswith((".", "/", "~")) or a.endswith((".whl", ".tar.gz", ".tgz", ".zip", ".gem"))]
    elif prog in _SYSTEM_PKG and any(a in _SYSTEM_PKG[prog] for a in argv[1:]):
        hits += [(a, f"installs the package with {prog}") for a in words
                 if a.endswith((".deb", ".rpm")) or a.startswith((".", "/"))]
    elif prog == "java" and "-jar" in argv:
        k = argv.index("-jar")
        if k + 1 < len(argv):
            hits.append((argv[k + 1], "runs it with java"))
    return hits


def data_files(cmd: shell.Command) -> list[str]:
    """Files a network command sends: ``-d @f``, ``-F x=@f``, ``-T f``, local scp/rsync paths."""
    out: list[str] = []
    argv = cmd.argv
    for i, a in enumerate(argv[1:], 1):
        if a.startswith("@"):
            out.append(a[1:])
        elif "=@" in a:
            out.append(a.split("=@", 1)[1].split(";", 1)[0])
        elif a in ("-T", "--upload-file", "--post-file", "--body-file") and i + 1 < len(argv):
            out.append(argv[i + 1])
        elif a.startswith(("--post-file=", "--body-file=", "--upload-file=")):
            out.append(a.split("=", 1)[1])
    if cmd.program in ("scp", "rsync", "sftp", "rclone", "gsutil", "s3cmd", "aws", "gh"):
        out += [a for a in argv[1:] if not a.startswith("-") and ":" not in a]
    out += [t for t, op in zip(cmd.redirects, cmd.redirect_ops) if op == "<"]
    return [o for o in out if o not in _NOWHERE]
