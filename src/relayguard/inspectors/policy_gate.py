"""The paper's baseline fail-closed policy gate, on a real shell parser.

Rule ``download-exec`` (block): a shell tool call that downloads something
(curl, wget, fetch, aria2c, httpie, Invoke-WebRequest/iwr, irm) and runs it
with an interpreter (sh, bash, zsh, python, perl, ruby, node, php, pwsh,
iex, eval, source, ...) is blocked unless every URL it downloads is on the
installer allowlist.  "Runs it" covers ``curl x | sh``, ``bash -c "$(curl x)"``,
``bash <(curl x)``, ``x=$(curl x); eval "$x"``, ``curl x | tee f | sudo bash``,
downloads inside ``bash -c '...'``/heredocs, and the like (see
``relayguard.shell``).  A download whose URL cannot be determined statically,
or a command whose name cannot be, piped into an interpreter is blocked too.

Fail closed: a shell-like tool call whose arguments are not valid JSON
(``unparseable-arguments``), or whose command cannot be analysed
(``unparseable-command``), is blocked.

The allowlist holds hosts (``sh.rustup.rs``: that host, any path) and
host+path prefixes (``raw.githubusercontent.com/nvm-sh/``: only under that
path, because the host serves anybody's files).  Allowlisted downloads must
use https unless the policy says otherwise.
"""

from __future__ import annotations

import re

from relayguard import shell
from relayguard.errors import ConfigError
from relayguard.exchange import Exchange, Finding, ToolCall
from relayguard.inspectors.base import Inspector
from relayguard.inspectors.gate_downloads import DOWNLOADERS, download_targets
from relayguard.inspectors.gate_policy import (  # noqa: F401 - re-exported
    DEFAULT_ALLOW_HOSTS,
    Policy,
    _Allowlist,
    _Url,
    load_policy,
    normalize_host,
    parse_url,
)
from relayguard.inspectors.gate_scripts import (  # noqa: F401 - re-exported
    SHELL_TOOL_NAMES,
    is_shell_tool,
    shell_scripts,
)

__all__ = ["DEFAULT_ALLOW_HOSTS", "Policy", "PolicyGate", "load_policy", "shell_scripts"]

# The gate reads as the data flow: tool calls -> scripts (gate_scripts), the
# downloads in each script (gate_downloads), checked against the policy
# (gate_policy) by the inspector below.

_MAX_FINDINGS = 8
_MAX_CACHE = 2048
_MAX_CACHED_SCRIPT = 8192
_MAX_PASSES = 10


# ---------------------------------------------------------------------------
# When an interpreter runs what it is fed

_INLINE_EXEC = {
    "python": ("exec", "eval", "compile", "__import__", "import_module", "runpy", "subprocess",
               "system", "popen", "pickle", "marshal", "spawn"),
    "perl": ("eval", "system", "exec", "`", "qx", "do ", "require", "open"),
    "ruby": ("eval", "system", "exec", "`", "%x", "load", "require", "spawn", "popen", "open"),
    "node": ("eval", "Function", "child_process", "vm.", "import(", "spawn", "exec", "require(\"v",
             "require('v", "module._compile", "_compile"),
    "php": ("eval", "system", "exec", "passthru", "shell_exec", "popen", "proc_open", "include",
            "require", "assert", "`", "create_function"),
    "powershell": ("iex", "invoke-expression", "scriptblock", "$input"),
}


# `python -m X` reads stdin as data for these modules; any other module might
# run it (`python -m code` is an interactive console).
_DATA_MODULES = frozenset({
    "json.tool", "json", "base64", "gzip", "zipfile", "tarfile", "pip", "pytest", "http.server",
    "venv", "ensurepip", "site", "sysconfig", "platform", "pydoc", "mimetypes", "uuid", "pprint",
    "tokenize", "calendar", "quopri", "binascii", "uu", "csv", "unittest", "timeit", "cprofile",
    "profile", "pstats", "zipapp", "compileall", "py_compile", "webbrowser", "http.client",
    "urllib.request", "hashlib", "lzma", "bz2", "zlib", "pickletools", "dis", "ast", "trace",
})


def _interactive(argv: tuple[str, ...], upto: int | None) -> bool:
    """`python -i` / `node -i`: after the code, read more code from stdin."""
    end = len(argv) if upto is None else upto
    for a in argv[1:end]:
        if a in ("--interactive", "-i"):
            return True
        if len(a) > 1 and a[0] == "-" and a[1] != "-" and "i" in a[1:]:
            return True
    return False


