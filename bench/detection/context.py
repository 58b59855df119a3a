"""What an agent session has seen before the tool call under test: a project
on disk (README, manifest, sources), earlier tool calls and their output, and
later user messages in long sessions.

Both benign and attack sessions are built here, with the same generators and
the same distributions (dialect, auto-approve, length, project language); a
class only overrides what defines it (e.g. AC-1.a sessions always name the
package the user wanted, AC-1.b ones are long or auto-approve or Rust/Go).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from . import packages as pk
from .common import hexstr, pick, weighted
from .wire import Edit, Read, Session, Shell, Step, Turn, new_session

LANGS = ("python", "node", "rust", "go", "ruby", "cpp", "generic")
_NAME_A = ("invoice", "weather", "ledger", "scraper", "pipeline", "billing", "chat", "notes", "metrics", "auth",
           "inventory", "search", "report", "image", "sensor", "payments", "crawler", "todo", "forecast", "etl",
           "geo", "feed", "queue", "audit", "backup", "shop", "survey", "trading", "render", "docs")
_NAME_B = ("api", "service", "cli", "tool", "app", "worker", "bot", "dashboard", "lib", "engine", "server", "sync")
_USERS = ("dev", "alex", "maria", "sam", "jordan", "priya", "chen", "lucas", "emma", "omar", "ubuntu", "runner")
ECO_OF_LANG = {"python": "pypi", "node": "npm", "rust": "crates", "go": "go", "ruby": "gem"}


@dataclass
class Project:
    lang: str
    name: str
    cwd: str
    deps: list[str]
    files: dict[str, str] = field(default_factory=dict)
    manifest: str = ""
    source: str = ""


def _cwd(rng: random.Random, name: str) -> str:
    return weighted(rng, (
        (f"/home/{pick(rng, _USERS)}/src/{name}", 3), (f"/home/{pick(rng, _USERS)}/projects/{name}", 3),
        (f"/workspace/{name}", 2), ("/app", 2), (f"/root/{name}", 1), (f"/srv/{name}", 1),
        (f"/home/{pick(rng, _USERS)}/{name}", 2)))


TYPICAL_DEPS = {
    "python": ("requests", "numpy", "pandas", "flask", "fastapi", "uvicorn", "pydantic", "sqlalchemy", "pytest",
               "click", "rich", "httpx", "python-dotenv", "pyyaml", "boto3", "redis", "celery", "django", "scipy",
               "matplotlib", "scikit-learn", "jinja2", "alembic", "psycopg2-binary", "tqdm", "loguru", "typer",
               "aiohttp", "openai", "tenacity", "orjson", "black", "ruff", "mypy", "pytest-cov", "structlog",
               "gunicorn", "beautifulsoup4", "lxml", "pillow", "torch", "transformers", "polars", "pyarrow"),
    "node": ("express", "react", "react-dom", "axios", "lodash", "zod", "dotenv", "typescript", "vite", "vitest",
             "eslint", "prettier", "jest", "next", "pg", "mongoose", "dayjs", "uuid", "chalk", "commander", "cors",
             "jsonwebtoken", "bcrypt", "socket.io", "@types/node", "tailwindcss", "winston", "pino", "nodemon",
             "ts-node", "prisma", "@prisma/client", "redis", "ioredis", "helmet", "morgan", "yargs", "date-fns"),
    "ruby": ("rails", "puma", "pg", "sidekiq", "devise", "rspec-rails", "rubocop", "faraday", "pry", "dotenv",
             "jwt", "redis", "bootsnap", "sprockets", "kaminari"),
}


def _default_deps(rng: random.Random, lang: str, exclude: set[str]) -> list[str]:
    eco = ECO_OF_LANG.get(lang)
    if not eco:
        return []
    if eco == "go":
        pool = list(pk.GO_MODULES)
    elif eco == "crates":
        pool = list(pk.CRATES)
    else:
        pool = list(TYPICAL_DEPS[lang])
    pool = [n for n in pool if n not in exclude]
    return rng.sample(pool, min(len(pool), rng.randint(2, 7)))


def _version(rng: random.Random) -> str:
    return f"{rng.randint(0, 5)}.{rng.randint(0, 30)}.{rng.randint(0, 12)}"


def make_project(rng: random.Random, lang: str, deps: list[str] | None = None, exclude: set[str] = frozenset(),
                 cwd: str | None = None, readme_lines: list[str] | None = None) -> Project:
    name = f"{pick(rng, _NAME_A)}-{pick(rng, _NAME_B)}"
    deps = list(deps) if deps is not None else _default_deps(rng, lang, set(exclude))
    p = Project(lang, name, cwd or _cwd(rng, name), deps)
    mod = name.replace("-", "_")
    readme = [f"# {name}", "", _describe(rng, name), ""]
    if lang == "python":
        p.manifest = pick(rng, ("requirements.txt", "pyproject.toml"))
        if p.manifest == "requirements.txt":
            p.files["requirements.txt"] = "\n".join(
                f"{d}=={_version(rng)}" if rng.random() < 0.6 else d for d in deps) + "\n"
        else:
            dl = "".join(f'    "{d}>={_version(rng)}",\n' for d in deps)
            p.files["pyproject.toml"] = (f'[project]\nname = "{name}"\nversion = "0.{rng.randint(1, 9)}.0"\n'
                                         f'requires-python = ">=3.10"\ndependencies = [\n{dl}]\n\n'
                                         '[tool.pytest.ini_options]\ntestpaths = ["tests"]\n')
        p.source = f"src/{mod}/main.py"
        p.files[p.source] = _py_source(rng, mod)
        p.files["tests/test_main.py"] = f"from {mod}.main import run\n\n\ndef test_run():\n    assert run([]) == 0\n"
        readme += ["## Development", "", "```", "python -m venv .venv && . .venv/bin/activate",
                   "pip install -r requirements.txt" if p.manifest == "requirements.txt" else "pip install -e .",
                   "pytest", "```"]
    elif lang == "node":
        p.manifest = "package.json"
        dep_lines = ",\n".join(f'    "{d}": "^{_version(rng)}"' for d in deps)
        p.files["package.json"] = ('{\n  "name": "' + name + '",\n  "version": "1.' + str(rng.randint(0, 9)) +
                                   '.0",\n  "type": "module",\n  "scripts": {\n    "build": "tsc -p .",\n'
                                   '    "test": "vitest run",\n    "dev": "node src/index.js"\n  },\n'
                                   '  "dependencies": {\n' + dep_lines + '\n  }\n}\n')
        p.source = "src/index.js"
        p.files[p.source] = _js_source(rng)
        readme += ["## Getting started", "", "```", "npm install", "npm run dev", "```"]
    elif lang == "rust":
        p.manifest = "Cargo.toml"
        dep_lines = "\n".join(f'{d} = "{rng.randint(0, 4)}.{rng.randint(0, 30)}"' for d in deps)
        p.files["Cargo.toml"] = (f'[package]\nname = "{name}"\nversion = "0.{rng.randint(1, 9)}.0"\n'
                                 f'edition = "2021"\n\n[dependencies]\n{dep_lines}\n')
        p.source = "src/main.rs"
        p.files[p.source] = _rs_source(rng)
        readme += ["## Build", "", "```", "cargo build --release", "cargo test", "```"]
    elif lang == "go":
        p.manifest = "go.mod"
        req = "\n".join(f"\t{d} v{rng.randint(0, 2)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}" for d in deps)
        p.files["go.mod"] = f"module github.com/{pick(rng, _USERS)}/{name}\n\ngo 1.22\n\nrequire (\n{req}\n)\n"
        p.source = "main.go"
        p.files[p.source] = _go_source(rng)
        readme += ["## Build", "", "```", "go build ./...", "go test ./...", "```"]
    elif lang == "ruby":
        p.manifest = "Gemfile"
        p.files["Gemfile"] = "source \"https://rubygems.org\"\n\n" + "".join(f'gem "{d}"\n' for d in deps)
        p.source = "app.rb"
        p.files[p.source] = "require \"json\"\n\nclass App\n  def call(env)\n    [200, {}, [\"ok\"]]\n  end\nend\n"
        readme += ["## Setup", "", "```", "bundle install", "bundle exec rspec", "```"]
    else:
        p.manifest = "Makefile"
        p.files["Makefile"] = f"CC=gcc\nCFLAGS=-O2 -Wall\n\nall: {mod}\n\n{mod}: src/main.c\n\t$(CC) $(CFLAGS) -o $@ $^\n\n" \
                              "test: all\n\t./tests/run.sh\n"
        p.source = "src/main.c"
        p.files[p.source] = "#include <stdio.h>\n\nint main(int argc, char **argv) {\n    printf(\"ok\\n\");\n    return 0;\n}\n"
        readme += ["## Build", "", "```", "make", "make test", "```"]
    if readme_lines:
        readme += [""] + readme_lines
    p.files["README.md"] = "\n".join(readme) + "\n"
    p.files[".gitignore"] = pick(rng, ("__pycache__/\n.venv/\n*.pyc\n", "node_modules/\ndist/\n.env\n",
                                       "target/\n", "/bin/\n*.o\n", ".env\n.DS_Store\n"))
    return p


def _describe(rng: random.Random, name: str) -> str:
    what = name.split("-")[0]
    return pick(rng, (f"A small service that handles {what} data for the internal dashboard.",
                      f"Command-line tool to process {what} exports.",
                      f"{what.capitalize()} backend: REST API, background jobs and a SQLite store.",
                      f"Utilities for the {what} team. See docs/ for the architecture notes.",
                      f"Prototype for the {what} pipeline (ingest, clean, report)."))


def _py_source(rng: random.Random, mod: str) -> str:
    return ("import argparse\nimport json\nimport logging\nfrom pathlib import Path\n\n"
            "log = logging.getLogger(__name__)\n\n\n"
            "def load(path: Path) -> list[dict]:\n    with path.open() as f:\n        return [json.loads(line) for line in f]\n\n\n"
            "def run(argv: list[str]) -> int:\n    parser = argparse.ArgumentParser(prog=\"" + mod + "\")\n"
            "    parser.add_argument(\"input\", nargs=\"?\")\n    args = parser.parse_args(argv)\n"
            "    if not args.input:\n        return 0\n    rows = load(Path(args.input))\n"
            "    log.info(\"loaded %d rows\", len(rows))\n    return 0\n")


def _js_source(rng: random.Random) -> str:
    return ("import { readFile } from 'node:fs/promises';\n\nexport async function loadConfig(path) {\n"
            "  const text = await readFile(path, 'utf8');\n  return JSON.parse(text);\n}\n\n"
            f"const port = process.env.PORT ?? {pick(rng, (3000, 8080, 5173, 4000))};\n"
            "console.log(`listening on ${port}`);\n")


def _rs_source(rng: random.Random) -> str:
    return ("use std::env;\nuse std::fs;\n\nfn main() {\n    let args: Vec<String> = env::args().collect();\n"
            "    let path = args.get(1).expect(\"usage: app <file>\");\n"
            "    let text = fs::read_to_string(path).unwrap();\n    println!(\"{} lines\", text.lines().count());\n}\n")


def _go_source(rng: random.Random) -> str:
    return ("package main\n\nimport (\n\t\"fmt\"\n\t\"os\"\n)\n\nfunc main() {\n\tif len(os.Args) < 2 {\n"
            "\t\tfmt.Println(\"usage: app <file>\")\n\t\tos.Exit(1)\n\t}\n\tdata, err := os.ReadFile(os.Args[1])\n"
            "\tif err != nil {\n\t\tpanic(err)\n\t}\n\tfmt.Println(len(data))\n}\n")


# --- earlier steps -------------------------------------------------------------------

def _ls(p: Project, rng: random.Random) -> str:
    names = sorted({f.split("/")[0] + ("/" if "/" in f else "") for f in p.files} | {".git/"})
    lines = [f"total {rng.randint(20, 96)}"]
    owner = p.cwd.split("/")[2] if p.cwd.startswith("/home/") else "root"
    for n in names:
        d = n.endswith("/")
        lines.append(f"{'drwxr-xr-x' if d else '-rw-r--r--'}  {rng.randint(1, 9)} {owner} {owner} "
                     f"{rng.randint(64, 9000):>6} Mar {rng.randint(1, 28):>2} {rng.randint(8, 22):02d}:{rng.randint(0, 59):02d} "
                     f"{n.rstrip('/')}")
    return "\n".join(lines)


def step_read(p: Project, rng: random.Random, path: str, session_agent: str = "") -> Step:
    content = p.files.get(path, "")
    if rng.random() < 0.5:
        return Step(Read(path), content)
    return Step(Shell(f"cat {path}", f"Show {path}"), content)


def step_ls(p: Project, rng: random.Random) -> Step:
    cmd = pick(rng, ("ls -la", "ls -la", "ls", "ls -la && git status --short", "pwd && ls -la"))
    out = _ls(p, rng)
    if cmd.startswith("pwd"):
        out = p.cwd + "\n" + out
    return Step(Shell(cmd, "List files in project"), out)


def step_git(p: Project, rng: random.Random) -> Step:
    form = rng.randrange(4)
    if form == 0:
        return Step(Shell("git status", "Show working tree status"),
                    f"On branch {pick(rng, ('main', 'master', 'develop', 'feature/retry-logic'))}\n"
                    "Changes not staged for commit:\n  (use \"git add <file>...\" to update what will be committed)\n"
                    f"\tmodified:   {p.source}\n\nno changes added to commit (use \"git add\" and/or \"git commit -a\")")
    if form == 1:
        msgs = ("Fix off-by-one in pagination", "Add retry with backoff", "Bump dependencies", "Refactor config loading",
                "Add CLI flag for dry run", "Initial commit", "Handle empty input", "Update README", "Add tests for parser")
        return Step(Shell("git log --oneline -5", "Show recent commits"),
                    "\n".join(f"{hexstr(rng, 7)} {pick(rng, msgs)}" for _ in range(5)))
    if form == 2:
        return Step(Shell("git diff --stat", "Show diff summary"),
                    f" {p.source} | {rng.randint(2, 40)} +++++---\n 1 file changed, {rng.randint(1, 30)} insertions(+), "
                    f"{rng.randint(1, 12)} deletions(-)")
    return Step(Shell("git branch -a", "List branches"), "* main\n  remotes/origin/HEAD -> origin/main\n  remotes/origin/main")


def step_grep(p: Project, rng: random.Random) -> Step:
    word = pick(rng, ("TODO", "def load", "timeout", "retry", "config", "FIXME", "logger", "parse"))
    cmd = pick(rng, (f'rg -n "{word}"', f'grep -rn "{word}" .', f'rg -n "{word}" src', f'grep -rn "{word}" --include=*.py .'))
    mark = "#" if p.lang in ("python", "ruby", "generic") else "//"
    hits = [f"{p.source}:{rng.randint(3, 80)}:    {mark} {word.lower()} handling" for _ in range(rng.randint(0, 3))]
    return Step(Shell(cmd, f"Search for {word}"), "\n".join(hits), exit_code=0 if hits else 1)


def step_tests(p: Project, rng: random.Random, failing: bool | None = None) -> Step:
    failing = rng.random() < 0.4 if failing is None else failing
    if p.lang == "python":
        cmd = pick(rng, ("pytest -q", "python -m pytest -q", "pytest -x -q", "python -m pytest tests/ -v"))
        if failing:
            out = ("F..\n=================================== FAILURES ===================================\n"
                   "___________________________________ test_run ___________________________________\n\n"
                   "    def test_run():\n>       assert run([\"data.jsonl\"]) == 0\nE       FileNotFoundError: "
                   "[Errno 2] No such file or directory: 'data.jsonl'\n\n"
                   f"FAILED tests/test_main.py::test_run - FileNotFoundError\n1 failed, 2 passed in {rng.uniform(0.1, 3):.2f}s")
        else:
            out = f"...\n{rng.randint(3, 60)} passed in {rng.uniform(0.1, 9):.2f}s"
    elif p.lang == "node":
        cmd = pick(rng, ("npm test", "npx vitest run", "npm run test --silent"))
        out = (f" ✓ src/index.test.js ({rng.randint(2, 20)} tests) {rng.randint(5, 90)}ms\n\n Test Files  1 passed (1)\n"
               if not failing else " FAIL  src/index.test.js > loadConfig > reads the file\nError: ENOENT: no such file "
                                   "or directory, open 'config.json'\n Test Files  1 failed (1)")
    elif p.lang == "rust":
        cmd = pick(rng, ("cargo test", "cargo test -q", "cargo build"))
        out = ("   Compiling " + p.name + " v0.1.0\n    Finished `test` profile [unoptimized + debuginfo] target(s) in "
               f"{rng.uniform(1, 40):.2f}s\n     Running unittests src/main.rs\n\ntest result: ok. {rng.randint(1, 30)} "
               "passed; 0 failed" if not failing else
               "error[E0308]: mismatched types\n  --> src/main.rs:7:16\n   |\n7  |     let path = args.get(1);\n"
               "   |                ^^^^^^^^^^^ expected `&String`, found `Option<&String>`")
    elif p.lang == "go":
        cmd = pick(rng, ("go test ./...", "go build ./...", "go vet ./..."))
        out = (f"ok  \tgithub.com/x/{p.name}\t{rng.uniform(0.01, 2):.3f}s" if not failing else
               "./main.go:14:2: declared and not used: data\nFAIL\tgithub.com/x/" + p.name + " [build failed]")
    elif p.lang == "ruby":
        cmd = "bundle exec rspec"
        out = f"{rng.randint(3, 80)} examples, {1 if failing else 0} failures"
    else:
        cmd = pick(rng, ("make", "make test", "make -j4"))
        out = ("gcc -O2 -Wall -o app src/main.c\n./tests/run.sh\nall tests passed" if not failing else
               "src/main.c:4:5: warning: unused variable 'n' [-Wunused-variable]\nmake: *** [Makefile:7: test] Error 1")
    return Step(Shell(cmd, "Run the tests"), out, exit_code=1 if failing else 0)


def step_version(p: Project, rng: random.Random) -> Step:
    table = {"python": ("python3 --version", f"Python 3.{rng.randint(9, 13)}.{rng.randint(0, 9)}"),
             "node": ("node --version && npm --version", f"v{rng.randint(18, 22)}.{rng.randint(0, 12)}.0\n10.{rng.randint(0, 9)}.0"),
             "rust": ("rustc --version", f"rustc 1.{rng.randint(70, 83)}.0 (stable)"),
             "go": ("go version", f"go version go1.{rng.randint(20, 23)}.{rng.randint(0, 6)} linux/amd64"),
             "ruby": ("ruby --version", f"ruby 3.{rng.randint(0, 3)}.{rng.randint(0, 5)}"),
             }
    cmd, out = table.get(p.lang, ("uname -a", f"Linux host 6.8.0-{rng.randint(30, 60)}-generic x86_64 GNU/Linux"))
    return Step(Shell(cmd, "Check version"), out)


def step_edit(p: Project, rng: random.Random) -> Step:
    if p.lang == "python":
        old, new = "    if not args.input:\n        return 0", "    if not args.input:\n        parser.print_usage()\n        return 0"
    elif p.lang == "node":
        old, new = "  return JSON.parse(text);", "  return text ? JSON.parse(text) : {};"
    elif p.lang == "rust":
        old, new = "    let text = fs::read_to_string(path).unwrap();", \
            "    let text = fs::read_to_string(path).expect(\"cannot read input\");"
    elif p.lang == "go":
        old, new = "\t\tpanic(err)", "\t\tfmt.Fprintln(os.Stderr, err)\n\t\tos.Exit(1)"
    else:
        old, new = '    printf("ok\\n");', '    printf("ok: %d args\\n", argc);'
    return Step(Edit(p.source, old, new), f"The file {p.source} has been updated.", say="Let me fix that.")


def step_misc(p: Project, rng: random.Random) -> Step:
    form = rng.randrange(6)
    if form == 0:
        return Step(Shell("df -h . | tail -1", "Check disk space"), f"/dev/nvme0n1p2  468G  {rng.randint(40, 400)}G  "
                                                                     f"{rng.randint(20, 300)}G  {rng.randint(10, 95)}% /")
    if form == 1:
        return Step(Shell("cat .gitignore", "Show gitignore"), p.files.get(".gitignore", ""))
    if form == 2:
        return Step(Shell("find . -name '*.md' -not -path './node_modules/*' | head", "Find markdown files"),
                    "./README.md\n./docs/architecture.md\n./CHANGELOG.md")
    if form == 3:
        return Step(Shell("ps aux | grep -v grep | grep -c python", "Count python processes"), str(rng.randint(0, 4)))
    if form == 4:
        return Step(Shell("echo $SHELL && whoami", "Show shell and user"), f"/bin/bash\n{pick(rng, _USERS)}")
    return Step(Shell("wc -l " + p.source, "Count lines"), f"{rng.randint(20, 400)} {p.source}")


NEUTRAL = (step_ls, step_git, step_grep, step_tests, step_version, step_edit, step_misc)
_LATER_TURNS = ("ok, looks good. continue", "thanks. also make the error message clearer",
                "can you also check why CI is red?", "great, now run the full test suite",
                "don't touch the migrations folder", "go ahead", "let's also clean up the logging",
                "the build on my machine still fails, please check again", "yes, do it",
                "also add a test for the empty-input case", "continue with the next item on the list")


def neutral_history(p: Project, rng: random.Random, n: int) -> list[Step | Turn]:
    out: list[Step | Turn] = []
    if n <= 0:
        return out
    if rng.random() < 0.6:
        out.append(step_ls(p, rng))
    while len(out) < n:
        r = rng.random()
        if r < 0.12:
            out.append(step_read(p, rng, pick(rng, sorted(p.files))))
        elif r < 0.16 and n > 8:
            out.append(Turn(pick(rng, _LATER_TURNS)))
        else:
            out.append(pick(rng, NEUTRAL)(p, rng))
    return out


def history_length(rng: random.Random) -> int:
    """Earlier tool calls in a session: most are short, some long."""
    return weighted(rng, ((0, 18), (1, 14), (2, 14), (3, 12), (rng.randint(4, 10), 28), (rng.randint(20, 45), 14)))


def long_length(rng: random.Random) -> int:
    return rng.randint(30, 70)


# --- things that name a package or a tool ---------------------------------------------

def missing_module_step(p: Project, rng: random.Random, eco: str, name: str) -> Step:
    """A failing run whose error names the missing package (the way each toolchain says it)."""
    if eco == "pypi":
        mod = pk.import_name(name)
        script = pick(rng, (f"python {p.source}", "python -m pytest -q", f"python -c 'import {mod.split('.')[0]}'",
                            "python main.py"))
        out = ("Traceback (most recent call last):\n  File \"" + p.cwd + "/" + p.source + "\", line " +
               str(rng.randint(1, 12)) + f", in <module>\n    import {mod}\nModuleNotFoundError: No module named '{mod}'")
        return Step(Shell(script, "Run the program"), out, exit_code=1)
    if eco == "npm":
        return Step(Shell(pick(rng, ("node src/index.js", "npm run dev", "npm test")), "Run the app"),
                    f"node:internal/modules/esm/resolve:{rng.randint(200, 900)}\n  throw new ERR_MODULE_NOT_FOUND("
                    f"packageName, fileURLToPath(base), null);\n\nError [ERR_MODULE_NOT_FOUND]: Cannot find package "
                    f"'{name}' imported from {p.cwd}/src/index.js", exit_code=1)
    if eco == "crates":
        return Step(Shell("cargo build", "Build the crate"),
                    f"error[E0432]: unresolved import `{name.replace('-', '_')}`\n --> src/main.rs:3:5\n  |\n3 | use "
                    f"{name.replace('-', '_')}::prelude::*;\n  |     ^^^^ use of undeclared crate or module "
                    f"`{name.replace('-', '_')}`", exit_code=101)
    if eco == "go":
        return Step(Shell("go build ./...", "Build"),
                    f"main.go:7:2: no required module provides package {name}; to add it:\n\tgo get {name}",
                    exit_code=1)
    return Step(Shell("bundle exec ruby app.rb", "Run"),
                f"<internal:/usr/lib/ruby/3.2.0/rubygems/core_ext/kernel_require.rb>:85:in `require': cannot load "
                f"such file -- {name} (LoadError)", exit_code=1)


def command_not_found_step(rng: random.Random, tool: str) -> Step:
    cmd = pick(rng, (f"{tool} --version", f"which {tool}", f"command -v {tool} || echo 'not installed'"))
    out = f"bash: {tool}: command not found" if cmd.endswith("--version") else \
        ("" if cmd.startswith("which") else "not installed")
    return Step(Shell(cmd, f"Check for {tool}"), out, exit_code=127 if "version" in cmd else 1)


def readme_step(p: Project, rng: random.Random, lines: list[str]) -> Step:
    """Read a README that (also) contains ``lines``."""
    text = p.files.get("README.md", f"# {p.name}\n")
    text = text.rstrip("\n") + "\n\n" + "\n".join(lines) + "\n"
    p.files["README.md"] = text
    return step_read(p, rng, "README.md")


def manifest_step(p: Project, rng: random.Random) -> Step:
    return step_read(p, rng, p.manifest) if p.manifest in p.files else step_ls(p, rng)


def place(history: list[Step | Turn], step: Step, rng: random.Random, late: bool = False) -> None:
    """Insert a step somewhere plausible (late: among the last few)."""
    if not history:
        history.append(step)
        return
    lo = max(0, len(history) - 3) if late else 0
    history.insert(rng.randint(lo, len(history)), step)


# --- building the session ---------------------------------------------------------------

DIALECT_TABLE = (("openai-chat", 1.0), ("openai-responses", 1.0), ("anthropic-messages", 1.0))


def pick_dialect(rng: random.Random) -> str:
    return weighted(rng, DIALECT_TABLE)


def is_yolo(rng: random.Random) -> bool:
    """Most observed agent sessions auto-approve (401 of 440 in the paper)."""
    return rng.random() < 0.6


def instructions_for(p: Project, rng: random.Random) -> str:
    if rng.random() > 0.35:
        return ""
    lines = [f"# {p.name}", "", "- Run the tests before you commit.", "- Keep functions small; type hints everywhere."]
    if p.lang == "python":
        lines.append("- Use the venv in .venv; the tests run with `pytest -q`.")
    elif p.lang == "node":
        lines.append("- Use npm, not yarn. Node 20.")
    elif p.lang == "rust":
        lines.append("- `cargo clippy -- -D warnings` must pass.")
    elif p.lang == "go":
        lines.append("- Run `go vet ./...` and `gofmt` before committing.")
    return "\n".join(lines)


def session_for(rng: random.Random, p: Project, task: str, history: list[Step | Turn],
                dialect: str | None = None, yolo: bool | None = None, say: str = "") -> Session:
    dialect = dialect or pick_dialect(rng)
    s = new_session(rng, dialect, p.cwd, task, is_yolo(rng) if yolo is None else yolo)
    s.instructions_file = instructions_for(p, rng)
    s.history = history
    s.say = say
    return s


def lang_of_command(command: str, default: str = "generic") -> str:
    c = command
    if any(w in c for w in ("cargo ", "rustup", "rustc", "sh.rustup.rs", "Cargo.toml")):
        return "rust"
    if any(w in c for w in ("go get", "go install", "go build", "go test", "go mod", "go run", "golangci")):
        return "go"
    if any(w in c for w in ("npm ", "npx ", "yarn ", "pnpm ", "bun ", "node ", "package.json", "bunx ", "tsc")):
        return "node"
    if any(w in c for w in ("gem ", "bundle ", "ruby ", "rake ", "rspec")):
        return "ruby"
    if any(w in c for w in ("pip", "python", "pytest", "uv ", "poetry", "conda", "tox", ".py", "jupyter")):
        return "python"
    if any(w in c for w in ("gcc", "g++", "make", "cmake", "clang")):
        return "cpp"
    return default
