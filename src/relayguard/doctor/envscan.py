"""Find an environment's site-packages and distributions from its files alone.

``--python PATH`` is never started: running it (even ``python -c pass``)
would process the very ``.pth`` files doctor is looking for.  Instead, as the
interpreter itself would at start-up (PEP 405, ``site``):

* a ``pyvenv.cfg`` next to the executable or one directory up makes a virtual
  environment rooted there; its ``version``/``version_info`` key (or the
  ``lib/pythonX.Y`` directory) gives the version, and
  ``include-system-site-packages = true`` adds the base installation's
  site-packages, found from the ``home`` key;
* otherwise the executable's real path gives the prefix (``PREFIX/bin/python``),
  with ``PREFIX/lib/pythonX.Y/site-packages`` (and Debian's ``dist-packages``)
  and the user's ``~/.local/lib/pythonX.Y/site-packages``.
"""

from __future__ import annotations

import email.parser
import json
import os
import re
import site
import sys
from dataclasses import dataclass, field
from pathlib import Path

from relayguard.errors import ConfigError


@dataclass
class Distribution:
    name: str  # as its metadata spells it
    version: str
    path: Path  # the .dist-info (or .egg-info) directory
    site: Path  # the site directory it is installed in

    @property
    def key(self) -> str:
        return normalize(self.name)

    def direct_url(self) -> dict[str, object]:
        try:
            data = json.loads((self.path / "direct_url.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def editable_source(self) -> str | None:
        """The source directory of an editable install, else None."""
        data = self.direct_url()
        info = data.get("dir_info")
        if isinstance(info, dict) and info.get("editable") and isinstance(data.get("url"), str):
            url = str(data["url"])
            return url[len("file://"):] if url.startswith("file://") else url
        return None


@dataclass
class Environment:
    description: str  # e.g. "virtual environment /work/main/.venv (Python 3.11)"
    prefix: Path
    site_dirs: list[Path]  # in sys.path order
    venv: bool
    distributions: list[Distribution] = field(default_factory=list)

    def find(self, name: str) -> Distribution | None:
        key = normalize(name)
        return next((d for d in self.distributions if d.key == key), None)


def normalize(name: str) -> str:
    """PEP 503 normalised project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pyvenv_cfg(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out[key.strip().lower()] = value.strip()
    return out


def _version_from(cfg: dict[str, str], prefix: Path, exe: Path) -> str | None:
    for key in ("version_info", "version"):
        m = re.match(r"(\d+)\.(\d+)", cfg.get(key, ""))
        if m:
            return f"{m.group(1)}.{m.group(2)}"
    m = re.fullmatch(r"python(\d+)\.(\d+)t?", exe.name)
    if m:
        return f"{m.group(1)}.{m.group(2)}"
    found = sorted(prefix.glob("lib/python3.*/site-packages"))
    if found:
        m = re.match(r"python(\d+\.\d+)", found[-1].parent.name)
        return m.group(1) if m else None
    return None


def _prefix_site_dirs(prefix: Path, version: str | None, debian: bool) -> list[Path]:
    candidates: list[Path] = []
    versions = [version] if version else []
    for v in versions:
        candidates += [prefix / "lib" / f"python{v}" / "site-packages", prefix / "lib" / f"python{v}t" / "site-packages",
                       prefix / "lib64" / f"python{v}" / "site-packages"]
        if debian:
            candidates += [prefix / "local" / "lib" / f"python{v}" / "dist-packages",
                           prefix / "lib" / "python3" / "dist-packages", prefix / "lib" / f"python{v}" / "dist-packages"]
    if not versions:
        candidates += sorted(prefix.glob("lib/python3*/site-packages"))
    candidates.append(prefix / "Lib" / "site-packages")  # Windows layout
    out: list[Path] = []
    for c in candidates:
        if c.is_dir() and c.resolve() not in [o.resolve() for o in out]:
            out.append(c)
    return out


def from_python(python: str) -> Environment:
    """The environment of the interpreter at ``python`` (an executable, or a venv directory)."""
    exe = Path(os.path.abspath(os.path.expanduser(python)))
    if not exe.exists():
        raise ConfigError(f"--python {python}: no such file")
    cfg_path = next((p for p in ([exe / "pyvenv.cfg"] if exe.is_dir() else [exe.parent / "pyvenv.cfg",
                                                                           exe.parent.parent / "pyvenv.cfg"])
                     if p.is_file()), None)
    if cfg_path is not None:
        prefix = cfg_path.parent
        cfg = read_pyvenv_cfg(cfg_path)
        version = _version_from(cfg, prefix, exe)
        dirs = _prefix_site_dirs(prefix, version, debian=False)
        if cfg.get("include-system-site-packages", "false").lower() == "true" and cfg.get("home"):
            home = Path(cfg["home"])
            base = home.parent if home.name in ("bin", "Scripts") else home
            dirs += [d for d in _base_site_dirs(base, version) if d not in dirs]
        env = Environment(f"virtual environment {prefix} (Python {version or '?'})", prefix, dirs, True)
    else:
        if exe.is_dir():
            raise ConfigError(f"--python {python}: a directory without pyvenv.cfg; give the interpreter's path")
        real = exe.resolve()
        prefix = real.parent.parent if real.parent.name == "bin" else real.parent
        version = _version_from({}, prefix, real)
        dirs = _base_site_dirs(prefix, version)
        env = Environment(f"installation {prefix} (Python {version or '?'})", prefix, dirs, False)
    if not env.site_dirs:
        raise ConfigError(f"--python {python}: found no site-packages directory under {env.prefix}")
    env.distributions = distributions(env.site_dirs)
    return env


def _base_site_dirs(prefix: Path, version: str | None) -> list[Path]:
    dirs = _prefix_site_dirs(prefix, version, debian=True)
    if version:
        user = Path(os.path.expanduser("~")) / ".local" / "lib" / f"python{version}" / "site-packages"
        if user.is_dir():
            dirs.append(user)
    return dirs


def current() -> Environment:
    """The environment this process runs in: the site directories ``site`` processed at start."""
    dirs = [Path(p) for p in site.getsitepackages() if os.path.isdir(p)]
    user = site.getusersitepackages() if site.ENABLE_USER_SITE else None
    if user and os.path.isdir(user):
        dirs.append(Path(user))
    venv = sys.prefix != sys.base_prefix
    kind = "virtual environment" if venv else "installation"
    env = Environment(f"{kind} {sys.prefix} (Python {sys.version_info[0]}.{sys.version_info[1]}, "
                      f"the one relayguard runs in)", Path(sys.prefix), dirs, venv)
    env.distributions = distributions(dirs)
    return env


def distributions(site_dirs: list[Path]) -> list[Distribution]:
    """Every ``*.dist-info`` and ``*.egg-info`` in the site directories, read from its metadata."""
    out: list[Distribution] = []
    parser = email.parser.HeaderParser()
    for site_dir in site_dirs:
        try:
            entries = sorted(site_dir.iterdir())
        except OSError:
            continue
        for entry in entries:
            if entry.suffix not in (".dist-info", ".egg-info"):
                continue
            meta = entry / ("METADATA" if entry.suffix == ".dist-info" else "PKG-INFO")
            if entry.is_file():  # a single-file egg-info
                meta = entry
            name = version = None
            try:
                headers = parser.parsestr(meta.read_text(encoding="utf-8", errors="replace"))
                name, version = headers.get("Name"), headers.get("Version")
            except OSError:
                pass
            if not name or not version:  # fall back on the directory name: name-version.dist-info
                stem, _, ver = entry.stem.partition("-")
                name, version = name or stem, version or ver.split("-")[0] or "?"
            out.append(Distribution(str(name).strip(), str(version).strip(), entry, site_dir))
    return out
