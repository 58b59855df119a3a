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
import shlex
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from relayguard import shell
from relayguard.errors import ConfigError
from relayguard.exchange import Exchange, Finding, ToolCall
from relayguard.inspectors.base import Inspector

__all__ = ["DEFAULT_ALLOW_HOSTS", "Policy", "PolicyGate", "load_policy", "shell_scripts"]

# Official installers agents really run (see shared/corpora/benign_commands.jsonl).
# A bare host is trusted for any path, so only hosts that serve nothing but the
# vendor's own files are listed bare; shared hosts get an owner path.
DEFAULT_ALLOW_HOSTS: tuple[str, ...] = (
    # Rust
    "sh.rustup.rs",
    "static.rust-lang.org/rustup/",
    # Python tooling
    "astral.sh",  # uv, ruff
    "install.python-poetry.org",
    "pyenv.run",
    # JavaScript runtimes and package managers
    "bun.sh",
    "deno.land",
    "get.pnpm.io",
    "get.volta.sh",
    "fnm.vercel.app/install",
    "deb.nodesource.com",
    "rpm.nodesource.com",
    "raw.githubusercontent.com/nvm-sh/",
    # Homebrew, Docker, Kubernetes and other well-known vendor installers
    "raw.githubusercontent.com/homebrew/",
    "get.docker.com",
    "get.helm.sh",
    "raw.githubusercontent.com/helm/helm/",
    "raw.githubusercontent.com/kubernetes-sigs/kustomize/",
    "get.k3s.io",
    "sdk.cloud.google.com",
    "clis.cloud.ibm.com/install/",
    "packages.gitlab.com/install/repositories/",
    "tailscale.com/install.sh",
    "ollama.com/install.sh",
    # Go
    "raw.githubusercontent.com/golangci/golangci-lint/",
    "golangci-lint.run/install.sh",
    # Lean (elan), Haskell, OCaml, Julia, Nextflow, SDKMAN, Nix, starship, oh-my-zsh, mise
    "raw.githubusercontent.com/leanprover/elan/",
    "get-ghcup.haskell.org",
    "raw.githubusercontent.com/ocaml/opam/",
    "install.julialang.org",
    "get.nextflow.io",
    "get.sdkman.io",
    "install.determinate.systems/nix",
    "nixos.org/nix/install",
    "starship.rs/install.sh",
    "raw.githubusercontent.com/ohmyzsh/ohmyzsh/",
    "mise.run",
)

DOWNLOADERS = frozenset({
    "curl", "curlie", "wget", "wget2", "fetch", "aria2c",
    "invoke-webrequest", "iwr", "invoke-restmethod", "irm",
    "http", "https", "xh", "xhs",  # httpie / xh
})

SHELL_TOOL_NAMES = frozenset({
    "bash", "shell", "sh", "exec", "run", "run_command", "run_shell_command", "execute_command",
    "terminal", "run_terminal_cmd", "local_shell", "container.exec",
})
_SHELL_TOOL_PARTS = ("bash", "shell", "exec", "command", "terminal")
_COMMAND_KEYS = ("command", "cmd", "script", "commands", "input")

_MAX_FINDINGS = 8
_MAX_CACHE = 2048
_MAX_CACHED_SCRIPT = 8192
_MAX_PASSES = 10

# ---------------------------------------------------------------------------
# Policy


@dataclass(frozen=True, slots=True)
class Policy:
    """What the gate allows.  ``allow_hosts`` entries: ``host`` or ``host/path/prefix``."""

    allow_hosts: tuple[str, ...] = DEFAULT_ALLOW_HOSTS
    require_https: bool = True
    # True: any download piped into an interpreter counts as executed, as in the
    # paper's gate, even `curl ... | python3 -m json.tool` (which only parses it).
    strict_interpreters: bool = False

    @classmethod
    def default(cls) -> Policy:
        return cls()


_GATE_KEYS = {"allow_hosts", "extra_allow_hosts", "require_https", "strict_interpreters"}


