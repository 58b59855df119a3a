"""Package-manager commands -> what they install, from where.

``parse_install(argv)`` understands pip / pip3 / ``python -m pip`` / uv (``pip
install``, ``add``, ``tool install``, ``run --with``, ``uvx``) / poetry / pdm /
pipx / conda / mamba / micromamba / npm / npx / yarn / pnpm / bun / cargo / go /
gem / bundle.  For each package it reports the ecosystem, the registry name
(when there is one), where it comes from (``registry``, ``vcs``, ``url``,
``path``) and, for npm aliases (``x@npm:y``), the alias.  Index and registry
options (``--index-url``, ``--registry``, ``-c channel``, ``--source``,
``cargo --index``) are collected so the screen can judge them.

Only the command line is read here; package names inside requirement files
that the same script writes are parsed by :func:`requirement_lines`.
"""

from __future__ import annotations

from dataclasses import dataclass

from relayguard.shell import program_name

__all__ = ["Install", "Package", "parse_install", "requirement_lines", "normalise_name"]


@dataclass(frozen=True, slots=True)
class Package:
    ecosystem: str  # pypi, npm, crates, go, gem, conda
    spec: str  # as written
    name: str | None  # registry name; None for vcs/url/path sources
    source: str = "registry"  # registry | vcs | url | path
    url: str | None = None  # for vcs/url sources (github:owner/repo is expanded)
    alias: str | None = None  # npm `alias@npm:name`: the alias


@dataclass(frozen=True, slots=True)
class Install:
    manager: str
    ecosystem: str
    packages: tuple[Package, ...] = ()
    indexes: tuple[tuple[str, str], ...] = ()  # (option, URL / host / channel)
    requirement_files: tuple[str, ...] = ()
    runs: bool = False  # npx / uvx / pipx run: the package runs right away


_PEP503 = str.maketrans({"_": "-", ".": "-"})


def normalise_name(ecosystem: str, name: str) -> str:
    """PEP 503 for PyPI (``Foo_Bar.baz`` -> ``foo-bar-baz``), lower case elsewhere
    (Go module paths keep their case)."""
    if ecosystem in ("pypi", "conda"):
        n = name.lower().translate(_PEP503)
        while "--" in n:
            n = n.replace("--", "-")
        return n
    if ecosystem == "go":
        return name
    return name.lower()


# --- option tables ---------------------------------------------------------------------

_LONG_VALUE = frozenset("""
--requirement --constraint --editable --index-url --extra-index-url --find-links --target --prefix
--root --src --python-version --platform --implementation --abi --no-binary --only-binary
--progress-bar --trusted-host --cert --client-cert --cache-dir --log --log-file --proxy --retries
--timeout --exists-action --upgrade-strategy --config-settings --global-option --install-option
--report --python --keyring-provider --root-user-action --use-feature --use-deprecated --dest
--wheel-dir --index --default-index --index-strategy --extra --group --upgrade-package
--reinstall-package --no-build-package --resolution --prerelease --exclude-newer --link-mode
--with --with-requirements --with-editable --from --refresh-package --python-platform
--torch-backend --override --build-constraint --directory --project --config-file --optional
--package --script --tag --branch --rev --marker --bounds --env-file --spec --pip-args --suffix
--name --channel --file --features --bin --example --target-dir --profile --jobs --vers --version
--git --path --registry --rename --manifest-path --workspace --filter --dir --cwd --otp --omit
--include --before --loglevel --userconfig --globalconfig --install-strategy --install-dir
--bindir --source --extras --lockfile --ref --github --config
""".split())
_SHORT_VALUE = {
    "pypi": frozenset("-r -c -e -i -f -t -d -w -C -p -P -G -E".split()),
    "conda": frozenset("-c -n -p".split()),
    "npm": frozenset("-w -C -F -p".split()),
    "crates": frozenset("-F -j -p -Z".split()),
    "go": frozenset("-tags -modfile -ldflags -gcflags -o -C -p -mod".split()),
    "gem": frozenset("-v -s -i -n -g".split()),
}
_INDEX_OPTS = frozenset("""
-i --index-url --extra-index-url -f --find-links --index --default-index --trusted-host
--registry --channel --source --pip-args
""".split())

