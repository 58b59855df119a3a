"""Writes that outlive the command: persistence, package-manager configuration,
dependency manifests.

* :func:`write_actions` judges one file write (a Write tool call, ``> file``,
  ``tee -a file``, a heredoc, ``curl -o file``): to a shell startup file, cron,
  ``authorized_keys``, a systemd unit, a launchd job, a git hook or git
  configuration, Python startup code (``.pth``, ``sitecustomize.py``), the
  dynamic loader, sudoers; to package-manager configuration (pip.conf, .npmrc,
  .yarnrc, .pypirc, .cargo/config, an APT source); or to a dependency manifest
  (requirements.txt, package.json, Cargo.toml, go.mod, pyproject.toml), whose
  packages are then judged like an install.
* What is persisted is judged, not the fact of persisting: ``export
  PATH=...`` in ``~/.bashrc`` is ordinary, a line that downloads, connects,
  decodes, aliases ``sudo`` or sets ``LD_PRELOAD`` is not, and content that
  cannot be known (``cp x ~/.bashrc``) is treated as risky (fail closed).
* :func:`config_commands`: ``npm config set registry``, ``pip config set``,
  ``poetry source add``, ``gem sources --add``, ``conda config --add channels``,
  ``go env -w GOPROXY``, ``git config core.hooksPath`` / ``url.*.insteadOf`` /
  command-valued keys; :func:`env_overrides`: ``PIP_INDEX_URL=...`` and friends.
"""

from __future__ import annotations

import json
from typing import Callable

import re2

from relayguard import shell
from relayguard.inspectors.gate_downloads import DOWNLOADERS
from relayguard.screen.flow import NETWORK_SENDERS
from relayguard.screen.installs import Install, Package, _npm_spec, _pypi_spec, requirement_lines
from relayguard.screen.model import Action, quote
from relayguard.screen.network import destinations
from relayguard.screen.sensitive import fold_home, is_local_host, persistence_kind, pm_config_kind
from relayguard.screen.urls import display, split_url

__all__ = ["Screen", "config_commands", "cron_lines", "env_overrides", "judge_content", "write_actions"]

# script text, depth -> (actions, commands)
Screen = Callable[[str, int], tuple[list[Action], tuple[shell.Command, ...]]]

HIGH_RULES = frozenset({"download-exec", "install-source", "index-override", "pm-config", "typosquat",
                        "package-alias", "encoded-exec", "exfiltration", "persistence", "reverse-shell",
                        "hidden-characters", "homoglyph", "opaque-exec", "unparseable-command"})
_URL = re2.compile(r"""(?:https?|git\+https?|ssh)://[^\s'"<>`)\]},;]+""")
_HIJACK = re2.compile(
    r"(?m)^\s*(?:export\s+)?(?:LD_PRELOAD|LD_AUDIT|DYLD_INSERT_LIBRARIES|PROMPT_COMMAND|BASH_ENV|ENV"
    r"|PYTHONSTARTUP|NODE_OPTIONS|http_proxy|https_proxy|HTTP_PROXY|HTTPS_PROXY|ALL_PROXY|all_proxy)\s*="
    r"|\btrap\s+.*\bDEBUG\b|(?m)^\s*alias\s+(?:sudo|su|ssh|scp|git|ls|cd|cat|curl|wget|pip|pip3"
    r"|npm|npx|python|python3|node|gpg|passwd|apt|apt-get|brew)\s*="
    r"|(?m)^\s*(?:function\s+)?(?:sudo|su|ssh|git|passwd)\s*\(\s*\)"
    r"|(?m)^\s*(?:export\s+)?PATH\s*=\s*['\"]?(?:/tmp|/var/tmp|/dev/shm|\.)[/:]")
_NPM_EXEC = re2.compile(r"(?mi)^\s*(?:npm_config_)?(?:script[-_]shell|node[-_]options|onload[-_]script|git|shell|editor|"
                        r"yarnPath|npmPath)\s*[=:]\s*\S+")