def load_policy(path: str | Path) -> Policy:
    """Read a TOML policy file::

        [gate]
        allow_hosts = ["sh.rustup.rs"]           # replaces the default list
        extra_allow_hosts = ["get.example.com"]  # adds to it (or to allow_hosts)
        require_https = true
        strict_interpreters = false

    Raises ConfigError naming the file and the field."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read policy file: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{p}: policy file is not UTF-8 text: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: invalid TOML: {exc}") from exc
    unknown = sorted(set(data) - {"gate"})
    if unknown:
        raise ConfigError(f"{p}: unknown section or key {unknown[0]!r} (expected [gate])")
    gate = data.get("gate", {})
    if not isinstance(gate, dict):
        raise ConfigError(f"{p}: 'gate' must be a table ([gate])")
    unknown = sorted(set(gate) - _GATE_KEYS)
    if unknown:
        raise ConfigError(f"{p}: unknown key gate.{unknown[0]} "
                          f"(expected one of {', '.join(sorted(_GATE_KEYS))})")

    def host_list(key: str) -> tuple[str, ...] | None:
        if key not in gate:
            return None
        value = gate[key]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{p}: gate.{key} must be a list of strings, got {value!r}")
        for entry in value:
            try:
                _parse_entry(entry)
            except ValueError as exc:
                raise ConfigError(f"{p}: gate.{key}: {exc}") from None
        return tuple(value)

    hosts = host_list("allow_hosts")
    extra = host_list("extra_allow_hosts")
    allow = hosts if hosts is not None else DEFAULT_ALLOW_HOSTS
    if extra:
        allow = allow + tuple(e for e in extra if e not in allow)
    flags = {}
    for key, default in (("require_https", True), ("strict_interpreters", False)):
        value = gate.get(key, default)
        if not isinstance(value, bool):
            raise ConfigError(f"{p}: gate.{key} must be true or false, got {value!r}")
        flags[key] = value
    return Policy(allow_hosts=allow, **flags)


# ---------------------------------------------------------------------------
# Hosts and URLs

_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-._")
_NETLOC_BAD = frozenset("\\%{}<>\"'`^| \t\r\n")


def normalize_host(host: str) -> str | None:
    """Lower case, no trailing dot, IDNA (punycode); None when not a valid host."""
    host = host.strip().lower()
    if host.endswith("."):
        host = host[:-1]
    if not host:
        return None
    if host.startswith("[") or ":" in host:  # IPv6 literal
        inner = host.strip("[]")
        return inner if inner and all(c in "0123456789abcdef:." for c in inner) else None
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii").lower()
        except UnicodeError:
            return None
    if not all(c in _HOST_CHARS for c in host):
        return None
    labels = host.split(".")
    if any(not label or len(label) > 63 for label in labels) or len(host) > 253:
        return None
    return host


@dataclass(frozen=True, slots=True)
class _Url:
    text: str
    scheme: str
    host: str | None  # None: no valid host
    path: str
    path_ok: bool  # safe to compare against a path prefix


def parse_url(text: str, default_scheme: str = "http") -> _Url:
    raw = text.strip()
    if "://" not in raw:
        if raw.startswith(":") and (raw[1:2] in ("/", "") or raw[1:2].isdigit()):
            raw = "localhost" + raw  # httpie's :8080/x shorthand
        raw = f"{default_scheme}://{raw}"
    bad = _Url(text, "", None, "", False)
    if any(ord(c) < 33 for c in raw):
        return bad
    try:
        parts = urlsplit(raw)
        port = parts.port  # noqa: F841 - raises on an invalid port
    except ValueError:
        return bad
    netloc = parts.netloc
    if not netloc or netloc.count("@") > 1 or any(c in _NETLOC_BAD for c in netloc):
        return bad
    host = normalize_host(parts.hostname or "")
    path = parts.path or "/"
    low = path.lower()
    segments = low.split("/")
    path_ok = not (
        "\\" in low or "%2e" in low or "%2f" in low or "%5c" in low
        or any(c in low for c in "{}[]") or "." in segments or ".." in segments
    )
    return _Url(text, parts.scheme.lower(), host, low, path_ok)


def _parse_entry(entry: str) -> tuple[str, str | None]:
    """``host`` or ``host/path`` -> (normalised host, path prefix or None)."""
    if not isinstance(entry, str) or not entry.strip():
        raise ValueError("allowlist entries must be non-empty strings")
    e = entry.strip()
    low = e.lower()
    for prefix in ("https://", "http://"):
        if low.startswith(prefix):
            e = e[len(prefix):]
            break
    host_part, slash, path = e.partition("/")
    if "@" in host_part or ":" in host_part.strip("[]").replace("::", ""):
        raise ValueError(f"allowlist entry {entry!r} must be a host or host/path, without port or user")
    host = normalize_host(host_part)
    if host is None:
        raise ValueError(f"allowlist entry {entry!r} does not start with a valid host name")
    if not slash or not path.strip("/"):
        return host, None
    prefix = "/" + path.lower()
    if any(seg in (".", "..") for seg in prefix.split("/")):
        raise ValueError(f"allowlist entry {entry!r} must not contain . or .. path segments")
    return host, prefix


class _Allowlist:
    def __init__(self, entries: tuple[str, ...]) -> None:
        self.any_path: set[str] = set()
        self.prefixes: dict[str, list[str]] = {}
        for entry in entries:
            try:
                host, prefix = _parse_entry(entry)
            except ValueError as exc:
                raise ConfigError(f"policy allow_hosts: {exc}") from None
            if prefix is None:
                self.any_path.add(host)
            else:
                self.prefixes.setdefault(host, []).append(prefix)

    def host_listed(self, host: str) -> bool:
        return host in self.any_path or host in self.prefixes

    def allows(self, url: _Url) -> bool:
        host = url.host
        if host is None:
            return False
        if host in self.any_path:
            return True
        if not url.path_ok:
            return False
        for prefix in self.prefixes.get(host, ()):
            if url.path == prefix or url.path.startswith(prefix if prefix.endswith("/") else prefix + "/"):
                return True
        return False


# ---------------------------------------------------------------------------
# Which URLs a download command fetches

_CURL_SHORT_ARG = "AbcCdDeEFHmoPQrTtuUwxXyYz"
_CURL_LONG_ARG = frozenset("""
abstract-unix-socket alt-svc aws-sigv4 cacert capath cert cert-type ciphers connect-timeout
connect-to continue-at cookie cookie-jar create-file-mode crlfile curves data data-ascii
data-binary data-raw data-urlencode delegation dns-interface dns-ipv4-addr dns-ipv6-addr
dns-servers doh-url dump-header ech egd-file engine etag-compare etag-save expect100-timeout
form form-string ftp-account ftp-alternative-to-user ftp-method ftp-port ftp-ssl-ccc-mode
happy-eyeballs-timeout-ms haproxy-clientip header hostpubmd5 hostpubsha256 hsts interface
ip-tos json keepalive-time keepalive-cnt key key-type krb libcurl limit-rate local-port
login-options mail-auth mail-from mail-rcpt max-filesize max-redirs max-time netrc-file
noproxy oauth2-bearer output output-dir parallel-max pass pinnedpubkey preproxy proto
proto-default proto-redir proxy proxy-cacert proxy-capath proxy-cert proxy-cert-type
proxy-ciphers proxy-crlfile proxy-header proxy-key proxy-key-type proxy-pass
proxy-pinnedpubkey proxy-service-name proxy-tls13-ciphers proxy-tlsauthtype proxy-tlspassword
proxy-tlsuser proxy-user proxy1.0 pubkey quote random-file range rate referer request
request-target resolve retry retry-delay retry-max-time sasl-authzid service-name socks4
socks4a socks5 socks5-gssapi-service socks5-hostname speed-limit speed-time stderr
telnet-option tftp-blksize time-cond tls-max tls13-ciphers tlsauthtype tlspassword tlsuser
trace trace-ascii trace-config unix-socket upload-file url-query user user-agent variable
write-out vlan-priority
""".split())
_WGET_SHORT_ARG = "OoaePtTwUBQlARDIX"
_WGET_LONG_ARG = frozenset("""
output-document output-file append-output execute directory-prefix tries timeout wait
user-agent header base quota level accept reject domains exclude-domains include-directories
exclude-directories user password http-user http-password ftp-user ftp-password proxy-user
proxy-password post-data post-file body-data body-file method referer load-cookies
save-cookies ca-certificate ca-directory certificate certificate-type private-key
private-key-type limit-rate bind-address dns-timeout connect-timeout read-timeout waitretry
restrict-file-names progress compression secure-protocol cut-dirs default-page
local-encoding remote-encoding rejected-log warc-file use-askpass retry-on-http-error
report-speed dns-servers bind-dns-address accept-regex reject-regex regex-type
""".split())
_ARIA_SHORT_ARG = "dosxkjlt"
_FETCH_SHORT_ARG = "oTNSBhc"
_HTTPIE_SHORT_ARG = "aoApsv"
_HTTPIE_LONG_ARG = frozenset("""
auth auth-type output session session-read-only verify cert cert-key cert-key-pass proxy
timeout max-redirects print pretty style format-options response-charset response-mime
ssl ciphers boundary chunked
""".split())
_UNKNOWN_SOURCES = {  # options that read the URLs from somewhere we cannot see
    "curl": ("-K", "--config"),
    "wget": ("-i", "--input-file", "--config"),
    "wget2": ("-i", "--input-file", "--config"),
    "aria2c": ("-i", "--input-file", "--conf-path"),
}
_PS_VALUE_PARAMS = (
    "uri", "outfile", "method", "headers", "body", "contenttype", "useragent", "proxy",
    "proxycredential", "credential", "infile", "websession", "sessionvariable", "timeoutsec",
    "maximumredirection", "maximumretrycount", "retryintervalsec", "certificatethumbprint",
    "certificate", "transferencoding", "form", "custommethod", "httpversion", "authentication",
    "token", "connectiontimeoutseconds", "operationtimeoutseconds", "responseheaderstvariable",
    "statuscodevariable",
)
_PS_SWITCHES = (
    "usebasicparsing", "useb", "usedefaultcredentials", "disablekeepalive", "passthru",
    "skipcertificatecheck", "skipheadervalidation", "allowunencryptedauthentication", "noproxy",
    "preserveauthorizationonredirect", "skiphttperrorcheck", "resume", "allowinsecureredirect",
    "preservehttpmethodonredirect",
)


def download_targets(cmd: shell.Command) -> tuple[list[str], list[str]]:
    """(URL words, words that make the URL impossible to determine statically)."""
    argv = cmd.argv
    prog = cmd.program
    unresolved = set(cmd.unresolved)
    urls: list[str] = []
    unknown: list[str] = []
    n = len(argv)

    def take(i: int) -> None:
        if i in unresolved:
            unknown.append(argv[i])
        else:
            urls.append(argv[i])

    if prog in ("invoke-webrequest", "iwr", "invoke-restmethod", "irm"):
        i = 1
        while i < n:
            a = argv[i]
            if a.startswith("-") and len(a) > 1:
                name = a[1:].rstrip(":").lower()
                if i in unresolved:
                    unknown.append(a)
                    i += 1
                    continue
                if any(s.startswith(name) for s in _PS_SWITCHES) and \
                        not any(v.startswith(name) for v in _PS_VALUE_PARAMS):
                    i += 1
                    continue
                if "uri".startswith(name) and i + 1 < n:
                    take(i + 1)
                i += 2
                continue
            take(i)
            i += 1
        if not urls and not unknown:
            unknown.append("(no URL)")
        return urls, unknown

    httpie = prog in ("http", "https", "xh", "xhs")
    if prog in ("curl", "curlie"):
        short_arg, long_arg = _CURL_SHORT_ARG, _CURL_LONG_ARG
    elif prog in ("wget", "wget2"):
        short_arg, long_arg = _WGET_SHORT_ARG, _WGET_LONG_ARG
    elif prog == "aria2c":
        short_arg, long_arg = _ARIA_SHORT_ARG, frozenset()
    elif httpie:
        short_arg, long_arg = _HTTPIE_SHORT_ARG, _HTTPIE_LONG_ARG
    else:  # fetch
        short_arg, long_arg = _FETCH_SHORT_ARG, frozenset()
    unknown_opts = _UNKNOWN_SOURCES.get(prog, ())
    seen_method = False
    i = 1
    while i < n:
        a = argv[i]
        if i in unresolved and a.startswith("$"):
            unknown.append(a)  # an option or a URL: we cannot tell
            i += 1
            continue
        if a == "--":
            for k in range(i + 1, n):
                take(k)
            break
        if a.startswith("--") and len(a) > 2:
            key, eq, value = a[2:].partition("=")
            if "--" + key in unknown_opts:
                unknown.append(a)
            if key == "url":
                if eq:
                    if i in unresolved:
                        unknown.append(a)
                    else:
                        urls.append(value)
                elif i + 1 < n:
                    take(i + 1)
                    i += 1
            elif key in long_arg and not eq:
                i += 1
            i += 1
            continue
        if a.startswith("-") and len(a) > 1:
            step = 1
            for j in range(1, len(a)):
                ch = a[j]
                if "-" + ch in unknown_opts:
                    unknown.append(a)
                if ch in short_arg:
                    if j == len(a) - 1:
                        step = 2
                    break
            i += step
            continue
        if httpie:
            if not seen_method and a.isalpha() and a.isupper():
                seen_method = True
                i += 1
                continue
            take(i)
            break  # the rest are request items
        take(i)
        i += 1
    if not urls and not unknown:
        unknown.append("(no URL)")
    return urls, unknown


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
# Tool calls -> scripts


def is_shell_tool(call: ToolCall) -> bool:
    if call.kind == "shell":
        return True
    name = (call.name or "").lower()
    return name in SHELL_TOOL_NAMES or any(part in name for part in _SHELL_TOOL_PARTS)


def _argv_script(argv: list[str]) -> str:
    inv = shell.invocation(argv)
    if inv is not None and inv.lang == "shell" and inv.mode == "code" and inv.text is not None:
        return inv.text
    return shlex.join(argv)


def _value_scripts(value: Any, key: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        if not all(isinstance(v, str) for v in value):
            raise ValueError(f"shell tool argument {key!r} is a list with non-string items; "
                             "blocked because the command cannot be checked")
        if not value:
            return []
        if any(c.isspace() for c in value[0]):
            return ["\n".join(value)]  # a list of command lines
        return [_argv_script(value)]
    raise ValueError(f"shell tool argument {key!r} has an unexpected type "
                     f"({type(value).__name__}); blocked because the command cannot be checked")


def shell_scripts(arguments: Any) -> list[str]:
    """The shell scripts a shell-like tool call would run."""
    if isinstance(arguments, (str, list)):
        return _value_scripts(arguments, "arguments")
    if not isinstance(arguments, dict):
        raise ValueError("shell tool arguments are not a JSON object; blocked because the "
                         "command cannot be checked")
    scripts: list[str] = []
    found = False
    for key in _COMMAND_KEYS:
        if key in arguments:
            found = True
            scripts.extend(_value_scripts(arguments[key], key))
    if not found:  # unknown schema: check every string it carries
        for key, value in arguments.items():
            if isinstance(value, str) or (isinstance(value, list) and
                                          all(isinstance(v, str) for v in value)):
                scripts.extend(_value_scripts(value, str(key)))
    return scripts


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