class _Flow:
    """Taint from downloads (and unresolvable commands) to what runs it."""

    def __init__(self, cmds: tuple[shell.Command, ...], strict: bool = False) -> None:
        self.cmds = cmds
        self.strict = strict
        self.children: dict[int, list[int]] = {}
        for j, c in enumerate(cmds):
            if c.parent is not None:
                self.children.setdefault(c.parent, []).append(j)
        self._inv: dict[int, shell.Invocation | None] = {}

    def inv(self, i: int) -> shell.Invocation | None:
        if i not in self._inv:
            c = self.cmds[i]
            self._inv[i] = None if (not c.argv or 0 in c.unresolved) else shell.invocation(c.argv)
        return self._inv[i]

    def code_runs_input(self, i: int, depth: int = 0) -> bool:
        """Does the inline code of interpreter ``i`` (literal) run its stdin?"""
        inv = self.inv(i)
        if inv is None or inv.text is None:
            return True
        if inv.lang in ("shell", "eval", "powershell"):
            # the nested script was parsed: does any of it read stdin as code?
            for j in self.children.get(i, ()):
                c = self.cmds[j]
                if c.nested_in and c.parent_arg == inv.index and self.runs_stdin(j, depth + 1):
                    return True
            if inv.lang != "powershell":
                return False
        text = inv.text if inv.lang != "powershell" else inv.text.lower()
        return any(tok in text for tok in _INLINE_EXEC.get(inv.lang, ()))

    def runs_stdin(self, i: int, depth: int = 0) -> bool:
        """Does command ``i`` execute what arrives on its standard input?"""
        c = self.cmds[i]
        if not c.argv:
            return False
        if 0 in c.unresolved:
            return True  # unknown program: assume the worst
        inv = self.inv(i)
        if inv is None or depth > shell.MAX_NESTING:
            return False
        if inv.mode == "stdin" or (self.strict and inv.lang != "source"):
            return True
        if inv.lang in ("python", "node") and _interactive(c.argv, inv.index):
            return True
        if inv.mode == "module":
            return (inv.text or "").lower() not in _DATA_MODULES or inv.index in c.unresolved
        if inv.mode == "code":
            if inv.index is None or inv.index in c.unresolved:
                return True
            if "xargs" in c.wrappers and "{}" in (inv.text or ""):
                return True
            return self.code_runs_input(i, depth)
        return False

    def script_args(self, i: int) -> tuple[int, ...] | None:
        """argv indices holding program text for interpreter ``i`` (None: any from 1)."""
        inv = self.inv(i)
        if inv is None:
            return ()
        if inv.lang == "eval":
            return None
        if inv.index is not None and inv.mode in ("code", "file"):
            return (inv.index,)
        return ()


# Messages go back to the agent as the reason for a block.  They name hosts, but
# never repeat an attacker's URL the agent could simply run by hand, and quoted
# command text is defanged, single-line and short.

def _clip(text: str, limit: int = 60) -> str:
    text = "".join(c if c.isprintable() else " " for c in text).replace("://", "[://]")
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _short(argv: tuple[str, ...], limit: int = 60) -> str:
    return _clip(" ".join(argv), limit)


_SAFE_SEGMENT = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._-")


def _where(url: _Url, segments: int) -> str:
    """The host, and for shared hosts the first path segments (the owner)."""
    if segments:
        parts = [p for p in url.path.split("/") if p][:segments]
        if parts and all(p and all(c in _SAFE_SEGMENT for c in p) for p in parts):
            return f"{url.host}/{'/'.join(parts)}/..."
    return str(url.host)


# ---------------------------------------------------------------------------
# The inspector


