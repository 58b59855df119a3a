"""The check list ``relayguard doctor`` runs against one environment.

1. ``pth``/``startup``: ``.pth`` files and sitecustomize modules that do more than set up imports;
2. ``advisory``: known-compromised releases (and their indicator files);
3. ``record``: installed files that differ from their wheel's RECORD (relayguard's own; all with --all);
4. ``lock``: distributions installed outside the lock file (uv.lock);
5. ``permissions``: key and vault files others can read, in the guard's data directory;
6. ``egress``: a gateway configuration whose egress allowlist and providers disagree.
"""

from __future__ import annotations

import os
import stat
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from relayguard.doctor import Problem, advisories, pth, record
from relayguard.doctor.envscan import Environment, normalize
from relayguard.errors import ConfigError

_SECRET_SUFFIXES = (".key", ".pem")
_SECRET_PREFIXES = ("vault.db", "signing")


@dataclass
class Options:
    all_records: bool = False
    lock: str | None = None
    advisories: str | None = None
    vault_dir: str | None = None
    gateway_config: str | None = None


@dataclass
class Report:
    environment: Environment
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what was checked, for the readable output

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, object]:
        return {"ok": self.ok, "problems": [p.to_json() for p in self.problems]}


def run(env: Environment, options: Options) -> Report:
    report = Report(env)
    check_startup_files(env, report)
    adv = advisories.load(options.advisories)
    report.problems += advisories.check(env, adv)
    report.notes.append(f"advisories: {len(adv.advisories)} known-compromised projects ({'; '.join(adv.sources)})")
    check_records(env, options.all_records, report)
    check_lock(env, options.lock, report)
    check_permissions(Path(options.vault_dir) if options.vault_dir else default_vault_dir(), report)
    if options.gateway_config:
        check_egress(options.gateway_config, report)
    return report


def check_startup_files(env: Environment, report: Report) -> None:
    count = 0
    for site in env.site_dirs:
        problems, n = pth.scan_site_dir(site, env.site_dirs)
        report.problems += problems
        count += n
    report.notes.append(f"startup files: {count} .pth/sitecustomize file(s) judged line by line")


def check_records(env: Environment, all_records: bool, report: Report) -> None:
    own = env.find("relayguard")
    targets = [d for d in env.distributions if d.path.suffix == ".dist-info"] if all_records else \
        [own] if own is not None else []
    system = [d for d in targets if record.system_managed(d)]
    targets = [d for d in targets if d not in system]
    if own is not None and all_records:  # relayguard's own first
        targets.sort(key=lambda d: d is not own)
    recorded = record.recorded_paths(env.distributions)
    hashed = 0
    for dist in targets:
        problems, n = record.verify(dist, recorded)
        report.problems += problems
        hashed += n
    what = f"{len(targets)} distribution(s)" if all_records else "relayguard's own" if own else \
        "nothing (relayguard is not installed here; --all checks every distribution)"
    report.notes.append(f"RECORD hashes: {what}, {hashed} file(s) hashed")
    if system:
        report.notes.append(f"RECORD hashes: {len(system)} distribution(s) installed by the system package "
                            "manager left to it (debsums or dpkg --verify)")
    if own is not None and own.editable_source():
        report.notes.append(f"relayguard is an editable install from {own.editable_source()}: its source "
                            "files are not in RECORD (check them with git)")


def find_project_lock(env: Environment) -> Path | None:
    """relayguard's own uv.lock, for an environment relayguard is installed in: next to the source
    of an editable relayguard, or next to the environment (``PROJECT/.venv``) when it is relayguard's."""
    own = env.find("relayguard")
    if own is None:
        return None
    candidates = [env.prefix.parent / "uv.lock"]
    if own.editable_source():
        candidates.insert(0, Path(own.editable_source() or ".") / "uv.lock")
    for lock in candidates:
        try:
            data = tomllib.loads(lock.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError):
            continue
        for pkg in data.get("package", []):
            source = pkg.get("source", {})
            if pkg.get("name") == "relayguard" and ("editable" in source or "virtual" in source):
                return lock
    return None


def check_lock(env: Environment, lock: str | None, report: Report) -> None:
    path = Path(lock) if lock else find_project_lock(env)
    if path is None:
        report.notes.append("lock: no relayguard uv.lock found for this environment (give one with --lock)")
        return
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"--lock {lock}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"--lock {path}: not TOML ({exc})") from None
    locked: dict[str, set[str]] = {}
    for pkg in data.get("package", []):
        if isinstance(pkg, dict) and pkg.get("name"):
            locked.setdefault(normalize(str(pkg["name"])), set()).add(str(pkg.get("version", "")))
    if not locked:
        raise ConfigError(f"--lock {path}: no [[package]] entries (is it a uv.lock?)")
    for dist in env.distributions:
        versions = locked.get(dist.key)
        if versions is None:
            tooling = " (installer tooling `python -m venv` adds: make the environment with uv or " \
                "`--without-pip` to keep it out)" if dist.key in ("pip", "setuptools", "wheel") else ""
            report.problems.append(Problem("lock", str(dist.path), f"{dist.name} {dist.version} is installed but "
                                           f"not in {path}: it entered the environment outside the lock{tooling}"))
        elif dist.version not in versions and "" not in versions:
            report.problems.append(Problem("lock", str(dist.path), f"{dist.name} {dist.version} is installed but "
                                           f"{path} pins {', '.join(sorted(versions))}"))
    report.notes.append(f"lock: {len(env.distributions)} distribution(s) compared with {path} "
                        f"({len(locked)} locked packages)")


