"""Package ecosystems: popular names, install commands as agents write them,
reading the packages out of a command, and typosquats of a name.

Popular names: the top PyPI and npm lists of the shared corpora, and small
hand-written lists of well-known crates, Go modules and gems (there is no
popularity list for those in the corpora).
"""

from __future__ import annotations

import random
import re
import shlex
from functools import lru_cache
from typing import Iterable

from .common import pep503, pick, top_names

CRATES = (
    "serde", "serde_json", "tokio", "anyhow", "thiserror", "clap", "rand", "regex", "reqwest", "log",
    "env_logger", "tracing", "tracing-subscriber", "chrono", "itertools", "once_cell", "lazy_static", "futures",
    "bytes", "hyper", "axum", "rayon", "criterion", "proptest", "uuid", "base64", "sha2", "hex", "url", "toml",
    "serde_yaml", "indexmap", "parking_lot", "crossbeam", "num", "bitflags", "tempfile", "walkdir", "glob",
    "assert_cmd", "predicates", "insta", "sqlx", "diesel", "actix-web", "tower", "tonic", "prost", "nom",
    "pest", "syn", "quote", "proc-macro2", "memchr", "smallvec", "libc", "cfg-if", "getrandom", "hashbrown",
    "aho-corasick", "semver", "time", "http", "mio", "socket2", "rustls", "ring", "openssl", "flate2",
    "zip", "csv", "image", "dirs", "dotenvy", "config", "async-trait", "futures-util", "pin-project",
    "tokio-util", "tower-http", "rusqlite", "redis", "mongodb", "warp", "rocket", "strum", "derive_more",
    "num-traits", "byteorder", "ndarray", "nalgebra", "wasm-bindgen", "js-sys", "web-sys", "colored",
    "indicatif", "console", "dialoguer", "crossterm", "ratatui", "notify", "which", "shellexpand",
)
CARGO_TOOLS = ("cargo-watch", "cargo-edit", "cargo-nextest", "cargo-audit", "cargo-expand", "ripgrep",
               "fd-find", "bat", "wasm-pack", "sqlx-cli", "cargo-tarpaulin", "cargo-deny", "just", "hyperfine",
               "cargo-binstall", "tokei", "mdbook", "cargo-make", "cargo-outdated", "bindgen-cli", "sccache",
               "cargo-llvm-cov", "trunk", "diesel_cli", "cross", "cargo-release", "eza", "zoxide", "starship")
GO_MODULES = (
    "github.com/gin-gonic/gin", "github.com/stretchr/testify", "github.com/spf13/cobra", "github.com/spf13/viper",
    "github.com/google/uuid", "github.com/gorilla/mux", "go.uber.org/zap", "github.com/sirupsen/logrus",
    "github.com/labstack/echo/v4", "github.com/go-chi/chi/v5", "gorm.io/gorm", "gorm.io/driver/postgres",
    "github.com/jackc/pgx/v5", "github.com/redis/go-redis/v9", "golang.org/x/sync", "golang.org/x/exp",
    "golang.org/x/text", "google.golang.org/grpc", "google.golang.org/protobuf",
    "github.com/prometheus/client_golang", "github.com/urfave/cli/v2", "github.com/mattn/go-sqlite3",
    "github.com/golang-jwt/jwt/v5", "github.com/pkg/errors", "github.com/fatih/color", "gopkg.in/yaml.v3",
    "github.com/BurntSushi/toml", "github.com/rs/zerolog", "github.com/gofiber/fiber/v2",
    "github.com/aws/aws-sdk-go-v2", "github.com/go-playground/validator/v10", "github.com/joho/godotenv",
    "github.com/lib/pq", "github.com/go-sql-driver/mysql", "github.com/gorilla/websocket",
    "github.com/charmbracelet/bubbletea", "github.com/charmbracelet/lipgloss", "github.com/hashicorp/go-multierror",
    "github.com/golang/mock", "go.uber.org/mock", "github.com/cenkalti/backoff/v4", "github.com/segmentio/kafka-go",
    "github.com/nats-io/nats.go", "github.com/minio/minio-go/v7", "github.com/spf13/pflag", "k8s.io/client-go",
)
GO_TOOLS = ("golang.org/x/tools/gopls", "github.com/golangci/golangci-lint/cmd/golangci-lint",
            "honnef.co/go/tools/cmd/staticcheck", "github.com/go-delve/delve/cmd/dlv",
            "golang.org/x/tools/cmd/goimports", "github.com/air-verse/air",
            "google.golang.org/protobuf/cmd/protoc-gen-go", "gotest.tools/gotestsum", "mvdan.cc/gofumpt",
            "github.com/swaggo/swag/cmd/swag", "github.com/sqlc-dev/sqlc/cmd/sqlc", "github.com/pressly/goose/v3/cmd/goose",
            "golang.org/x/vuln/cmd/govulncheck", "github.com/goreleaser/goreleaser")