# program -> (ecosystem, {subcommand: mode}); mode: install | run | with | tool
_MANAGERS: dict[str, tuple[str, dict[str, str]]] = {
    "pip": ("pypi", {"install": "install", "download": "install", "wheel": "install"}),
    "uv": ("pypi", {"add": "install", "pip": "pip", "tool": "tool", "run": "with"}),
    "uvx": ("pypi", {"": "run"}),
    "poetry": ("pypi", {"add": "install"}),
    "pdm": ("pypi", {"add": "install"}),
    "pipx": ("pypi", {"install": "install", "run": "run", "inject": "inject"}),
    "easy_install": ("pypi", {"": "install"}),
    "conda": ("conda", {"install": "install", "create": "install", "update": "install"}),
    "npm": ("npm", {k: "install" for k in ("install", "i", "add", "in", "ins", "inst", "insta",
                                           "instal", "isnt", "isntall", "update", "up",
                                           "upgrade", "install-test", "it")}
            | {"exec": "run", "x": "run"}),
    "npx": ("npm", {"": "run"}),
    "yarn": ("npm", {"add": "install", "global": "global", "dlx": "run", "up": "install",
                     "upgrade": "install"}),
    "pnpm": ("npm", {"add": "install", "install": "install", "i": "install", "dlx": "run",
                     "update": "install", "up": "install"}),
    "pnpx": ("npm", {"": "run"}),
    "bun": ("npm", {"add": "install", "install": "install", "i": "install", "x": "run",
                    "update": "install"}),
    "bunx": ("npm", {"": "run"}),
    "cargo": ("crates", {"install": "install", "add": "install", "binstall": "install"}),
    "go": ("go", {"get": "install", "install": "install", "run": "run"}),
    "gem": ("gem", {"install": "install", "specific_install": "install"}),
    "bundle": ("gem", {"add": "install"}),
}
_ALIASES = {"mamba": "conda", "micromamba": "conda", "cargo-binstall": "cargo"}


def _manager(argv: tuple[str, ...]) -> tuple[str, int] | None:
    """(manager, index of the first word after the program) for argv."""
    name = program_name(argv[0])
    if name.startswith("pip") and all(c in "0123456789." for c in name[3:]):
        return "pip", 1
    if name.startswith("python") or name.startswith("pypy"):
        for i in range(1, min(len(argv) - 1, 4)):
            if argv[i] == "-m" and argv[i + 1] in ("pip", "pip3", "uv", "pipx", "poetry"):
                return argv[i + 1].rstrip("3"), i + 2
            if argv[i] in ("-mpip", "-mpip3"):
                return "pip", i + 1
        return None
    name = _ALIASES.get(name, name)
    if name == "cargo-binstall":
        return "cargo", 1
    return (name, 1) if name in _MANAGERS else None


def _split_opt(word: str) -> tuple[str, str | None]:
    if word.startswith("--") and "=" in word:
        key, _, value = word.partition("=")
        return key, value
    return word, None


def _words(argv: tuple[str, ...], start: int, eco: str) -> tuple[list[str], list[tuple[str, str]]]:
    """Positional words and (option, value) pairs from argv[start:] (stops at ``--``)."""
    short = _SHORT_VALUE[eco]
    positional: list[str] = []
    options: list[tuple[str, str]] = []
    i = start
    n = len(argv)
    while i < n:
        word = argv[i]
        if word == "--":
            positional.extend(argv[i + 1:])
            break
        if word.startswith("-") and len(word) > 1:
            key, value = _split_opt(word)
            if value is None and (key in _LONG_VALUE or key in short) and i + 1 < n:
                value = argv[i + 1]
                i += 1
            elif value is None and len(key) > 2 and key[1] != "-" and key[:2] in short \
                    and eco != "go":
                value = key[2:]  # -rrequirements.txt, -ihttps://...
                key = key[:2]
            options.append((key, value or ""))
        else:
            positional.append(word)
        i += 1
    return positional, options