class PolicyGate(Inspector):
    name = "policy-gate"

    def __init__(self, policy: Policy | None = None) -> None:
        self.policy = policy if policy is not None else Policy.default()
        if not isinstance(self.policy.require_https, bool):
            raise ConfigError("policy require_https must be true or false")
        self._allow = _Allowlist(tuple(self.policy.allow_hosts))
        self._cache: dict[str, tuple[tuple[str, str], ...]] = {}

    # -- the hook ---------------------------------------------------------
    def on_tool_call(self, exchange: Exchange, call: ToolCall) -> list[Finding]:
        if not is_shell_tool(call):
            return []
        if call.arguments is None:
            return [Finding("unparseable-arguments", "block",
                            f"the arguments of shell tool call {call.name!r} are not valid JSON; "
                            "blocked because the command cannot be checked", call.id)]
        try:
            scripts = shell_scripts(call.arguments)
        except ValueError as exc:
            return [Finding("unparseable-arguments", "block", str(exc), call.id)]
        findings: list[Finding] = []
        seen: set[tuple[str, str]] = set()
        for script in scripts:
            for rule, message in self.check(script):
                if (rule, message) not in seen and len(findings) < _MAX_FINDINGS:
                    seen.add((rule, message))
                    findings.append(Finding(rule, "block", message, call.id))
        return findings

    # -- one script -------------------------------------------------------
    def check(self, script: str) -> tuple[tuple[str, str], ...]:
        """(rule, message) for each problem in ``script``; empty when allowed."""
        if len(script) > shell.MAX_SCRIPT_BYTES:
            return (("unparseable-command", f"the command is longer than {shell.MAX_SCRIPT_BYTES} "
                                            "characters; blocked because it cannot be checked"),)
        if not _may_download(script):
            return ()
        cacheable = len(script) <= _MAX_CACHED_SCRIPT
        if cacheable:
            hit = self._cache.get(script)
            if hit is not None:
                return hit
        result = self._check(script)
        if cacheable:
            if len(self._cache) >= _MAX_CACHE:
                self._cache.clear()
            self._cache[script] = result
        return result

    def _check(self, script: str) -> tuple[tuple[str, str], ...]:
        try:
            parsed = shell.parse_script(script)
        except shell.ShellParseError as exc:
            return (("unparseable-command", f"the command could not be analysed ({exc}); "
                                            "blocked to fail closed"),)
        except Exception as exc:  # noqa: BLE001 - fail closed on anything the parser throws
            return (("unparseable-command", f"the command could not be analysed "
                                            f"({type(exc).__name__}); blocked to fail closed"),)
        results = self._download_exec(parsed.commands)
        if not results and parsed.has_error:
            risky = _crude_download_exec(script)
            if risky:
                results = [("unparseable-command",
                            f"the command has a shell syntax error and mentions {risky[0]} and "
                            f"{risky[1]}; blocked because it cannot be checked reliably")]
        return tuple(dict.fromkeys(results))

    def _source_problem(self, cmd: shell.Command) -> tuple[str, str] | None:
        """Why this download may not be executed: (what, why), or None if allowed."""
        urls, unknown = download_targets(cmd)
        if unknown:
            if unknown[0] == "(no URL)":
                return (f"runs `{_short(cmd.argv)}`", "the URL it downloads cannot be determined")
            what = ", ".join(_clip(u, 40) for u in unknown[:2])
            return (f"downloads from a URL that cannot be determined statically ({what})",
                    "only allowlisted installers may be run")
        default_scheme = "https" if cmd.program in ("https", "xhs") else "http"
        for text in urls:
            url = parse_url(text, default_scheme)
            if url.host is None:
                return (f"downloads from `{_clip(text, 40)}`",
                        "that URL has no valid host, so it cannot be on the installer allowlist")
            if not self._allow.allows(url):
                if self._allow.host_listed(url.host):
                    listed = sorted(self._allow.prefixes.get(url.host, []))
                    paths = ", ".join(listed[:3]) + (f" (and {len(listed) - 3} more)"
                                                     if len(listed) > 3 else "")
                    if not url.path_ok:
                        return (f"downloads from {url.host}",
                                "its path has '..', encoded separators or globs, so it cannot "
                                f"match the allowlisted paths of {url.host}")
                    return (f"downloads from {_where(url, 2)}",
                            f"host {url.host} is on the installer allowlist only for {paths}")
                return (f"downloads from {url.host}",
                        f"host {url.host} is not on the installer allowlist")
            if self.policy.require_https and url.scheme != "https":
                return (f"downloads from {url.host} over {url.scheme or 'an unknown scheme'}",
                        "allowlisted installers must be downloaded over https")
        return None

    def _download_exec(self, cmds: tuple[shell.Command, ...]) -> list[tuple[str, str]]:
        n = len(cmds)
        bad: dict[int, tuple[str, str]] = {}
        for i, c in enumerate(cmds):
            if not c.argv:
                continue
            if 0 in c.unresolved:
                bad[i] = (f"runs `{_short(c.argv)}`",
                          "the program name cannot be resolved statically, so it may be a download")
            elif c.program in DOWNLOADERS:
                problem = self._source_problem(c)
                if problem is not None:
                    bad[i] = problem
        if not bad:
            return []
        flow = _Flow(cmds, self.policy.strict_interpreters)
        taint: list[set[int]] = [set() for _ in range(n)]
        stdin: list[set[int]] = [set() for _ in range(n)]
        args: list[dict[int, set[int]]] = [{} for _ in range(n)]
        for s in bad:
            taint[s].add(s)
        groups: dict[int, list[tuple[int, int]]] = {}
        for i, c in enumerate(cmds):
            groups.setdefault(c.pipeline, []).append((c.stage, i))
            for p, st in c.outer:
                groups.setdefault(p, []).append((st, i))
        pipes = [sorted(set(m)) for m in groups.values() if len({st for st, _ in m}) > 1]

        def refresh(i: int) -> bool:
            new = set(taint[i]) | stdin[i]
            for srcs in args[i].values():
                new |= srcs
            if i in bad:
                new.add(i)
            if new != taint[i]:
                taint[i] = new
                return True
            return False

        for _ in range(_MAX_PASSES):
            changed = False
            # nested commands and variables, children (higher index) first
            for j in range(n - 1, -1, -1):
                c = cmds[j]
                for arg, src in c.inputs:
                    if taint[src] and not taint[src] <= args[j].get(arg, set()):
                        args[j].setdefault(arg, set()).update(taint[src])
                        changed = True
                if c.parent is not None:
                    p = c.parent
                    kind = c.nested_in or ""
                    if kind in ("command_substitution", "process_substitution"):
                        if taint[j] and not taint[j] <= args[p].get(c.parent_arg, set()):
                            args[p].setdefault(c.parent_arg, set()).update(taint[j])
                            changed = True
                    elif kind == "output_process_substitution":
                        if taint[p] and not taint[p] <= stdin[j]:
                            stdin[j] |= taint[p]
                            changed = True
                    elif taint[j] and not taint[j] <= taint[p]:
                        taint[p] |= taint[j]  # output of a nested script is the parent's output
                        changed = True
                changed |= refresh(j)
            # pipelines: every later stage reads what earlier stages wrote
            for members in pipes:
                acc: set[int] = set()
                stage = members[0][0]
                pending: set[int] = set()
                for st, i in members:
                    if st != stage:
                        acc |= pending
                        pending = set()
                        stage = st
                    if acc and not acc <= stdin[i]:
                        stdin[i] |= acc
                        changed = True
                        refresh(i)
                    pending |= taint[i]
            if not changed:
                break

        results: list[tuple[str, str]] = []

        def report(src: int, how: str, sink: int) -> None:
            what, why = bad[src]
            target = cmds[sink]
            if 0 in target.unresolved:
                name = f"`{_clip(target.argv[0], 40)}` (a command that cannot be resolved statically)"
            else:
                name = target.program
            results.append(("download-exec", f"{what} and {how.format(name)}; {why}"))

        for i, c in enumerate(cmds):
            if not c.argv:
                continue
            if stdin[i] and flow.runs_stdin(i):
                for src in sorted(stdin[i]):
                    if src != i:
                        report(src, "pipes it into {}", i)
            if not args[i]:
                continue
            for src in sorted(args[i].get(0, ())):
                if src != i:
                    report(src, "runs its output as a command", i)
            if flow.inv(i) is None:
                continue
            positions = flow.script_args(i)
            for arg, srcs in args[i].items():
                if arg == shell.ARG_STDIN:
                    if flow.runs_stdin(i):
                        for src in sorted(srcs):
                            report(src, "feeds it to {}", i)
                elif arg >= 1 and (positions is None or arg in positions):
                    for src in sorted(srcs):
                        report(src, "runs it with {}", i)
        return results