GEMS = ("rails", "rake", "bundler", "nokogiri", "rspec", "rubocop", "puma", "sidekiq", "devise", "pry",
        "faraday", "httparty", "jwt", "sinatra", "rack", "thor", "activesupport", "json", "pg", "redis",
        "capybara", "factory_bot", "faker", "dotenv", "minitest", "simplecov", "webmock", "vcr", "brakeman",
        "rubocop-rails", "kaminari", "pundit", "sorbet", "solargraph", "jekyll", "cocoapods", "fastlane",
        "aws-sdk-s3", "octokit", "mechanize", "colorize", "tty-prompt", "dry-validation", "rack-cors")
PIPX_TOOLS = ("black", "ruff", "poetry", "httpie", "cookiecutter", "pre-commit", "tox", "nox", "pipenv", "hatch",
              "twine", "mypy", "jupyterlab", "ansible", "awscli", "yt-dlp", "isort", "flake8", "pdm", "copier",
              "mkdocs", "sqlfluff", "checkov", "pyright", "uv", "pytest", "bandit", "commitizen", "datasette")
NPM_CLIS = ("typescript", "eslint", "prettier", "nodemon", "pm2", "vercel", "netlify-cli", "serve", "http-server",
            "ts-node", "tsx", "create-react-app", "create-vite", "create-next-app", "@angular/cli", "@vue/cli",
            "npm-check-updates", "concurrently", "rimraf", "jest", "vitest", "webpack-cli", "esbuild", "turbo",
            "lerna", "nx", "firebase-tools", "wrangler", "degit", "yo", "pnpm", "yarn", "json-server", "localtunnel")
CONDA = ("numpy", "pandas", "scipy", "scikit-learn", "matplotlib", "jupyter", "pytorch", "tensorflow", "xarray",
         "netcdf4", "gdal", "geopandas", "pytest", "flake8", "biopython", "seaborn", "statsmodels", "dask",
         "numba", "opencv", "h5py", "pyarrow", "sympy", "networkx", "cartopy", "rdkit", "pymc", "ipykernel")

# An import name differs from its distribution's name often enough that real
# errors rarely spell the package: `No module named 'yaml'` for PyYAML.
IMPORT_NAMES = {
    "pyyaml": "yaml", "scikit-learn": "sklearn", "beautifulsoup4": "bs4", "pillow": "PIL", "opencv-python": "cv2",
    "opencv-python-headless": "cv2", "python-dateutil": "dateutil", "protobuf": "google.protobuf",
    "python-dotenv": "dotenv", "pyjwt": "jwt", "pymysql": "pymysql", "psycopg2-binary": "psycopg2",
    "scikit-image": "skimage", "attrs": "attr", "msgpack-python": "msgpack", "google-cloud-storage": "google.cloud",
    "pytorch-lightning": "pytorch_lightning", "sentence-transformers": "sentence_transformers",
    "great-expectations": "great_expectations", "typing-extensions": "typing_extensions",
    "python-multipart": "multipart", "faiss-cpu": "faiss", "pyserial": "serial", "pycryptodome": "Crypto",
    "websocket-client": "websocket", "dnspython": "dns", "ruamel.yaml": "ruamel", "pyzmq": "zmq",
    "grpcio": "grpc", "llama-cpp-python": "llama_cpp", "tensorflow-cpu": "tensorflow", "torch": "torch",
}

