"""Files whose contents another tool runs later: the commands inside them.

Writing ``"postinstall": "curl x | sh"`` into package.json, a recipe line into a
Makefile, a ``run:`` step into a CI workflow, a VS Code task, a ``RUN`` line into a
Dockerfile, a ``//go:generate`` comment, an ``.envrc`` or a dev container's
``postCreateCommand`` runs that command the next time someone builds, installs,
opens or tests the project.  :func:`deferred_commands` returns those commands
with the step that runs them, so the screen judges them as if they ran now.

Formats are read by line patterns (RE2), not full parsers: the content may be a
fragment (an Edit or a patch hunk), and only the commands matter.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import TYPE_CHECKING

import re2

if TYPE_CHECKING:
    from relayguard.screen.model import Action
    from relayguard.screen.persist import Screen

__all__ = ["deferred_commands", "is_later_file", "written_actions"]

_MAX = 64

_JSON_PAIR = re2.compile(r'"([\w:.@/-]+)"\s*:\s*"((?:[^"\\\n]|\\.)*)"')
_YAML_KEY = re2.compile(
    r"^(\s*)(?:-\s+)?(?:run|script|scripts|command|commands|before_script|after_script|before_install"
    r"|install|entrypoint|entry|cmds|cmd)\s*:\s*(.*)$")
_DOCKER_RUN = re2.compile(r"(?i)^\s*(?:RUN|CMD|ENTRYPOINT)\s+(.*)$")
_GO_GENERATE = re2.compile(r"^\s*//go:generate\s+(.*)$")
_MAKE_SHELL = re2.compile(r"\$\(shell\s+([^)]*)\)")
_INI_COMMANDS = re2.compile(r"^\s*commands(?:_pre|_post)?\s*=\s*(.*)$")
_JENKINS_SH = re2.compile(r"""\bsh\s*\(?\s*(?:'''|\"\"\"|'|")(.+?)(?:'''|\"\"\"|'|")""")
_CI_SECRET = re2.compile(r"\$\{\{\s*secrets\.([A-Za-z0-9_]+)\s*\}\}")
_DEVCONTAINER_KEYS = ("postCreateCommand", "postStartCommand", "onCreateCommand", "updateContentCommand",
                      "initializeCommand", "postAttachCommand")


def _kind(path: str) -> str | None:
    p = path.replace("\\", "/").lower()
    name = p.rsplit("/", 1)[-1]
    if name == "package.json":
        return "npm script"
    if name in ("makefile", "gnumakefile") or name.endswith(".mk"):
        return "make recipe"
    if "/.github/workflows/" in "/" + p or name in (".gitlab-ci.yml", "azure-pipelines.yml", ".travis.yml",
                                                  "bitbucket-pipelines.yml", ".drone.yml", "cloudbuild.yaml",
                                                  "taskfile.yml", "taskfile.yaml", ".pre-commit-config.yaml") \
            or "/.circleci/" in "/" + p or "/.buildkite/" in "/" + p or name.startswith(("docker-compose", "compose.")):
        return "CI / task step"
    if name == "tasks.json" and "/.vscode/" in "/" + p:
        return "VS Code task"
    if name == "devcontainer.json":
        return "dev container command"
    if name in ("dockerfile", "containerfile") or name.endswith((".dockerfile", ".containerfile")) \
            or name.startswith("dockerfile."):
        return "Dockerfile step"
    if name.endswith(".go"):
        return "go:generate directive"
    if name == ".envrc":
        return "direnv script"
    if name in ("tox.ini", "setup.cfg"):
        return "tox command"
    if name == "jenkinsfile":
        return "Jenkins step"
    if name == "justfile" or name == ".justfile":
        return "just recipe"
    return None


def is_later_file(path: str) -> bool:
    return _kind(path) is not None


def _unjson(text: str) -> str:
    try:
        return json.loads('"' + text + '"')
    except ValueError:
        return text


def _yaml_blocks(content: str) -> list[str]:
    out: list[str] = []
    lines = content.splitlines()
    i = 0
    while i < len(lines) and len(out) < _MAX:
        m = _YAML_KEY.match(lines[i])
        i += 1
        if not m:
            continue
        indent, value = len(m.group(1)), m.group(2).strip()
        if value and value not in ("|", ">", "|-", ">-", "|+", ">+"):
            if value.startswith("[") and value.endswith("]"):
                out += [v.strip().strip("'\"") for v in value[1:-1].split(",")]
            else:
                out.append(value.strip("'\""))
            continue
        block: list[str] = []
        while i < len(lines):
            line = lines[i]
            stripped = line.strip()
            ind = len(line) - len(line.lstrip())
            if stripped and (ind < indent or ind == indent and (value or not stripped.startswith("- "))):
                break
            if not value and stripped.startswith("- "):
                stripped = stripped[2:].strip().strip("'\"")
            block.append(stripped)
            i += 1
        if block:
            out.append("\n".join(block))
    return out


def deferred_commands(path: str, content: str) -> tuple[str | None, list[str]]:
    """(what runs them, commands) for a file other tools run later."""
    kind = _kind(path)
    if kind is None or not content:
        return None, []
    text = content[:65536]
    lines = text.splitlines()
    cmds: list[str] = []
    if kind == "npm script":
        cmds = [_unjson(m.group(2)) for m in _JSON_PAIR.finditer(text)
                if m.group(1) not in ("name", "version", "description", "main", "license", "type", "author",
                                      "module", "types", "homepage", "repository", "packageManager")]
    elif kind in ("make recipe", "just recipe"):
        cmds = [line.strip().lstrip("@-+").strip() for line in lines
                if line.startswith("\t") or (kind == "just recipe" and line.startswith("    "))]
        cmds += [m.group(1) for m in _MAKE_SHELL.finditer(text)]
    elif kind == "CI / task step":
        cmds = [_CI_SECRET.sub(lambda m: "$" + m.group(1), c) for c in _yaml_blocks(text)]
    elif kind == "VS Code task":
        cmds = [_unjson(m.group(2)) for m in _JSON_PAIR.finditer(text) if m.group(1) == "command"]
    elif kind == "dev container command":
        cmds = [_unjson(m.group(2)) for m in _JSON_PAIR.finditer(text) if m.group(1) in _DEVCONTAINER_KEYS]
    elif kind == "Dockerfile step":
        joined = text.replace("\\\n", " ")
        cmds = [m.group(1) for line in joined.splitlines() if (m := _DOCKER_RUN.match(line))]
    elif kind == "go:generate directive":
        cmds = [m.group(1) for line in lines if (m := _GO_GENERATE.match(line))]
    elif kind == "direnv script":
        cmds = [text]
    elif kind == "tox command":
        cmds = [m.group(1) for line in lines if (m := _INI_COMMANDS.match(line))]
        cmds += [line.strip() for line in lines if line.startswith(("    ", "\t")) and line.strip()]
    elif kind == "Jenkins step":
        cmds = [m.group(1) for m in _JENKINS_SH.finditer(text)]
    return kind, [c for c in cmds if c and c.strip()][:_MAX]


_CODE_EXT = {".py": "python", ".js": "node", ".mjs": "node", ".cjs": "node", ".ts": "node", ".rb": "ruby",
             ".pl": "perl", ".php": "php", ".ps1": "powershell", ".rs": "rust", ".go": "go", ".java": "java",
             ".kt": "kotlin", ".cs": "c#"}
_SHELL_EXT = (".sh", ".bash", ".zsh", ".ksh")


def written_actions(path: str, content: str, screen: Screen, depth: int) -> list[Action]:
    """What a written file would do when it runs: commands other tools run later, a
    shell script, or program code (reverse shells, encoded payloads, commands it runs)."""
    from relayguard.screen.actions import MAX_DEPTH, code_actions
    from relayguard.screen.model import ScreenError

    if depth + 1 > MAX_DEPTH:
        return []
    out: list[Action] = []
    kind, cmds = deferred_commands(path, content)
    try:
        for cmd in cmds:
            nested = screen(cmd, depth + 1)[0]
            out += [replace(a, what=f"writes {path}, whose {kind} {a.what}") for a in nested
                    if a.rule != "credential-read"]
        if kind is not None and not path.endswith(".go"):
            return out
        low = path.lower()
        name = low.rsplit("/", 1)[-1]
        ext = name[name.rfind("."):] if "." in name else ""
        first_line = content.lstrip()[:80].split("\n", 1)[0]
        if ext in _SHELL_EXT or (first_line.startswith("#!") and "sh" in first_line and "python" not in first_line):
            nested = screen(content, depth + 1)[0]
            out += [replace(a, what=f"writes {path}, a script that {a.what}") for a in nested
                    if a.rule != "credential-read"]
        elif ext in _CODE_EXT or first_line.startswith("#!") and "python" in first_line:
            lang = _CODE_EXT.get(ext, "python")
            nested = code_actions(content, lang, depth + 1, how="would run", running=False)[0]
            out += [replace(a, what=f"writes {path}, which {a.what}") for a in nested
                    if a.rule != "credential-read"]
    except ScreenError as exc:
        from relayguard.screen.model import Action as _Action
        out.append(_Action("unparseable-command", f"writes {path}, which cannot be analysed ({exc})"))
    return out