# --- package specs ------------------------------------------------------------------------

_VCS_PREFIXES = ("git+", "hg+", "svn+", "bzr+", "git://", "git@", "ssh://")
_GIT_HOSTS = {"github": "github.com", "gitlab": "gitlab.com", "bitbucket": "bitbucket.org",
              "gist": "gist.github.com"}
_ARCHIVES = (".whl", ".tar.gz", ".tgz", ".zip", ".tar.bz2", ".tar.xz", ".egg", ".gem", ".crate")


def _is_local(spec: str) -> bool:
    return spec.startswith((".", "/", "~", "file:", "link:", "workspace:", "portal:", "$")) \
        or spec in (".", "..") or (len(spec) > 1 and spec[1] == ":" and spec[0].isalpha())


def _pypi_spec(spec: str, eco: str = "pypi") -> Package:
    s = spec.strip()
    if " @ " in s or "@" in s and ("://" in s.split("@", 1)[1]):
        name, _, url = s.partition("@")
        url = url.strip()
        return Package(eco, spec, None, "vcs" if url.startswith(_VCS_PREFIXES) else "url", url)
    if s.startswith(_VCS_PREFIXES):
        return Package(eco, spec, None, "vcs", s)
    if "://" in s:
        return Package(eco, spec, None, "url", s)
    if _is_local(s) or s.endswith(_ARCHIVES) or "/" in s:
        return Package(eco, spec, None, "path")
    end = len(s)
    for k, c in enumerate(s):
        if c in "[=<>!~;(, " or (eco == "conda" and c == ":"):
            end = k
            break
    name = s[:end]
    if eco == "conda" and "::" in s:
        name = s.split("::", 1)[1]
        for k, c in enumerate(name):
            if c in "=<>!~ ":
                name = name[:k]
                break
    return Package(eco, spec, name or None, "registry" if name else "path")


def _npm_spec(spec: str) -> Package:
    s = spec.strip()
    if s.startswith(_VCS_PREFIXES) or "://" in s:
        return Package("npm", spec, None, "vcs" if s.startswith(_VCS_PREFIXES) else "url", s)
    if _is_local(s) or s.endswith(_ARCHIVES):
        return Package("npm", spec, None, "path")
    head, colon, rest = s.partition(":")
    if colon and head in _GIT_HOSTS:
        return Package("npm", spec, None, "vcs", f"https://{_GIT_HOSTS[head]}/{rest.split('#')[0]}")
    at = s.find("@", 1)
    name, version = (s[:at], s[at + 1:]) if at > 0 else (s, "")
    if version.startswith("npm:"):
        real = _npm_spec(version[4:])
        return Package("npm", spec, real.name, real.source, real.url, alias=name)
    if not name.startswith("@") and "/" in name:
        # owner/repo is GitHub shorthand
        return Package("npm", spec, None, "vcs", f"https://github.com/{name.split('#')[0]}")
    if version.startswith(("github:", "git+", "http:", "https:", "file:")) or "://" in version:
        inner = _npm_spec(version)
        return Package("npm", spec, None, inner.source, inner.url)
    return Package("npm", spec, name or None)


def _go_spec(spec: str) -> Package:
    path = spec.split("@", 1)[0]
    if _is_local(path) or "/" not in path and "." not in path:
        return Package("go", spec, None, "path")
    return Package("go", spec, path.rstrip("/."))


def _cargo_spec(spec: str) -> Package:
    if _is_local(spec) or "/" in spec:
        return Package("crates", spec, None, "path")
    return Package("crates", spec, spec.split("@", 1)[0])


def _gem_spec(spec: str) -> Package:
    if "://" in spec or spec.startswith("git@"):
        return Package("gem", spec, None, "vcs", spec)
    if _is_local(spec) or spec.endswith(".gem") or "/" in spec:
        return Package("gem", spec, None, "path")
    return Package("gem", spec, spec.split(":", 1)[0])