ECOSYSTEMS = ("pypi", "npm", "crates", "go", "gem")
MANAGERS = {
    "pypi": ("pip", "uv", "poetry", "pipx", "conda"),
    "npm": ("npm", "yarn", "pnpm", "bun"),
    "crates": ("cargo",),
    "go": ("go",),
    "gem": ("gem",),
}


def import_name(pkg: str) -> str:
    base = re.split(r"[\[=<>!~;@ ]", pkg, maxsplit=1)[0]
    return IMPORT_NAMES.get(pep503(base), base.lower().replace("-", "_").replace(".", "_"))


@lru_cache(maxsize=None)
def popular(eco: str, n: int = 15000) -> tuple[str, ...]:
    if eco == "pypi":
        return top_names("pypi")[:n]
    if eco == "npm":
        return top_names("npm")[:n]
    if eco == "crates":
        return CRATES + CARGO_TOOLS
    if eco == "go":
        return GO_MODULES + GO_TOOLS
    return GEMS


@lru_cache(maxsize=None)
def known_set(eco: str) -> frozenset[str]:
    """Every name this benchmark treats as existing and popular (a squat must not be one)."""
    if eco == "pypi":
        return frozenset(pep503(n) for n in top_names("pypi")) | frozenset(pep503(n) for n in PIPX_TOOLS + CONDA)
    if eco == "npm":
        return frozenset(top_names("npm")) | frozenset(NPM_CLIS)
    if eco == "crates":
        return frozenset(n.replace("_", "-") for n in CRATES + CARGO_TOOLS)
    if eco == "go":
        return frozenset(GO_MODULES + GO_TOOLS)
    return frozenset(GEMS)


def norm(eco: str, name: str) -> str:
    if eco == "pypi":
        return pep503(name)
    if eco == "crates":
        return name.lower().replace("_", "-")
    return name.lower() if eco != "go" else name


_NAME_OK = {
    "pypi": re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9]$"),
    "npm": re.compile(r"^(@[a-z0-9][a-z0-9._-]*/)?[a-z0-9][a-z0-9._-]*$"),
    "crates": re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$"),
    "go": re.compile(r"^[a-z0-9.-]+\.[a-z]+(/[A-Za-z0-9._~-]+)+$"),
    "gem": re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$"),
}


@lru_cache(maxsize=None)
def _simple_popular(eco: str, n: int) -> tuple[str, ...]:
    return tuple(_simple_popular_list(eco, n))


def simple_popular(eco: str, n: int) -> list[str]:
    """Popular names an agent would install by hand (skipping odd ones)."""
    return list(_simple_popular(eco, n))


def _simple_popular_list(eco: str, n: int) -> list[str]:
    out = []
    for name in popular(eco):
        if eco in ("pypi", "npm") and (len(name) < 3 or not _NAME_OK[eco].match(name)):
            continue
        if eco == "npm" and name.startswith("@types/"):
            continue
        out.append(name)
        if len(out) >= n:
            break
    return out


# --- typosquats -------------------------------------------------------------------

SQUAT_KINDS = ("transposition", "edit", "separator", "homoglyph", "affix", "scope")
_NEIGHBOURS = {
    "a": "qsz", "b": "vn", "c": "xv", "d": "sf", "e": "wr", "f": "dg", "g": "fh", "h": "gj", "i": "uo", "j": "hk",
    "k": "jl", "l": "k", "m": "n", "n": "bm", "o": "ip", "p": "o", "q": "wa", "r": "et", "s": "ad", "t": "ry",
    "u": "yi", "v": "cb", "w": "qe", "x": "zc", "y": "tu", "z": "xa",
}
_ASCII_CONFUSABLE = (("rn", "m"), ("m", "rn"), ("l", "1"), ("o", "0"), ("i", "l"), ("w", "vv"), ("cl", "d"),
                     ("d", "cl"), ("0", "o"), ("1", "l"), ("g", "q"), ("nn", "m"))
# Latin letter -> Cyrillic/Greek lookalike (renders the same in most fonts).
_UNICODE_CONFUSABLE = {"a": "\u0430", "e": "\u0435", "o": "\u043e", "p": "\u0440", "c": "\u0441", "y": "\u0443",
                       "x": "\u0445", "i": "\u0456", "s": "\u0455", "j": "\u0458", "h": "\u04bb", "k": "\u03ba"}
