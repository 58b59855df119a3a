"""Program names, wrapper prefixes (sudo, env, timeout, ...) and how an interpreter
invocation gets its program (stdin, inline code, a file, a module)."""

from __future__ import annotations

from functools import lru_cache

from relayguard.shell.model import Invocation
from relayguard.shell.words import program_name

SHELLS = frozenset({
    "sh", "bash", "zsh", "dash", "ksh", "ksh93", "mksh", "pdksh", "oksh", "ash",
    "fish", "csh", "tcsh", "yash", "posh", "rbash",
})
_POWERSHELL = frozenset({"pwsh", "powershell", "pwsh-preview"})
_EVALS = frozenset({"eval", "iex", "invoke-expression"})
_SU = frozenset({"su", "runuser"})
STDIN_PATHS = frozenset({"-", "/dev/stdin", "/dev/fd/0", "/proc/self/fd/0"})


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
