"""The plan: which requests the audit sends, in what order, to whom.

1. **Warm-up** (``--warmup``, default 60 router calls): small requests under
   every persona, so a router that behaves for its first N calls is past N
   before the battery starts.  They still count: canaries are planted in them,
   request integrity is checked, and every third one asks for a short install
   whose tool call is screened.
2. **Battery**: realistic agent tasks (installs with pip, uv, npm, pnpm, cargo,
   go, gem; download-and-run installers for rustup, uv, bun, golangci-lint;
   file edits; git; tests), each under an auto-approve persona and a project
   fingerprint: every (persona, project) pair gets an installer and a package
   install, and every common shell-tool name gets both too.  Each goes to the
   router and, when there is one, to the reference.
3. **Probes** for model substitution (``probes.py``), shuffled in with the battery.

Tasks use the mock provider's script phrases ("install requests", "cargo add
serde") where it has one, else a ``MOCK_TOOL_CALL`` line naming the command, so
a mock reference answers with a tool call; a real model reads the same text as
a request to run that command.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from relayguard.audit.fingerprints import PERSONAS, PROJECTS, SWEEP_PERSONA, TOOL_NAMES, YOLO_PERSONAS
from relayguard.audit.model import REFERENCE, REFERENCE_AGAIN, ROUTER, Step
from relayguard.audit.probes import GENERIC, N_KNOWN
from relayguard.exchange import DIALECTS


@dataclass(frozen=True)
class Task:
    id: str
    kind: str  # installer | install | edit | git | test
    projects: tuple[str, ...]  # projects it fits ("*": any)
    prompt: str
    command: str  # the shell command an honest answer runs ("" for edits)
    hint: bool  # add a MOCK_TOOL_CALL line (the mock's script has no phrase for it)
    edit: tuple[str, str, str] = ("", "", "")  # (file, old, new) for edits


def _t(id: str, kind: str, projects: str, prompt: str, command: str = "", hint: bool = False,
       edit: tuple[str, str, str] = ("", "", "")) -> Task:
    return Task(id, kind, tuple(projects.split(",")), prompt, command, hint, edit)


TASKS: dict[str, Task] = {t.id: t for t in (
    # download-and-run installers
    _t("installer:rustup", "installer", "rust", "The toolchain is missing on this box: install rust with rustup, "
       "non-interactively.", "curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y"),
    _t("installer:uv", "installer", "python", "We manage Python with uv here; please install uv with the official "
       "installer.", "curl -LsSf https://astral.sh/uv/install.sh | sh"),
    _t("installer:bun", "installer", "javascript", "The test runner needs Bun: install bun with the official script.",
       "curl -fsSL https://bun.sh/install | bash"),
    _t("installer:golangci", "installer", "go", "Set up golangci-lint with its official install script so CI "
       "and local lint agree.", "curl -sSfL https://raw.githubusercontent.com/golangci/golangci-lint/HEAD/"
       "install.sh | sh -s -- -b ./bin v1.61.0", hint=True),
    # package installs
    _t("pip:requests", "install", "python", "Please install requests for the sync job's HTTP calls.",
       "pip install requests"),
    _t("pip:httpx", "install", "python", "For the async client, install httpx please.", "pip install httpx"),
    _t("pip:pydantic", "install", "python", "Validation is missing; install pydantic for the models.", "pip install pydantic"),
    _t("uv:fastapi", "install", "python", "Add fastapi to the project with uv.", "uv add fastapi", hint=True),
    _t("npm:lodash", "install", "javascript", "Please npm install lodash for the table helpers.",
       "npm install lodash"),
    _t("npm:express", "install", "javascript", "We need a small server, so npm install express for it.",
       "npm install express"),
    _t("npm:axios", "install", "javascript", "npm install axios for the API client, please.", "npm install axios"),
    _t("pnpm:zod", "install", "javascript", "Add zod for schema checks using pnpm.", "pnpm add zod", hint=True),
    _t("cargo:serde_json", "install", "rust", "cargo add serde_json so we can parse the config.",
       "cargo add serde_json"),
    _t("cargo:clap", "install", "rust", "For the CLI flags, add the clap crate.", "cargo add clap"),
    _t("cargo:anyhow", "install", "rust", "cargo add anyhow for error handling.", "cargo add anyhow"),
    _t("go:cobra", "install", "go", "We want subcommands: go get github.com/spf13/cobra",
       "go get github.com/spf13/cobra"),
    _t("go:testify", "install", "go", "For assertions, go get github.com/stretchr/testify",
       "go get github.com/stretchr/testify"),
    _t("go:sync", "install", "go", "We need errgroup: go get golang.org/x/sync", "go get golang.org/x/sync"),
    _t("gem:rake", "install", "*", "The release scripts use rake; add it with gem.", "gem install rake", hint=True),
    # file edits, git, tests
    _t("edit:timeout", "edit", "*", "Raise the HTTP timeout in the config from 10 to 30 seconds.",
       edit=("config/settings.toml", "timeout = 10", "timeout = 30")),
    _t("git:status", "git", "*", "Before committing, show me git status.", "git status --short"),
    _t("git:commit", "git", "*", "Commit the current work with the message 'Handle empty invoices'.",
       "git add -A && git commit -m 'Handle empty invoices'", hint=True),
    _t("test:rust", "test", "rust", "Check the build passes its test suite.", "cargo test", hint=True),
    _t("test:go", "test", "go", "Check the module passes its test suite.", "go test ./...", hint=True),
)}


def tasks_for(kind: str, project: str) -> list[Task]:
    return [t for t in TASKS.values() if t.kind == kind and (project in t.projects or "*" in t.projects)]


@dataclass(frozen=True)
class PlanOptions:
    seed: int
    warmup: int = 60
    dialect: str = "all"  # one of DIALECTS, or "all"
    reference: bool = True


def build_plan(opts: PlanOptions) -> list[Step]:
    """Every step of the run, in order (deterministic for a seed and options)."""
    rng = random.Random(opts.seed)
    steps: list[Step] = []

    def dialect_of(persona: str, rotate: int) -> str:
        if opts.dialect != "all":
            return opts.dialect
        return PERSONAS[persona].dialect if rotate < 0 else DIALECTS[rotate % len(DIALECTS)]

    def add(phase: str, persona: str, project: str, tool: str, task: str, targets: tuple[str, ...],
            rotate: int = -1) -> None:
        steps.append(Step(len(steps), phase, dialect_of(persona, rotate), persona, project, tool, task,
                          rng.random() < 0.5, targets))

    personas, projects = list(PERSONAS), list(PROJECTS)
    for i in range(opts.warmup):
        persona, project = personas[i % len(personas)], rng.choice(projects)
        if i % 3 == 2:
            task = rng.choice(tasks_for(rng.choice(["installer", "install"]), project)).id
        else:
            task = "warmup:question"
        add("warm-up", persona, project, PERSONAS[persona].shell_tool, task, (ROUTER,))

    pair = (ROUTER, REFERENCE) if opts.reference else (ROUTER,)
    body: list[tuple[str, str, str, str, str, int]] = []  # phase, persona, project, tool, task, rotate
    for persona in YOLO_PERSONAS:
        for project in projects:
            for kind in ("installer", "install"):
                body.append(("battery", persona, project, PERSONAS[persona].shell_tool,
                             rng.choice(tasks_for(kind, project)).id, -1))
    for n, tool in enumerate(TOOL_NAMES):
        for kind in ("installer", "install"):
            project = rng.choice(projects)
            body.append(("battery", SWEEP_PERSONA, project, tool, rng.choice(tasks_for(kind, project)).id, n))
    for persona in YOLO_PERSONAS:
        project = rng.choice(projects)
        body.append(("battery", persona, project, PERSONAS[persona].shell_tool, "edit:timeout", -1))
    for task in ("git:status", "git:commit", "test:rust", "test:go"):
        persona = rng.choice(YOLO_PERSONAS)
        project = TASKS[task].projects[0] if TASKS[task].projects[0] != "*" else rng.choice(projects)
        body.append(("battery", persona, project, PERSONAS[persona].shell_tool, task, -1))

    probe_targets = (ROUTER, REFERENCE, REFERENCE_AGAIN) if opts.reference else (ROUTER,)
    probes: list[tuple[str, str, str, str, str, int]] = []
    for n in range(len(DIALECTS)):
        probes.append(("probe", rng.choice(YOLO_PERSONAS), "", "", "probe:whoami", n))
    if opts.reference:  # known-answer and generic probes mean nothing without a reference
        probes += [("probe", rng.choice(YOLO_PERSONAS), "", "", f"probe:known:{n}", n) for n in range(N_KNOWN)]
        probes += [("probe", rng.choice(YOLO_PERSONAS), "", "", f"probe:generic:{n}", n)
                   for n in range(len(GENERIC))]
    rest = body + probes
    rng.shuffle(rest)
    for phase, persona, project, tool, task, rotate in rest:
        targets = pair if phase == "battery" else probe_targets
        tool = tool or PERSONAS[persona].shell_tool
        add(phase, persona, project, tool, task, targets, rotate)
    return steps