_SPEC = {"pypi": _pypi_spec, "npm": _npm_spec, "go": _go_spec, "crates": _cargo_spec,
         "gem": _gem_spec, "conda": lambda s: _pypi_spec(s, "conda")}


def requirement_lines(text: str) -> list[Package]:
    """Packages of a requirements.txt the script writes itself."""
    out: list[Package] = []
    for line in text.splitlines()[:2000]:
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith(("-e ", "--editable ")):
            line = line.split(None, 1)[1]
        elif line.startswith("-"):
            continue
        out.append(_pypi_spec(line))
    return out


# --- the parser --------------------------------------------------------------------------

def parse_install(argv: tuple[str, ...]) -> Install | None:
    """What ``argv`` (wrappers stripped) installs, or None for other commands."""
    if not argv:
        return None
    found = _manager(argv)
    if found is None:
        return None
    manager, start = found
    eco, subs = _MANAGERS[manager]
    positional, options = _words(argv, start, eco)
    if "" in subs:
        mode = subs[""]
        words = positional
    else:
        if not positional:
            return None
        mode = subs.get(positional[0], "")
        words = positional[1:]
        if mode == "pip":  # uv pip install
            if not words or words[0] not in ("install", "sync", "compile"):
                return None
            mode, words = ("install", words[1:]) if words[0] == "install" else ("", [])
        elif mode == "tool":  # uv tool install / uv tool run
            if not words or words[0] not in ("install", "run"):
                return None
            mode, words = ("install" if words[0] == "install" else "run"), words[1:]
        elif mode == "global":  # yarn global add
            if not words or words[0] != "add":
                return None
            mode, words = "install", words[1:]
        elif mode == "inject":  # pipx inject VENV pkg...
            mode, words = "install", words[1:]
        if not mode:
            return None
    if manager == "go" and mode == "run":
        words = [w for w in words[:1] if "@" in w]  # go run pkg@version fetches it
    elif mode == "run":
        words = words[:1]
    elif mode == "with":
        words = []
    specs: list[str] = list(words)
    indexes: list[tuple[str, str]] = []
    req_files: list[str] = []
    for key, value in options:
        if key in ("-e", "--editable", "--with", "--with-editable", "--from", "--spec", "-p",
                   "--package") and value:
            if key in ("-p", "--package") and manager not in ("npx", "npm", "pnpx", "pnpm"):
                continue  # uv -p is --python, cargo -p is a workspace member
            specs.extend(v for v in value.split(",") if v) if key == "--with" else specs.append(value)
        elif key in ("-r", "--requirement", "--with-requirements", "--file") and value:
            req_files.append(value)
        elif key in ("-c", "--channel") and eco == "conda" and value:
            indexes.append((key, value))
        elif key in _INDEX_OPTS and value:
            indexes.append((key, value))
        elif key == "--index" and value:
            indexes.append((key, value))
        elif key in ("--git", "--github") and value:
            url = value if "://" in value or value.startswith("git@") else f"https://github.com/{value}"
            specs = [s for s in specs if not s.startswith("-")]
            return Install(manager, eco, tuple(Package(eco, s, None, "vcs", url) for s in specs)
                           or (Package(eco, value, None, "vcs", url),), tuple(indexes),
                           tuple(req_files), mode == "run")
        elif key == "--path" and value and eco in ("crates", "gem"):
            return Install(manager, eco, (Package(eco, value, None, "path"),), tuple(indexes),
                           tuple(req_files), False)
        elif key == "--config" and value and eco == "crates" and ("index" in value or "replace" in value):
            indexes.append((key, value))
    parse = _SPEC[eco]
    packages = tuple(parse(s) for s in specs if s and not s.startswith("-"))
    if not packages and not indexes and not req_files:
        return None
    return Install(manager, eco, packages, tuple(indexes), tuple(req_files), mode == "run")