_CRON_TIME = re2.compile(r"^\s*(?:@\w+|(?:\S+\s+){5})")


def _download_urls(cmds: tuple[shell.Command, ...]) -> tuple[list[str], bool]:
    urls: list[str] = []
    network = False
    for c in cmds:
        if c.argv and (c.program in DOWNLOADERS or c.program in NETWORK_SENDERS):
            network = True
            found, unknown = destinations(c)
            urls += [u for u in found if not is_local_host(split_url(u).host)]
            if unknown:
                return urls, True
    return urls, network and not urls


def judge_content(content: str | None, kind: str, where: str, screen: Screen, depth: int,
                  shell_text: bool = True) -> list[Action]:
    """Actions for persisting ``content`` (shell text) in ``where`` (a ``kind``)."""
    if content is None:
        return [Action("persistence", f"writes content that cannot be determined to {kind} ({where})",
                       why="what will run later cannot be checked")]
    text = content if shell_text else ""
    out: list[Action] = []
    nested, cmds = screen(text, depth + 1) if text.strip() else ([], ())
    risky = [a for a in nested if a.rule in HIGH_RULES]
    out += risky
    urls, unknown = _download_urls(cmds)
    if risky or urls or unknown:
        if urls:
            desc = "connects to " + ", ".join(dict.fromkeys(display(u) for u in urls[:3]))
        elif unknown:
            desc = "uses the network"
        else:
            desc = risky[0].what
        out.append(Action("persistence", f"adds to {kind} ({where}) a command that {desc}",
                          urls=tuple(urls) if not risky and not unknown else ()))
    m = _HIJACK.search(content)
    if m:
        out.append(Action("persistence", f"adds {quote(m.group(0).strip(), 40)} to {kind} ({where}), "
                                         "which can take over later commands"))
    return out


def cron_lines(content: str, system: bool = False) -> str:
    """The commands of crontab lines (``system``: /etc/crontab format, with a user field)."""
    lines = []
    for line in content.splitlines()[:500]:
        s = line.strip()
        if not s or s.startswith("#") or "=" in s.split(" ", 1)[0]:
            continue
        m = _CRON_TIME.match(s)
        rest = s[m.end():] if m else s
        parts = rest.split(None, 1)
        if system and len(parts) > 1:
            rest = parts[1]  # the user field
        lines.append(rest)
    return "\n".join(lines)


_SSH_EXEC = re2.compile(r"(?mi)^\s*(?:ProxyCommand|LocalCommand|KnownHostsCommand|Match\s+exec)\s*=?\s*(.+)$")
_UNIT_EXEC = re2.compile(r"(?m)^\s*Exec[A-Za-z]*\s*=\s*[-@+!:]*(.+)$")
_PLIST_STRING = re2.compile(r"<string>([^<]+)</string>")
_GIT_EXEC_KEYS = re2.compile(
    r"(?mi)^\s*(hookspath|fsmonitor|sshcommand|pager|editor|askpass|textconv|clean|smudge|program"
    r"|helper|process)\s*=\s*(.+)$|(?mi)^\s*([\w.-]+)\s*=\s*!(.+)$")


