"""The policy gate's policy: the installer allowlist, loading a TOML policy,
host normalisation and URL parsing."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from relayguard.errors import ConfigError

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