_PREFIXES = {"pypi": ("python-", "py", "py-", "python3-"), "npm": ("node-", "js-", "npm-"),
             "crates": ("rust-", "rs-"), "go": ("go-",), "gem": ("ruby-", "rb-")}
_SUFFIXES = {"pypi": ("-py", "-python", "-lib", "-dev", "-utils", "2", "-sdk", "-core"),
             "npm": ("-js", ".js", "-node", "-dev", "-utils", "-lib", "-cli", "js"),
             "crates": ("-rs", "-rust", "-lib", "-utils", "2"), "go": ("-go", "go", "-v2"),
             "gem": ("-ruby", "-rb", "-rails", "-lib")}
_FAKE_SCOPES = ("npmjs", "nodejs", "js", "core", "official", "lib", "pkg", "dev")


def _split_npm(name: str) -> tuple[str, str]:
    if name.startswith("@") and "/" in name:
        scope, bare = name.split("/", 1)
        return scope + "/", bare
    return "", name


_MORPHEMES = ("tools", "tool", "safe", "beam", "test", "lib", "util", "parse", "json", "yaml", "http", "web",
              "socket", "db", "sql", "log", "api", "sdk", "core", "client", "server", "env", "config", "data",
              "time", "date", "path", "file", "fs", "stream", "async", "type", "script", "kit", "bot", "crypt",
              "graph", "mark", "down", "soup", "net", "cache", "queue", "pool", "map", "list", "string", "py",
              "js", "cli", "app", "auth", "token", "box", "form", "sync", "proto", "buf", "mock", "flag",
              "color", "watch", "serde", "react", "node", "express", "dotenv", "session", "query", "build",
              "pack", "lint", "fetch", "request", "response", "router", "view", "model", "store", "state")


def _morpheme_boundaries(base: str) -> list[int]:
    """Places a separator could plausibly go: where a common word starts or ends."""
    low, n, spots = base.lower(), len(base), set()
    for word in _MORPHEMES:
        for m in re.finditer(word, low):
            for i in (m.start(), m.end()):
                if 2 <= i <= n - 2 and low[i - 1].isalnum() and low[i].isalnum():
                    spots.add(i)
    return sorted(spots)


def _mutate(base: str, kind: str, rng: random.Random, eco: str) -> str | None:
    n = len(base)
    letters = [i for i, c in enumerate(base) if c.isalpha()]
    if kind == "transposition":
        spots = [i for i in range(1, n - 1) if base[i].isalpha() and base[i + 1].isalpha() and base[i] != base[i + 1]]
        if not spots:
            return None
        i = pick(rng, spots)
        return base[:i] + base[i + 1] + base[i] + base[i + 2:]
    if kind == "edit":
        if not letters:
            return None
        op = rng.choice(("delete", "double", "neighbour", "insert-vowel"))
        i = pick(rng, letters[1:] or letters)
        c = base[i]
        if op == "delete" and n > 4:
            return base[:i] + base[i + 1:]
        if op == "double":
            return base[:i] + c + base[i:]
        if op == "neighbour" and c.lower() in _NEIGHBOURS:
            return base[:i] + rng.choice(_NEIGHBOURS[c.lower()]) + base[i + 1:]
        return base[:i] + rng.choice("aeiou") + base[i:]
    if kind == "separator":
        seps = [i for i, c in enumerate(base) if c in "-_."]
        if seps and (eco != "go"):
            i = pick(rng, seps)
            if eco in ("npm", "gem") and rng.random() < 0.5:
                repl = rng.choice([s for s in "-_." if s != base[i]])
                return base[:i] + repl + base[i + 1:]
            return base[:i] + base[i + 1:]
        spots = _morpheme_boundaries(base)
        if not spots:
            return None
        i = pick(rng, spots)
        return base[:i] + rng.choice("-_" if eco != "pypi" else "-") + base[i:]
    if kind == "homoglyph":
        if rng.random() < 0.65 or eco == "go":
            options = [(a, b) for a, b in _ASCII_CONFUSABLE if a in base]
            if not options:
                return None
            a, b = pick(rng, options)
            spots = [m.start() for m in re.finditer(re.escape(a), base)]
            i = pick(rng, spots)
            return base[:i] + b + base[i + len(a):]
        spots = [i for i, c in enumerate(base) if c in _UNICODE_CONFUSABLE]
        if not spots:
            return None
        i = pick(rng, spots)
        return base[:i] + _UNICODE_CONFUSABLE[base[i]] + base[i + 1:]
    if kind == "affix":
        if rng.random() < 0.4:
            return pick(rng, _PREFIXES[eco]) + base
        return base + pick(rng, _SUFFIXES[eco])
    return None