def _manifest(path: str, content: str) -> list[Package]:
    name = path.rsplit("/", 1)[-1].lower()
    if (name.startswith(("requirements", "constraints")) and name.endswith((".txt", ".in"))):
        return requirement_lines(content)
    if name == "package.json":
        pairs: list[tuple[str, str]] = []
        try:
            data = json.loads(content)
            for key in ("dependencies", "devDependencies", "optionalDependencies", "peerDependencies"):
                deps = data.get(key) if isinstance(data, dict) else None
                if isinstance(deps, dict):
                    pairs += [(k, v) for k, v in deps.items() if isinstance(v, str)]
        except (ValueError, AttributeError):
            pairs = [(m.group(1), m.group(2)) for m in re2.finditer(
                r'"(@?[\w.-]+(?:/[\w.-]+)?)"\s*:\s*"([\^~<>=*0-9a-z:+./#-]+)"', content[:65536])
                if m.group(1) not in ("name", "version", "main", "type", "license", "description")]
        return [_npm_spec(f"{k}@{v}") for k, v in pairs[:500]]
    if name == "go.mod":
        return [Package("go", m.group(1), m.group(1)) for m in re2.finditer(
            r"(?m)^\s*(?:require\s+)?([a-z0-9.-]+\.[a-z]{2,}/[\w./-]+)\s+v[0-9]", content[:65536])][:500]
    if name == "cargo.toml":
        pkgs = []
        for m in re2.finditer(r'(?m)^\s*([A-Za-z0-9_-]+)\s*=\s*(?:"[^"]*"|\{([^}\n]*)\})', content[:65536]):
            table = m.group(2) or ""
            git = re2.search(r'git\s*=\s*"([^"]+)"', table)
            if m.group(1) in ("name", "version", "edition", "authors", "license", "description"):
                continue
            pkgs.append(Package("crates", m.group(0), None, "vcs", git.group(1)) if git
                        else Package("crates", m.group(1), m.group(1)))
        return pkgs[:500]
    if name == "pyproject.toml":
        out = []
        for block in re2.finditer(r"(?s)dependencies\s*=\s*\[([^\]]*)\]", content[:65536]):
            out += [_pypi_spec(m.group(1)) for m in re2.finditer(r"""["']([^"'\n]+)["']""", block.group(1))]
        return out[:500]
    return []


def write_actions(path: str, content: str | None, append: bool, screen: Screen, depth: int,
                  urls: tuple[str, ...] = ()) -> list[Action]:
    """Actions for writing ``content`` (None: unknown) to ``path``."""
    shown = fold_home(path)
    out: list[Action] = []
    kind = persistence_kind(path)
    if kind is not None:
        verb = "appends to" if append else "writes"
        if kind == "SSH authorized keys":
            key = (content or "").strip()
            out.append(Action("persistence", f"{verb} {shown}, which lets the key's owner log in to this "
                                             "machine", literal=key[:200] if key else None))
        elif kind in ("the dynamic loader", "sudo rights"):
            out.append(Action("persistence", f"{verb} {shown} ({kind})"))
        elif kind == "Python startup code":
            if content is None or re2.search(r"(?m)^\s*import\b|exec\(|eval\(|__import__", content):
                out.append(Action("persistence", f"{verb} {shown}, Python code that runs every time "
                                                 "Python starts"))
        elif content is None and urls:
            out.append(Action("persistence", f"downloads into {shown} ({kind})", urls=urls))
        elif kind == "cron":
            system = fold_home(path).startswith(("/etc/cron", "/etc/anacrontab"))
            out += judge_content(None if content is None else cron_lines(content, system), "a cron job",
                                 shown, screen, depth)
        elif kind == "SSH client configuration":
            text = None if content is None else "\n".join(m.group(1) for m in _SSH_EXEC.finditer(content))
            if text is None or text.strip():
                out += judge_content(text, "SSH client configuration", shown, screen, depth)
        elif kind == "a systemd unit":
            text = None if content is None else "\n".join(m.group(1) for m in _UNIT_EXEC.finditer(content))
            out += judge_content(text, kind, shown, screen, depth)
        elif kind == "a launchd job":
            text = None if content is None else " ".join(m.group(1) for m in _PLIST_STRING.finditer(content))
            out += judge_content(text, kind, shown, screen, depth)
        elif kind == "git configuration":
            out += _git_config_content(content, shown, screen, depth)
        else:
            out += judge_content(content, kind, shown, screen, depth)
    pm = pm_config_kind(path)
    if pm is not None:
        found = tuple(m.group(0).rstrip(".") for m in _URL.finditer(content or ""))[:16] or urls
        if content is None and not found:
            out.append(Action("pm-config", f"writes {pm} ({shown}) with content that cannot be determined",
                              trust="index"))
        elif found:
            out.append(Action("pm-config", f"writes {pm} ({shown}) that points at "
                                           + ", ".join(dict.fromkeys(display(u) for u in found[:3])),
                              urls=found, trust="index"))
    if pm is not None and content and _NPM_EXEC.search(content):
        out.append(Action("pm-config", f"writes {pm} ({shown}) that sets the program it runs for scripts "
                                       f"({quote(_NPM_EXEC.search(content).group(0).strip(), 40)})"))
    if content:
        from relayguard.screen.later import written_actions  # judges commands the file runs later
        out += written_actions(path, content, screen, depth)
        packages = _manifest(path, content)
        if packages:
            eco = packages[0].ecosystem
            out.append(Action("install", f"adds dependencies to {shown}",
                              install=Install(f"{shown}", eco, tuple(packages))))
    return out