# ---------------------------------------------------------------------------
# Cheap pre-checks

# Without these characters a word can only be literal text (after quote removal).
_DYNAMIC_CHARS = frozenset("$`\\*?[{")
_DOWNLOAD_HINTS = ("curl", "wget", "fetch", "aria2", "iwr", "irm", "invoke-", "http", "xh")


def _may_download(script: str) -> bool:
    """False only when no command in ``script`` can be a downloader.

    Sound because a program name comes from literal text (quotes removed),
    or from expansions, globs, escapes and substitutions, which need one of
    ``_DYNAMIC_CHARS``.  Text fed to a shell (``echo 'curl x' | sh``, ``bash
    -c '...'``) is literal text of the script too.
    """
    if any(c in _DYNAMIC_CHARS for c in script):
        return True
    low = script.lower().replace("'", "").replace('"', "")
    return any(h in low for h in _DOWNLOAD_HINTS)


_TOKEN_SPLIT = re.compile(r"[^a-z0-9_.\-]+")
_CRUDE_DOWNLOADERS = DOWNLOADERS - {"http", "https"}  # words in every URL
_CRUDE_INTERPRETERS = frozenset(shell.SHELLS | {
    "python", "python2", "python3", "perl", "ruby", "node", "nodejs", "php", "pwsh",
    "powershell", "iex", "invoke-expression", "eval", "source"})


def _crude_download_exec(script: str) -> tuple[str, str] | None:
    """For scripts tree-sitter could not parse cleanly: a downloader and an
    interpreter both named anywhere (quotes and escapes ignored)."""
    low = script.lower().replace("'", "").replace('"', "").replace("\\", "")
    tokens = set(_TOKEN_SPLIT.split(low))
    dl = sorted(tokens & _CRUDE_DOWNLOADERS)
    if not dl:
        return None
    interp = sorted(t for t in tokens if t in _CRUDE_INTERPRETERS or
                    (t.startswith("python") and all(c in "0123456789." for c in t[6:])))
    if not interp:
        return None
    return dl[0], interp[0]