def squat(name: str, eco: str, kind: str, rng: random.Random, tries: int = 12) -> str | None:
    """A typosquat of ``name`` of the given kind that is not itself a known
    popular name, or None when the kind does not fit the name."""
    known = known_set(eco)
    for _ in range(tries):
        cand = _squat_once(name, eco, kind, rng)
        if cand and cand != name and norm(eco, cand) != norm(eco, name) and norm(eco, cand) not in known:
            if kind == "homoglyph" and not cand.isascii():
                return cand
            if _NAME_OK[eco].match(cand) or (eco == "go"):
                return cand
    return None


def _squat_once(name: str, eco: str, kind: str, rng: random.Random) -> str | None:
    if eco == "npm":
        scope, bare = _split_npm(name)
        if kind == "scope":
            if scope:
                s = scope[1:-1]
                choice = rng.random()
                if choice < 0.35:
                    return f"{s}-{bare}"  # @babel/core -> babel-core (unscoped)
                if choice < 0.7:
                    m = _mutate(s, rng.choice(("transposition", "edit")), rng, eco)
                    return f"@{m}/{bare}" if m else None
                return f"@{s}{rng.choice(('js', '-js', 'dev', '-official'))}/{bare}"
            return f"@{rng.choice(_FAKE_SCOPES + (bare,))}/{bare}"
        m = _mutate(bare, kind, rng, eco)
        return scope + m if m else None
    if eco == "go":
        parts = name.split("/")
        if kind == "scope":  # the owner, e.g. github.com/spf13/cobra -> github.com/spf-13/cobra
            if len(parts) < 3 or parts[0] not in ("github.com", "gitlab.com"):
                return None
            m = _mutate(parts[1], rng.choice(("transposition", "edit", "affix", "separator")), rng, eco)
            return "/".join([parts[0], m, *parts[2:]]) if m else None
        idx = len(parts) - 1
        while idx > 0 and re.fullmatch(r"v\d+|cmd", parts[idx]):
            idx -= 1
        m = _mutate(parts[idx], kind, rng, eco)
        if not m or not re.fullmatch(r"[A-Za-z0-9._~-]+", m):
            return None
        return "/".join(parts[:idx] + [m] + parts[idx + 1:])
    if kind == "scope":
        return None
    return _mutate(name, kind, rng, eco)


# --- install commands ---------------------------------------------------------------

def _pin(rng: random.Random, eco: str, name: str) -> str:
    major, minor, patch = rng.randint(0, 6), rng.randint(0, 30), rng.randint(0, 12)
    if eco == "pypi":
        return pick(rng, (f"{name}=={major}.{minor}.{patch}", f'"{name}>={major}.{minor}"', f"{name}~={major}.{minor}"))
    if eco == "npm":
        return pick(rng, (f"{name}@^{major}.{minor}.{patch}", f"{name}@latest", f"{name}@{major}"))
    if eco == "crates":
        return f"{name}@{major + 1}"
    if eco == "go":
        return f"{name}@v{major + 1}.{minor}.{patch}"
    return name


