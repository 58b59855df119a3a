"""The screening policy: what is trusted without being named in the conversation,
which packages are always allowed or always refused, and what each rule does.

The built-in default (``ScreenPolicy.default()``) is meant to work for a typical
developer; ``load_policy(path)`` reads a TOML file (see docs/policy.md)::

    [trust]
    installers = [...]        # hosts / host+path prefixes trusted for download-and-run
    extra_installers = [...]  # added to the default (the same pattern for the other two)
    indexes = [...]           # package indexes, registries, conda channels
    owners = [...]            # code-host owners or repositories: "github.com/astral-sh"
    require_https = true

    [packages.pypi]           # also npm, crates, go, gem, conda
    allow = ["our-internal-lib"]
    deny = ["colourama"]

    [rules]                   # block | warn | allow, per rule
    credential-read = "warn"

    [gate]                    # the baseline gate's keys, still accepted:
    allow_hosts = [...]       #   = trust.installers
    extra_allow_hosts = [...] #   = trust.extra_installers

Errors raise ConfigError naming the file and the field.
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from relayguard.errors import ConfigError
from relayguard.inspectors.gate_policy import DEFAULT_ALLOW_HOSTS, _Allowlist, _parse_entry, parse_url
from relayguard.screen.installs import normalise_name
from relayguard.screen.urls import owner_key, split_url

__all__ = ["DEFAULT_INDEXES", "DEFAULT_INSTALLERS", "DEFAULT_OWNERS", "RULES", "ScreenPolicy",
           "load_policy"]

# Rule -> (default action, what it is about).  docs/policy.md lists the same.
RULES: dict[str, tuple[str, str]] = {
    "download-exec": ("block", "runs code downloaded from a source that is neither trusted nor named"),
    "install-source": ("block", "installs a package from a git repository, URL or archive"),
    "index-override": ("block", "points a package manager at another index or registry"),
    "pm-config": ("block", "changes package-manager configuration to another source"),
    "typosquat": ("block", "installs a lookalike of a popular or a named package"),
    "package-alias": ("block", "installs an unknown package under another package's name"),
    "denied-package": ("block", "installs a package the policy denies"),
    "encoded-exec": ("block", "decodes an encoded payload and runs it"),
    "exfiltration": ("block", "sends credentials or the environment over the network"),
    "credential-read": ("warn", "reads a credential file"),
    "persistence": ("block", "makes something run later (shell startup, cron, hooks, ...)"),
    "reverse-shell": ("block", "connects a shell to a remote host"),
    "hidden-characters": ("block", "hides invisible characters in a command"),
    "homoglyph": ("block", "uses lookalike non-ASCII characters in a host, package or command"),
    "opaque-exec": ("block", "runs the output of a command that cannot be determined"),
    "unparseable-arguments": ("block", "tool arguments that cannot be read"),
    "unparseable-command": ("block", "a command that cannot be analysed"),
}
ACTIONS = ("block", "warn", "allow")
ECOSYSTEMS = ("pypi", "npm", "crates", "go", "gem", "conda")

# Vendor-exclusive download hosts (any path) and vendor paths on shared hosts, on top
# of the baseline gate's installer allowlist.
DEFAULT_INSTALLERS: tuple[str, ...] = DEFAULT_ALLOW_HOSTS + (
    "releases.hashicorp.com", "dl.google.com", "go.dev", "golang.org", "dl.k8s.io",
    "nodejs.org/dist/", "www.python.org/ftp/", "download.docker.com", "static.rust-lang.org",
    "archive.apache.org/dist/", "downloads.apache.org", "dlcdn.apache.org", "services.gradle.org",
    "repo1.maven.org/maven2/", "files.pythonhosted.org", "registry.npmjs.org", "bootstrap.pypa.io",
    "download.pytorch.org", "repo.anaconda.com", "micro.mamba.pm", "download.microsoft.com",
    "packages.microsoft.com", "dot.net", "dotnet.microsoft.com", "cli.github.com", "cmake.org/files/",
    "apt.llvm.org", "get.jenkins.io", "artifacts.elastic.co", "pkgs.tailscale.com",
)
DEFAULT_INDEXES: tuple[str, ...] = (
    "pypi.org", "files.pythonhosted.org", "pypi.python.org", "registry.npmjs.org",
    "registry.yarnpkg.com", "crates.io", "index.crates.io", "static.crates.io", "proxy.golang.org",
    "sum.golang.org", "rubygems.org", "download.pytorch.org", "pypi.nvidia.com", "pypi.ngc.nvidia.com",
    "conda.anaconda.org", "repo.anaconda.com", "data.pyg.org", "storage.googleapis.com/jax-releases/",
    # conda channel names
    "conda-forge", "defaults", "anaconda", "main", "pytorch", "nvidia", "bioconda", "r", "msys2",
    # APT repositories of the distributions and of vendors
    "deb.debian.org", "security.debian.org", "archive.ubuntu.com", "security.ubuntu.com",
    "ports.ubuntu.com", "ppa.launchpadcontent.net", "ppa.launchpad.net", "deb.nodesource.com",
    "download.docker.com", "apt.releases.hashicorp.com", "packages.microsoft.com", "dl.google.com",
    "packages.cloud.google.com", "pkgs.k8s.io", "apt.kubernetes.io", "cli.github.com",
    "packages.gitlab.com", "apt.llvm.org", "dl.yarnpkg.com", "apt.postgresql.org", "nginx.org",
    "repo.mongodb.org", "artifacts.elastic.co", "pkgs.tailscale.com", "packages.clickhouse.com",
)
# Code-host owners trusted for download-and-run and installs from source.
DEFAULT_OWNERS: tuple[str, ...] = tuple(f"github.com/{o}" for o in (
    "rust-lang", "astral-sh", "nvm-sh", "pypa", "python", "nodejs", "npm", "golang", "golangci",
    "microsoft", "google", "facebook", "docker", "kubernetes", "kubernetes-sigs", "helm",
    "hashicorp", "cli", "actions", "homebrew", "pytorch", "huggingface", "denoland",
    "oven-sh", "pnpm", "yarnpkg", "leanprover", "ohmyzsh", "conda-forge", "mamba-org", "aws",
    "awslabs", "azure", "googleapis", "googlecloudplatform", "jdx", "nektos", "nix-community",
    "protocolbuffers", "grpc", "bazelbuild", "llvm", "apache", "elastic", "tailscale", "ollama",
    "openai", "anthropics", "modelcontextprotocol", "vercel", "cloudflare", "jqlang", "mikefarah",
    "sharkdp", "burntsushi", "junegunn", "neovim", "gohugoio", "cli-guidelines", "tree-sitter",
))


def _hosts_ok(entries: tuple[str, ...], where: str, channels: bool = True) -> None:
    for entry in entries:
        if channels and "." not in entry.split("/", 1)[0] and "/" not in entry and entry.isprintable() \
                and " " not in entry:
            continue  # a conda channel name
        try:
            _parse_entry(entry)
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}") from None


@dataclass(frozen=True)
class ScreenPolicy:
    installers: tuple[str, ...] = DEFAULT_INSTALLERS
    indexes: tuple[str, ...] = DEFAULT_INDEXES
    owners: tuple[str, ...] = DEFAULT_OWNERS
    require_https: bool = True
    allow_packages: dict[str, frozenset[str]] = field(default_factory=dict)
    deny_packages: dict[str, frozenset[str]] = field(default_factory=dict)
    rules: dict[str, str] = field(default_factory=dict)
    source: str = "the built-in policy"

    @classmethod
    def default(cls) -> ScreenPolicy:
        return _default()

    def __post_init__(self) -> None:
        _hosts_ok(self.installers, "policy trust.installers", channels=False)
        _hosts_ok(self.indexes, "policy trust.indexes")
        object.__setattr__(self, "_installers", _Allowlist(self.installers))
        names = tuple(e for e in self.indexes if "." in e.split("/", 1)[0])
        object.__setattr__(self, "_indexes", _Allowlist(names))
        object.__setattr__(self, "_channels", frozenset(e.lower() for e in self.indexes if e not in names))
        object.__setattr__(self, "_owners", frozenset(o.lower().rstrip("/") for o in self.owners))

    # -- questions the inspector asks ---------------------------------------------------
    def action(self, rule: str) -> str:
        return self.rules.get(rule) or RULES.get(rule, ("block", ""))[0]

    def trusted_owner(self, url: str) -> bool:
        key = owner_key(url)
        if not key:
            return False
        key = key.lower()
        if "/" not in key:  # a host of one's own (self-hosted GitLab): owner = first path segments
            u = split_url(url)
            key = "/".join([key] + [seg for seg in u.path.split("/") if seg][:2])
        owners: frozenset[str] = self._owners  # type: ignore[attr-defined]
        parts = key.split("/")
        return any("/".join(parts[:k]) in owners for k in range(2, len(parts) + 1))

    def _https_ok(self, url: str) -> bool:
        u = split_url(url)
        return not self.require_https or u.scheme in ("https", "ssh", "git+ssh") or "://" not in url

    def trusted_installer(self, url: str) -> bool:
        u = split_url(url)
        if u.host is None or not u.ascii_host or not self._https_ok(url):
            return False
        if "$" in url:  # part of the path is only known at run time: trust by host alone
            return u.host in self._installers.any_path  # type: ignore[attr-defined]
        return self._installers.allows(parse_url(url.removeprefix("git+"))) \
            or self.trusted_owner(url)  # type: ignore[attr-defined]

    def trusted_index(self, value: str) -> bool:
        """A package index / registry URL, host, or conda channel name."""
        v = value.strip()
        if "://" not in v and "/" not in v and "." not in v:
            return v.lower() in self._channels  # type: ignore[attr-defined]
        u = split_url(v, "https")
        if u.host is None or not u.ascii_host:
            return False  # any scheme: indexes and APT repositories are checked by their clients
        allow = self._indexes  # type: ignore[attr-defined]
        return allow.allows(parse_url(v, "https")) or allow.allows(parse_url(v.rstrip("/") + "/", "https"))

    def package_allowed(self, ecosystem: str, name: str) -> bool:
        return normalise_name(ecosystem, name) in self.allow_packages.get(ecosystem, frozenset())

    def package_denied(self, ecosystem: str, name: str) -> bool:
        return normalise_name(ecosystem, name) in self.deny_packages.get(ecosystem, frozenset())


@functools.lru_cache(maxsize=1)
def _default() -> ScreenPolicy:
    return ScreenPolicy()  # frozen: one instance serves every inspector


# --- loading ---------------------------------------------------------------------------

_TOP = {"gate", "trust", "packages", "rules"}
_GATE = {"allow_hosts", "extra_allow_hosts", "require_https", "strict_interpreters"}
_TRUST = {"installers", "extra_installers", "indexes", "extra_indexes", "owners", "extra_owners",
          "require_https"}


def load_policy(path: str | Path) -> ScreenPolicy:
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read policy file: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{p}: policy file is not UTF-8 text: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: invalid TOML: {exc}") from exc
    return policy_from_dict(data, str(p))


def _table(data: dict[str, Any], key: str, where: str, allowed: set[str] | None,
           prefix: str = "") -> dict[str, Any]:
    value = data.get(key, {})
    name = prefix + key
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: '{name}' must be a table ([{name}])")
    if allowed is not None:
        unknown = sorted(set(value) - allowed)
        if unknown:
            raise ConfigError(f"{where}: unknown key {name}.{unknown[0]} "
                              f"(expected one of {', '.join(sorted(allowed))})")
    return value


def _strings(table: dict[str, Any], key: str, where: str, name: str, hosts: bool = False
             ) -> tuple[str, ...] | None:
    if key not in table:
        return None
    value = table[key]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError(f"{where}: {name}.{key} must be a list of non-empty strings, got {value!r}")
    out = tuple(v.strip() for v in value)
    if hosts:
        _hosts_ok(out, f"{where}: {name}.{key}", channels="index" in key)
    return out


def _bool(table: dict[str, Any], key: str, where: str, name: str, default: bool) -> bool:
    value = table.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: {name}.{key} must be true or false, got {value!r}")
    return value


def _list(base: tuple[str, ...], replace: tuple[str, ...] | None, *extras: tuple[str, ...] | None
          ) -> tuple[str, ...]:
    out = replace if replace is not None else base
    for extra in extras:
        if extra:
            out = out + tuple(e for e in extra if e not in out)
    return out


def policy_from_dict(data: dict[str, Any], where: str = "policy") -> ScreenPolicy:
    unknown = sorted(set(data) - _TOP)
    if unknown:
        raise ConfigError(f"{where}: unknown section or key {unknown[0]!r} "
                          f"(expected {', '.join('[' + t + ']' for t in sorted(_TOP))})")
    gate = _table(data, "gate", where, _GATE)
    trust = _table(data, "trust", where, _TRUST)
    packages = _table(data, "packages", where, set(ECOSYSTEMS))
    rules = _table(data, "rules", where, set(RULES))
    for key in ("allow_hosts", "extra_allow_hosts"):
        _strings(gate, key, where, "gate", hosts=True)
    _bool(gate, "strict_interpreters", where, "gate", False)
    installers = _list(DEFAULT_INSTALLERS,
                       _strings(trust, "installers", where, "trust", True)
                       or _strings(gate, "allow_hosts", where, "gate", True),
                       _strings(trust, "extra_installers", where, "trust", True),
                       _strings(gate, "extra_allow_hosts", where, "gate", True))
    indexes = _list(DEFAULT_INDEXES, _strings(trust, "indexes", where, "trust", True),
                    _strings(trust, "extra_indexes", where, "trust", True))
    owners = _list(DEFAULT_OWNERS, _strings(trust, "owners", where, "trust"),
                   _strings(trust, "extra_owners", where, "trust"))
    for o in owners:
        if owner_key("https://" + o) is None or o.count("/") < 1:
            raise ConfigError(f"{where}: trust.owners entry {o!r} must look like host/owner "
                              "or host/owner/repo, e.g. github.com/astral-sh")
    https = _bool(trust, "require_https", where, "trust", _bool(gate, "require_https", where, "gate", True))
    allow: dict[str, frozenset[str]] = {}
    deny: dict[str, frozenset[str]] = {}
    for eco in ECOSYSTEMS:
        table = _table(packages, eco, where, {"allow", "deny"}, "packages.") if eco in packages else {}
        for key, out in (("allow", allow), ("deny", deny)):
            names = _strings(table, key, where, f"packages.{eco}")
            if names:
                out[eco] = frozenset(normalise_name(eco, n) for n in names)
    checked: dict[str, str] = {}
    for rule, action in rules.items():
        if action not in ACTIONS:
            raise ConfigError(f"{where}: rules.{rule} must be one of {', '.join(ACTIONS)}, got {action!r}")
        checked[rule] = action
    try:
        return ScreenPolicy(installers=installers, indexes=indexes, owners=owners, require_https=https,
                            allow_packages=allow, deny_packages=deny, rules=checked, source=where)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