def _git_config_content(content: str | None, shown: str, screen: Screen, depth: int) -> list[Action]:
    if content is None:
        return [Action("persistence", f"writes git configuration ({shown}) that cannot be determined")]
    out: list[Action] = []
    for m in _GIT_EXEC_KEYS.finditer(content[:65536]):
        key = (m.group(1) or m.group(3) or "").lower()
        value = (m.group(2) or m.group(4) or "").strip().strip("'\"")
        out += _git_value(key, value, shown, screen, depth)
    for m in re2.finditer(r'(?i)\[url\s+"([^"]+)"\]\s*\n\s*insteadof', content[:65536]):
        out.append(Action("pm-config", f"makes git fetch from {display(m.group(1))} instead "
                                       "(url.insteadOf)", urls=(m.group(1),), trust="owner"))
    return out


def _git_value(key: str, value: str, shown: str, screen: Screen, depth: int) -> list[Action]:
    if key == "hookspath":
        p = fold_home(value)
        if p.startswith(("/", "~", "..", "$")):
            return [Action("persistence", f"points git hooks at {quote(p)} ({shown}), outside the "
                                          "repository: its scripts run on every commit")]
        return []
    if key in ("textconv", "clean", "smudge", "process", "program") or key.startswith("alias") or value:
        command = value[1:] if value.startswith("!") else value
        if key in ("pager", "editor", "helper") and " " not in command and "$" not in command:
            return []
        return judge_content(command, f"a git command setting ({key})", shown, screen, depth)
    return []


_CONFIG_PROGS = frozenset({"npm", "pnpm", "yarn", "bun", "poetry", "gem", "conda", "mamba", "micromamba",
                           "go", "bundle", "git"})