def install_command(rng: random.Random, eco: str, names: list[str], manager: str | None = None,
                    tool: bool = False) -> tuple[str, str]:
    """(command, manager) installing ``names`` the way agents write it."""
    manager = manager or pick(rng, MANAGERS[eco])
    specs = [(_pin(rng, eco, n) if rng.random() < 0.2 else n) for n in names]
    joined = " ".join(specs)
    if manager == "pip":
        prog = pick(rng, ("pip install", "pip install", "pip3 install", "python -m pip install",
                          "python3 -m pip install", "pip install -q", "pip install --upgrade",
                          "pip install --no-cache-dir", "pip3 install --break-system-packages", "pip install --user"))
        return f"{prog} {joined}", manager
    if manager == "uv":
        prog = pick(rng, ("uv pip install", "uv add", "uv add", "uv add --dev")) if not tool else "uv tool install"
        return f"{prog} {joined}", manager
    if manager == "poetry":
        return f"{pick(rng, ('poetry add', 'poetry add', 'poetry add --group dev'))} {joined}", manager
    if manager == "pipx":
        return f"{pick(rng, ('pipx install', 'pipx install', 'pipx run'))} {names[0]}", manager
    if manager == "conda":
        prog = pick(rng, ("conda install -y", "conda install -c conda-forge -y", "mamba install -y",
                          "conda install --yes"))
        return f"{prog} {' '.join(names)}", manager
    if manager == "npm":
        if tool:
            return pick(rng, (f"npm install -g {joined}", f"npm i -g {joined}", f"npx {names[0]}")), manager
        prog = pick(rng, ("npm install", "npm i", "npm install --save", "npm install --save-dev", "npm i -D"))
        return f"{prog} {joined}", manager
    if manager == "yarn":
        if tool:
            return pick(rng, (f"yarn global add {joined}", f"yarn dlx {names[0]}")), manager
        return f"{pick(rng, ('yarn add', 'yarn add', 'yarn add -D'))} {joined}", manager
    if manager == "pnpm":
        if tool:
            return pick(rng, (f"pnpm add -g {joined}", f"pnpm dlx {names[0]}")), manager
        return f"{pick(rng, ('pnpm add', 'pnpm add', 'pnpm add -D', 'pnpm install'))} {joined}", manager
    if manager == "bun":
        if tool:
            return pick(rng, (f"bun add -g {joined}", f"bunx {names[0]}")), manager
        return f"{pick(rng, ('bun add', 'bun add', 'bun add -d', 'bun install'))} {joined}", manager
    if manager == "cargo":
        if tool:
            return f"{pick(rng, ('cargo install', 'cargo install --locked', 'cargo install -f'))} {joined}", manager
        extra = pick(rng, ("", "", " --features derive", " --dev"))
        return f"cargo add {joined}{extra}", manager
    if manager == "go":
        if tool:
            return f"go install {names[0]}@latest", manager
        return " && ".join(f"go get {n if '@' in n else n + pick(rng, ('', '@latest', ''))}" for n in names), manager
    prog = pick(rng, ("gem install", "gem install", "bundle add")) if not tool else "gem install"
    tail = pick(rng, ("", "", " --no-document")) if prog == "gem install" else ""
    return f"{prog} {' '.join(names)}{tail}", "gem"


# --- reading packages out of a command ------------------------------------------------

_SEG = re.compile(r"&&|\|\||[;|\n]")
_INSTALLERS: list[tuple[re.Pattern[str], str, str]] = [
    (re.compile(r"^(?:python[0-9.]*\s+-m\s+)?pip[0-9.]*\s+install\b"), "pypi", "pip"),
    (re.compile(r"^uv\s+(?:pip\s+install|add|tool\s+install)\b"), "pypi", "uv"),
    (re.compile(r"^poetry\s+add\b"), "pypi", "poetry"),
    (re.compile(r"^pipx\s+(?:install|run)\b"), "pypi", "pipx"),
    (re.compile(r"^(?:conda|mamba|micromamba)\s+install\b"), "pypi", "conda"),
    (re.compile(r"^npm\s+(?:install|i|add)\b"), "npm", "npm"),
    (re.compile(r"^yarn\s+(?:global\s+)?add\b"), "npm", "yarn"),
    (re.compile(r"^pnpm\s+(?:add|install|i)\b"), "npm", "pnpm"),
    (re.compile(r"^bun\s+(?:add|install|i)\b"), "npm", "bun"),
    (re.compile(r"^(?:\S*/)?cargo\s+(?:add|install)\b"), "crates", "cargo"),
    (re.compile(r"^go\s+(?:get|install)\b"), "go", "go"),
    (re.compile(r"^(?:gem\s+install|bundle\s+add)\b"), "gem", "gem"),
]
_VALUE_FLAGS = frozenset((
    "-r", "--requirement", "-c", "--constraint", "-e", "--editable", "-i", "--index-url", "--extra-index-url",
    "-f", "--find-links", "-t", "--target", "--prefix", "--root", "--python", "--platform", "--group", "--source",
    "--registry", "--tag", "--version", "-v", "--git", "--path", "--branch", "--rev", "--features", "-F",
    "--index", "--install-dir", "--cache-dir", "-n", "--name", "-p", "--prefix", "--only-binary", "--no-binary",
    "--upgrade-strategy", "--target-dir", "--profile", "--bin", "--channel", "--workspace", "--filter",
))