def default_vault_dir() -> Path:
    from relayguard.vault.store import default_dir

    return default_dir()


def _is_secret(path: Path) -> bool:
    name = path.name
    if name.endswith(_SECRET_SUFFIXES) or name.startswith(_SECRET_PREFIXES):
        return True
    try:
        if path.stat().st_size <= 16384:
            head = path.read_bytes()[:4096]
            return b"-----BEGIN" in head and b"PRIVATE KEY" in head
    except OSError:
        pass
    return False


def check_permissions(vault_dir: Path, report: Report) -> None:
    """Key and vault files must be private to their owner (0600): the vault key decrypts every
    vaulted secret, and a signing key lets anyone forge the guard's log heads or envelopes."""
    if not vault_dir.is_dir():
        report.notes.append(f"key files: no data directory at {vault_dir}")
        return
    checked = 0
    for root, dirs, files in os.walk(vault_dir):
        here = Path(root)
        mode = stat.S_IMODE(here.stat().st_mode)
        if mode & 0o022:
            report.problems.append(Problem("permissions", str(here), f"directory is writable by "
                                           f"{_who(mode & 0o022)} (mode {mode:04o}): they can replace the keys "
                                           f"in it; run: chmod go-w {here}"))
        if len(here.relative_to(vault_dir).parts) >= 3:
            dirs[:] = []
        for name in files:
            path = here / name
            if not path.is_file() or not _is_secret(path):
                continue
            checked += 1
            mode = stat.S_IMODE(path.stat().st_mode)
            if mode & 0o077:
                report.problems.append(Problem("permissions", str(path), f"key or vault file readable or writable "
                                               f"by {_who(mode & 0o077)} (mode {mode:04o}); run: chmod 600 {path}"))
    report.notes.append(f"key files: {checked} key/vault file(s) in {vault_dir}")


def _who(bits: int) -> str:
    return " and ".join(w for w, mask in (("its group", 0o070), ("everyone", 0o007)) if bits & mask)


def _host_port(url: str) -> tuple[str, int | None]:
    parts = urlsplit(url if "://" in url else f"//{url}")
    port = parts.port
    if port is None and parts.scheme in ("http", "https"):
        port = 443 if parts.scheme == "https" else 80
    return (parts.hostname or "").lower().rstrip("."), port


def _allows(entry: str, host: str, port: int | None) -> bool:
    e_host, e_port = _host_port(entry)
    if "://" not in entry and ":" not in entry.split("]")[-1]:
        e_port = None  # a bare host allows any port
    if e_port is not None and port is not None and e_port != port:
        return False
    if e_host.startswith("*."):
        return host.endswith(e_host[1:])
    return host == e_host or e_host == "*"


def check_egress(config: str, report: Report) -> None:
    """Every ``[[provider]] base_url`` host must be in the egress allowlist, and the allowlist
    must allow nothing else.  The allowlist is ``[egress] allow = [...]`` (or ``allowlist``/``hosts``):
    host names, ``*.domain`` wildcards, ``host:port`` or URLs.  No allowlist: nothing to check."""
    try:
        data = tomllib.loads(Path(config).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"--gateway-config {config}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"--gateway-config {config}: not TOML ({exc})") from None
    egress = data.get("egress")
    allow = None
    if isinstance(egress, dict):
        allow = next((egress[k] for k in ("allow", "allowlist", "hosts") if k in egress), None)
    elif isinstance(data.get("egress_allowlist"), list):
        allow = data["egress_allowlist"]
    if allow is None:
        report.notes.append(f"egress: {config} defines no egress allowlist, nothing to compare")
        return
    if not isinstance(allow, list) or not all(isinstance(a, str) for a in allow):
        raise ConfigError(f"--gateway-config {config}: the egress allowlist must be a list of strings")
    providers = data.get("provider", data.get("providers", []))
    urls = [(str(p.get("name", p.get("base_url"))), str(p["base_url"])) for p in providers
            if isinstance(p, dict) and p.get("base_url")]
    targets = [(name, *_host_port(url)) for name, url in urls]
    for name, host, port in targets:
        if not any(_allows(entry, host, port) for entry in allow):
            report.problems.append(Problem("egress", config, f"provider {name} ({host}) is not in the egress "
                                           "allowlist: the gateway would be configured to call a host its own "
                                           "allowlist forbids"))
    for entry in allow:
        e_host = _host_port(entry)[0]
        too_wide = e_host == "*" or (e_host.startswith("*.") and e_host.count(".") < 2)
        if too_wide or not any(_allows(entry, host, port) for _, host, port in targets):
            report.problems.append(Problem("egress", config, f"the egress allowlist allows {entry!r}, "
                                           + ("which matches far more than the configured providers" if too_wide
                                              else "which no configured provider uses")))
    report.notes.append(f"egress: {len(targets)} provider(s) against {len(allow)} allowlist entr(y/ies) in {config}")