def config_commands(cmd: shell.Command, screen: Screen, depth: int) -> list[Action]:
    """Commands that change where packages or code come from, or what git runs."""
    argv = cmd.argv
    prog = cmd.program
    if prog not in _CONFIG_PROGS and not prog.startswith("pip"):
        return []
    args = list(argv[1:])
    words = [a for a in args if not a.startswith("-")]
    if prog in ("npm", "pnpm", "yarn", "bun") and words[:2] in (["config", "set"], ["set", words[1] if len(words) > 1 else ""]):
        rest = words[2:] if words[0] == "config" else words[1:]
        if rest and "=" in rest[0]:
            rest = rest[0].split("=", 1)
        if len(rest) >= 2 and ("registry" in rest[0].lower() or "npmregistryserver" in rest[0].lower()):
            return [Action("pm-config", f"sets the {prog} registry to {display(rest[1])}",
                           urls=(rest[1],), trust="index")]
        return []
    if prog.startswith("pip") and words[:2] == ["config", "set"] and len(words) >= 4:
        if any(k in words[2] for k in ("index-url", "find-links", "trusted-host", "extra-index")):
            return [Action("pm-config", f"sets pip's {words[2]} to {display(words[3])}", urls=(words[3],),
                           trust="index")]
        return []
    if prog == "poetry" and (words[:2] == ["source", "add"] and len(words) >= 4 or
                             words[:1] == ["config"] and len(words) >= 3 and words[1].startswith("repositories.")):
        url = words[3] if words[0] == "source" else words[2]
        return [Action("pm-config", f"adds the Poetry package source {display(url)}", urls=(url,), trust="index")]
    if prog == "gem" and words[:1] == ["sources"]:
        for flag in ("--add", "-a"):
            if flag in args and args.index(flag) + 1 < len(args):
                url = args[args.index(flag) + 1]
                return [Action("pm-config", f"adds the gem source {display(url)}", urls=(url,), trust="index")]
        return []
    if prog in ("conda", "mamba", "micromamba") and words[:1] == ["config"] and "channels" in args:
        k = args.index("channels")
        chans = tuple(a for a in args[k + 1:k + 2])
        return [Action("pm-config", f"adds the conda channel {quote(c)}", urls=(c,), trust="index") for c in chans]
    if prog == "go" and words[:1] == ["env"] and "-w" in args:
        return env_overrides(" ".join(a for a in args if "=" in a))
    if prog == "bundle" and words[:1] == ["config"] and any(w.startswith("mirror.") for w in words):
        urls = tuple(w for w in words if "://" in w)
        return [Action("pm-config", "sets a Bundler mirror", urls=urls, trust="index")] if urls else []
    if prog == "git" and "config" in words:
        k = words.index("config")
        rest = words[k + 1:]
        if len(rest) >= 2:
            key = rest[0].lower()
            if key.startswith("url.") and key.endswith(".insteadof"):
                base = rest[0][4:-10]
                return [Action("pm-config", f"makes git fetch from {display(base)} instead of "
                                            f"{display(rest[1])} (url.insteadOf)", urls=(base,), trust="owner")]
            last = key.rsplit(".", 1)[-1]
            if key.startswith("alias.") or last in ("hookspath", "fsmonitor", "sshcommand", "pager", "editor",
                                                   "askpass", "textconv", "clean", "smudge", "program",
                                                   "helper", "process"):
                return _git_value("alias" if key.startswith("alias.") else last, rest[1],
                                  "git config", screen, depth)
    return []


_ENV_INDEX = re2.compile(
    r"\b(PIP_INDEX_URL|PIP_EXTRA_INDEX_URL|PIP_FIND_LINKS|PIP_TRUSTED_HOST|UV_INDEX_URL|UV_EXTRA_INDEX_URL"
    r"|UV_INDEX|UV_DEFAULT_INDEX|UV_FIND_LINKS|POETRY_REPOSITORIES_[A-Z0-9_]+_URL|PDM_PYPI_URL"
    r"|npm_config_registry|NPM_CONFIG_REGISTRY|YARN_REGISTRY|YARN_NPM_REGISTRY_SERVER|BUN_CONFIG_REGISTRY"
    r"|CARGO_REGISTRIES_[A-Z0-9_]+_INDEX|CARGO_REGISTRY_INDEX|GOPROXY|GONOSUMDB|GONOSUMCHECK|GOSUMDB"
    r"|GOINSECURE|GOFLAGS|GEM_SOURCE|BUNDLE_MIRROR__[A-Z0-9_]+|CONDA_CHANNELS)\s*[\]\"']?\s*[=:]\s*"
    r"[\"']?([^\s\"';&|)]*)")


def env_overrides(text: str) -> list[Action]:
    """``PIP_INDEX_URL=...``-style overrides anywhere in ``text``."""
    out: list[Action] = []
    for m in _ENV_INDEX.finditer(text):
        name, value = m.group(1), m.group(2)
        if name in ("GOSUMDB", "GONOSUMCHECK", "GONOSUMDB", "GOINSECURE"):
            if value and value not in ("sum.golang.org", "sum.golang.google.cn"):
                out.append(Action("index-override", f"sets {name}={quote(value, 30)}, which turns off Go's "
                                                    "checksum verification for those modules"))
            continue
        if name == "GOFLAGS":
            if "-insecure" in value:
                out.append(Action("index-override", "sets GOFLAGS=-insecure"))
            continue
        urls = tuple(v for v in value.replace("|", ",").split(",") if v and v not in ("direct", "off"))
        if urls:
            out.append(Action("index-override", f"sets {name} to " + ", ".join(display(u) for u in urls[:3]),
                              urls=urls, trust="index"))
    return out