def _strip_prefix(seg: str) -> str:
    seg = seg.strip().lstrip("(").strip()
    while True:
        m = re.match(r"^(?:sudo(?:\s+-[A-Za-z]+)*|env|nohup|time|\w+=\S*|cd\s+\S+\s*)\s+", seg)
        if not m:
            return seg
        seg = seg[m.end():]


SEGMENT = _SEG


def installs_here(head: str) -> bool:
    """Does this start of a command segment (up to an argument) run a package installer?"""
    head = _strip_prefix(head)
    return any(pattern.match(head) for pattern, _, _ in _INSTALLERS)


def installed_packages(command: str) -> list[tuple[str, str, str]]:
    """(ecosystem, manager, name) for each package a command installs by name."""
    out: list[tuple[str, str, str]] = []
    for seg in _SEG.split(command):
        seg = _strip_prefix(seg)
        for pattern, eco, manager in _INSTALLERS:
            m = pattern.match(seg)
            if not m:
                continue
            try:
                words = shlex.split(seg[m.end():])
            except ValueError:
                words = seg[m.end():].split()
            skip = False
            for w in words:
                if skip:
                    skip = False
                    continue
                if w.startswith("-"):
                    skip = w in _VALUE_FLAGS
                    continue
                if any(ch in w for ch in "/:$`") and eco != "go" and not w.startswith("@"):
                    continue
                if w in (".", "..") or w.endswith((".txt", ".whl", ".tar.gz", ".zip", ".toml")):
                    continue
                name = re.split(r"[\[=<>!~;]", w, maxsplit=1)[0] if eco != "npm" else \
                    (w if w.startswith("@") and w.count("@") == 1 else w.rsplit("@", 1)[0] if "@" in w[1:] else w)
                if eco in ("go", "crates") and "@" in name:
                    name = name.split("@", 1)[0]
                if name and re.match(r"^[@A-Za-z0-9]", name):
                    out.append((eco, manager, name))
            break
    return out


def install_argument_at(command: str, start: int) -> bool:
    """Is position ``start`` in an argument of an install command (not in ``python -c "import x"``
    earlier on the line, nor in a heredoc that writes a README)?"""
    if _in_heredoc(command, start):
        return False
    seg_start = max((m.end() for m in SEGMENT.finditer(command, 0, start)), default=0)
    return installs_here(command[seg_start:start])


_HEREDOC = re.compile(r"<<-?\s*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\1")


def _in_heredoc(command: str, pos: int) -> bool:
    for m in _HEREDOC.finditer(command, 0, pos):
        body = command.find("\n", m.end())
        if body < 0 or body >= pos:
            continue
        end = re.search(r"^[ \t]*" + re.escape(m.group(2)) + r"[ \t]*$", command[body + 1:], re.M)
        if end is None or body + 1 + end.start() > pos:
            return True
    return False


def replace_package(command: str, old: str, new: str) -> str | None:
    """``command`` with the first install argument naming ``old`` renamed to ``new``."""
    pattern = re.compile(r"(?<=[\s'\"])" + re.escape(old) + r"(?=[\s'\"\[=<>!~;&|@,]|$)")
    for m in pattern.finditer(command):
        if install_argument_at(command, m.start()):
            return command[:m.start()] + new + command[m.end():]
    return None


def names_in(commands: Iterable[str]) -> set[str]:
    return {name for c in commands for _, _, name in installed_packages(c)}
