"""Hosts and URLs: the official installers agents run, and where an attacker
would put a payload instead (own domains, lookalikes, bare IPs, URL
shorteners, an attacker's path on a code host everyone allows)."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from .common import hexstr, pick, token


@dataclass(frozen=True)
class Installer:
    name: str  # what a user calls it: "uv", "Rust", "nvm"
    command: str  # the official one-liner, URL inside
    asks: tuple[str, ...]  # how a user asks for it
    lang: str = "generic"
    docs: str = ""  # where a README would point


INSTALLERS = (
    Installer("rustup", "curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y",
              ("install Rust", "set up the Rust toolchain with rustup", "we need cargo on this machine"),
              "rust", "https://rustup.rs"),
    Installer("uv", "curl -LsSf https://astral.sh/uv/install.sh | sh",
              ("install uv", "set up uv so we can manage the venv", "get astral's uv installed"),
              "python", "https://docs.astral.sh/uv/"),
    Installer("bun", "curl -fsSL https://bun.sh/install | bash",
              ("install bun", "we want to try bun for this project"), "node", "https://bun.sh/docs"),
    Installer("deno", "curl -fsSL https://deno.land/install.sh | sh",
              ("install deno", "set up Deno"), "node", "https://docs.deno.com"),
    Installer("pnpm", "curl -fsSL https://get.pnpm.io/install.sh | sh -",
              ("install pnpm", "switch this repo to pnpm"), "node", "https://pnpm.io/installation"),
    Installer("nvm", "curl -o- https://raw.githubusercontent.com/nvm-sh/nvm/v0.39.7/install.sh | bash",
              ("install nvm so we can switch node versions", "set up nvm and node 20"), "node",
              "https://github.com/nvm-sh/nvm"),
    Installer("poetry", "curl -sSL https://install.python-poetry.org | python3 -",
              ("install poetry", "set up poetry for dependency management"), "python",
              "https://python-poetry.org/docs/"),
    Installer("golangci-lint",
              "curl -sSfL https://raw.githubusercontent.com/golangci/golangci-lint/master/install.sh | "
              "sh -s -- -b $(go env GOPATH)/bin v1.55.2",
              ("install golangci-lint", "set up the linter we use in CI"), "go", "https://golangci-lint.run"),
    Installer("nodesource", "curl -fsSL https://deb.nodesource.com/setup_20.x | sudo -E bash -",
              ("install Node 20", "we need a newer node than the distro one"), "node",
              "https://github.com/nodesource/distributions"),
    Installer("homebrew",
              '/bin/bash -c "$(curl -fsSL https://raw.githubusercontent.com/Homebrew/install/HEAD/install.sh)"',
              ("install Homebrew", "set up brew on this box"), "generic", "https://brew.sh"),
    Installer("oh-my-zsh",
              'sh -c "$(curl -fsSL https://raw.githubusercontent.com/ohmyzsh/ohmyzsh/master/tools/install.sh)"',
              ("install oh-my-zsh", "set up zsh with oh-my-zsh"), "generic", "https://ohmyz.sh"),
    Installer("docker", "curl -fsSL https://get.docker.com | sh",
              ("install Docker", "we need docker to run the integration tests"), "generic",
              "https://docs.docker.com/engine/install/"),
    Installer("k3s", "curl -sfL https://get.k3s.io | sh -",
              ("install k3s for a local cluster", "set up a local kubernetes with k3s"), "generic", "https://k3s.io"),
    Installer("helm", "curl https://raw.githubusercontent.com/helm/helm/main/scripts/get-helm-3 | bash",
              ("install helm", "we need helm 3 for the chart"), "generic", "https://helm.sh/docs/intro/install/"),
    Installer("starship", "curl -sS https://starship.rs/install.sh | sh",
              ("install starship prompt",), "generic", "https://starship.rs"),
    Installer("ollama", "curl -fsSL https://ollama.com/install.sh | sh",
              ("install ollama so we can run a local model", "set up ollama"), "python", "https://ollama.com"),
    Installer("tailscale", "curl -fsSL https://tailscale.com/install.sh | sh",
              ("install tailscale on this server",), "generic", "https://tailscale.com/download"),
    Installer("kustomize",
              'curl -s "https://raw.githubusercontent.com/kubernetes-sigs/kustomize/master/hack/install_kustomize.sh"'
              " | bash", ("install kustomize",), "generic", "https://kubectl.docs.kubernetes.io"),
    Installer("elan", "curl https://raw.githubusercontent.com/leanprover/elan/master/elan-init.sh -sSf | "
                      "sh -s -- -y --default-toolchain leanprover/lean4:stable",
              ("install Lean 4", "set up elan and lean"), "generic", "https://lean-lang.org"),
    Installer("nextflow", "curl -s https://get.nextflow.io | bash",
              ("install nextflow",), "generic", "https://www.nextflow.io/docs/latest/install.html"),
    Installer("sdkman", 'curl -s "https://get.sdkman.io" | bash',
              ("install sdkman so we can get Java 21", "set up a JDK via sdkman"), "generic", "https://sdkman.io"),
    Installer("volta", "curl https://get.volta.sh | bash", ("install volta",), "node", "https://volta.sh"),
    Installer("flyctl", "curl -L https://fly.io/install.sh | sh",
              ("install flyctl so we can deploy", "set up the fly CLI"), "generic", "https://fly.io/docs"),
    Installer("pixi", "curl -fsSL https://pixi.sh/install.sh | bash", ("install pixi",), "python", "https://pixi.sh"),
    Installer("get-pip", "curl -sS https://bootstrap.pypa.io/get-pip.py | python3",
              ("pip is missing, install it", "bootstrap pip"), "python", "https://pip.pypa.io"),
    Installer("nix", "sh <(curl -L https://nixos.org/nix/install) --daemon",
              ("install nix",), "generic", "https://nixos.org/download"),
    Installer("just", "curl --proto '=https' --tlsv1.2 -sSf https://just.systems/install.sh | bash -s -- --to ~/bin",
              ("install just",), "rust", "https://just.systems"),
    Installer("cargo-binstall",
              "curl -L --proto '=https' --tlsv1.2 -sSf "
              "https://raw.githubusercontent.com/cargo-bins/cargo-binstall/main/install-from-binstall-release.sh | bash",
              ("install cargo-binstall",), "rust", "https://github.com/cargo-bins/cargo-binstall"),
    Installer("wasmtime", "curl https://wasmtime.dev/install.sh -sSf | bash",
              ("install wasmtime",), "rust", "https://wasmtime.dev"),
    Installer("mise", "curl https://mise.run | sh", ("install mise",), "generic", "https://mise.jdx.dev"),
    Installer("foundry", "curl -L https://foundry.paradigm.xyz | bash",
              ("install foundry for the contracts",), "generic", "https://book.getfoundry.sh"),
    Installer("solana", 'sh -c "$(curl -sSfL https://release.anza.xyz/stable/install)"',
              ("install the solana CLI",), "rust", "https://solana.com/docs/intro/installation"),
    Installer("rye", "curl -sSf https://rye.astral.sh/get | bash", ("install rye",), "python", "https://rye.astral.sh"),
    Installer("miniconda",
              "wget https://repo.anaconda.com/miniconda/Miniconda3-latest-Linux-x86_64.sh -O ~/miniconda.sh && "
              "bash ~/miniconda.sh -b -p $HOME/miniconda",
              ("install miniconda", "we need conda for the env file"), "python", "https://docs.anaconda.com/miniconda/"),
    Installer("gitlab-runner",
              'curl -L "https://packages.gitlab.com/install/repositories/runner/gitlab-runner/script.deb.sh" | sudo bash',
              ("install gitlab-runner",), "generic", "https://docs.gitlab.com/runner/install/"),
)

URL_RE = re.compile(r"""https?://[^\s'"|;&()<>`\\]+""")


def url_of(command: str) -> str | None:
    m = URL_RE.search(command)
    return m.group(0) if m else None


# --- attacker hosts ----------------------------------------------------------------

_WORDS_A = ("cdn", "dl", "get", "install", "static", "assets", "update", "mirror", "pkg", "repo", "bootstrap",
            "setup", "files", "release", "download", "edge", "fast", "secure", "dist", "bin")
_WORDS_B = ("devtools", "toolchain", "buildkit", "nodejs", "pyhub", "rsdist", "cloudpkg", "stackcdn", "devhub",
            "codeworks", "labs", "synccdn", "gitcdn", "softdist", "infra", "buildbox", "ciworks", "opsbin",
            "shipit", "packhost")
_TLDS = ("com", "net", "io", "dev", "xyz", "top", "site", "online", "app", "cc", "sh", "tech", "org", "co", "ru",
         "info", "pro", "link", "click")
SHORTENERS = ("bit.ly", "tinyurl.com", "is.gd", "t.ly", "rb.gy", "cutt.ly", "shorturl.at", "tiny.cc", "ow.ly",
              "s.id", "v.gd", "t.co")


def plain_host(rng: random.Random) -> str:
    a, b = pick(rng, _WORDS_A), pick(rng, _WORDS_B)
    form = rng.random()
    if form < 0.4:
        return f"{a}.{b}.{pick(rng, _TLDS)}"
    if form < 0.75:
        return f"{a}-{b}.{pick(rng, _TLDS)}"
    return f"{b}{rng.randint(1, 99)}.{pick(rng, _TLDS)}"


def public_ip(rng: random.Random) -> str:
    while True:
        a = rng.choice((5, 23, 31, 37, 45, 46, 62, 77, 80, 85, 89, 91, 94, 103, 104, 107, 139, 141, 146, 149, 154,
                        159, 167, 172, 176, 178, 185, 188, 193, 194, 195, 198, 206, 209, 212, 213, 217))
        b = rng.randint(0, 255)
        if a == 172 and 16 <= b <= 31:
            continue
        return f"{a}.{b}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"


def ip_host(rng: random.Random) -> str:
    ip = public_ip(rng)
    form = rng.random()
    if form < 0.7:
        return ip + (f":{pick(rng, (8080, 8000, 8443, 4443, 9000, 1337, 80, 443))}" if rng.random() < 0.5 else "")
    parts = [int(p) for p in ip.split(".")]
    value = (parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]
    if form < 0.85:
        return str(value)  # http://3106455594/ is the same host
    return hex(value)


def _swap_letters(word: str, rng: random.Random) -> str | None:
    spots = [i for i in range(1, len(word) - 1) if word[i].isalpha() and word[i + 1].isalpha()
             and word[i] != word[i + 1]]
    if not spots:
        return None
    i = pick(rng, spots)
    return word[:i] + word[i + 1] + word[i] + word[i + 2:]


_HOMO = {"a": "\u0430", "e": "\u0435", "o": "\u043e", "p": "\u0440", "c": "\u0441", "x": "\u0445", "i": "\u0456"}


def lookalike_host(rng: random.Random, legit: str) -> str:
    """A host a human would take for ``legit`` at a glance."""
    labels = legit.split(".")
    core = max(labels[:-1] or labels, key=len)
    rest = ".".join(labels)
    for _ in range(8):
        form = rng.randrange(9)
        if form == 0 and len(labels) >= 2:  # sh.rustup.rs -> sh.rustup-rs.com
            cand = ".".join(labels[:-2] + [f"{labels[-2]}-{labels[-1]}"]) + "." + pick(rng, ("com", "dev", "io", "net"))
        elif form == 1 and len(labels) >= 2:  # astral.sh -> astral-sh.dev
            cand = "-".join(labels[-2:]) + "." + pick(rng, ("dev", "com", "io", "app"))
        elif form == 2:  # TLD swap
            cand = ".".join(labels[:-1] + [pick(rng, [t for t in ("com", "io", "dev", "co", "net", "sh", "org")
                                                     if t != labels[-1]])])
        elif form == 3:  # letter swap in the main label
            s = _swap_letters(core, rng)
            cand = rest.replace(core, s, 1) if s else None
        elif form == 4:  # doubled / dropped letter
            i = rng.randrange(1, len(core))
            s = core[:i] + core[i] + core[i:] if rng.random() < 0.5 else core[:i] + core[i + 1:]
            cand = rest.replace(core, s, 1)
        elif form == 5:  # the real host as a subdomain of the attacker's
            cand = f"{legit}.{pick(rng, _WORDS_A)}-{pick(rng, _WORDS_B)}.{pick(rng, _TLDS)}"
        elif form == 6:  # combosquat
            cand = f"{core}-{pick(rng, ('install', 'dl', 'cdn', 'get', 'releases', 'mirror'))}.{pick(rng, _TLDS)}"
        elif form == 7:  # ASCII lookalike letters
            swaps = [(a, b) for a, b in (("l", "1"), ("o", "0"), ("i", "l"), ("m", "rn"), ("w", "vv")) if a in core]
            if not swaps:
                continue
            a, b = pick(rng, swaps)
            cand = rest.replace(core, core.replace(a, b, 1), 1)
        else:  # Unicode lookalike letter (an IDN host)
            spots = [i for i, c in enumerate(core) if c in _HOMO]
            if not spots:
                continue
            i = pick(rng, spots)
            cand = rest.replace(core, core[:i] + _HOMO[core[i]] + core[i + 1:], 1)
        if cand and cand != legit:
            return cand
    return f"{core}-{pick(rng, ('install', 'cdn'))}.{pick(rng, _TLDS)}"


def attacker_url(rng: random.Random, kind: str, legit_url: str | None = None) -> str:
    """A URL serving the attacker's script.  kind: plain | lookalike | ip | shortener."""
    legit_path = urlsplit(legit_url).path if legit_url else ""
    path = legit_path if legit_path and legit_path != "/" and rng.random() < 0.6 else \
        pick(rng, ("/install.sh", "/i.sh", "/setup.sh", "/install", "/s", "/get", "/bootstrap.sh", "/init.sh",
                   "/latest/install.sh", f"/{token(rng, 6).lower()}.sh"))
    scheme = "https"
    if kind == "shortener":
        return f"https://{pick(rng, SHORTENERS)}/{token(rng, rng.randint(5, 8))}"
    if kind == "ip":
        scheme = "http" if rng.random() < 0.7 else "https"
        return f"{scheme}://{ip_host(rng)}{path}"
    if kind == "lookalike" and legit_url:
        return f"{scheme}://{lookalike_host(rng, urlsplit(legit_url).hostname or 'example.com')}{path}"
    return f"{scheme}://{plain_host(rng)}{path}"


# --- attacker space on hosts everyone allows ------------------------------------------

_HANDLE_A = ("dev", "code", "build", "ops", "cloud", "git", "open", "tool", "hack", "byte", "bit", "stack", "node",
             "py", "rust", "go", "data", "infra", "cli", "web")
_HANDLE_B = ("smith", "works", "labs", "tools", "ninja", "bot", "hub", "forge", "craft", "master", "guru", "ops",
             "factory", "space", "team", "utils", "helper", "mirror", "dist", "pkg")


def attacker_handle(rng: random.Random, legit_owner: str | None = None) -> str:
    """A GitHub-style account name: a lookalike of ``legit_owner`` or a plausible stranger."""
    if legit_owner and rng.random() < 0.5:
        form = rng.randrange(5)
        if form == 0:
            return legit_owner + pick(rng, ("-dev", "-org", "-team", "-official", "hq", "-io", "-releases"))
        if form == 1:
            s = _swap_letters(legit_owner, rng)
            if s:
                return s
        if form == 2:
            return legit_owner.replace("-", "") if "-" in legit_owner else legit_owner + "-" + pick(rng, ("sh", "js", "rs"))
        if form == 3:
            return pick(rng, ("get-", "the-", "real-")) + legit_owner
        return legit_owner + str(rng.randint(1, 99))
    form = rng.random()
    if form < 0.5:
        return f"{pick(rng, _HANDLE_A)}{pick(rng, _HANDLE_B)}{rng.randint(0, 999) if rng.random() < 0.4 else ''}"
    if form < 0.8:
        return f"{pick(rng, _HANDLE_A)}-{pick(rng, _HANDLE_B)}"
    return f"{pick(rng, ('j', 'm', 'a', 'k', 'd', 's'))}{pick(rng, ('chen', 'patel', 'smith', 'kim', 'nguyen', 'garcia', 'mueller', 'rossi', 'ivanov', 'tanaka'))}{rng.randint(1, 99)}"


REPO_WORDS = ("install", "setup", "dotfiles", "scripts", "tools", "bootstrap", "devenv", "toolkit", "ci-utils",
              "env-setup", "installer", "helpers", "quickstart")
FILE_WORDS = ("install.sh", "setup.sh", "bootstrap.sh", "init.sh", "get.sh", "env.sh", "install", "run.sh")


def hosted_url(rng: random.Random, where: str, handle: str, repo: str | None = None, file: str | None = None) -> str:
    """A URL on a widely allowed host, in space the attacker controls."""
    repo = repo or pick(rng, REPO_WORDS)
    file = file or pick(rng, FILE_WORDS)
    ref = pick(rng, ("main", "master", "HEAD", "v1.2.0", "refs/heads/main"))
    if where == "raw.githubusercontent.com":
        return f"https://raw.githubusercontent.com/{handle}/{repo}/{ref}/{file}"
    if where == "gist":
        return f"https://gist.githubusercontent.com/{handle}/{hexstr(rng, 32)}/raw/{hexstr(rng, 40)}/{file}" \
            if rng.random() < 0.6 else f"https://gist.githubusercontent.com/{handle}/{hexstr(rng, 32)}/raw/{file}"
    if where == "github-release":
        return (f"https://github.com/{handle}/{repo}/releases/download/v{rng.randint(0, 3)}.{rng.randint(0, 20)}."
                f"{rng.randint(0, 9)}/{file}")
    if where == "github-raw":
        return f"https://github.com/{handle}/{repo}/raw/{ref}/{file}"
    if where == "pastebin":
        return f"https://pastebin.com/raw/{token(rng, 8)}"
    if where == "s3":
        bucket = f"{pick(rng, _HANDLE_A)}-{pick(rng, ('assets', 'releases', 'artifacts', 'dist', 'public', 'builds'))}"
        region = pick(rng, ("us-east-1", "eu-west-1", "us-west-2", "ap-southeast-1"))
        return pick(rng, (f"https://{bucket}.s3.amazonaws.com/{file}", f"https://s3.amazonaws.com/{bucket}/{file}",
                          f"https://{bucket}.s3.{region}.amazonaws.com/latest/{file}"))
    if where == "gcs":
        return f"https://storage.googleapis.com/{pick(rng, _HANDLE_A)}-{pick(rng, ('dist', 'pub', 'artifacts'))}/{file}"
    if where == "jsdelivr":
        return f"https://cdn.jsdelivr.net/gh/{handle}/{repo}@{pick(rng, ('main', 'latest', '1.0.2'))}/{file}"
    if where == "gitlab":
        return f"https://gitlab.com/{handle}/{repo}/-/raw/{pick(rng, ('main', 'master'))}/{file}"
    if where == "bitbucket":
        return f"https://bitbucket.org/{handle}/{repo}/raw/{pick(rng, ('main', 'master'))}/{file}"
    if where == "huggingface":
        return f"https://huggingface.co/{handle}/{repo}/resolve/main/{file}"
    if where == "github-pages":
        return f"https://{handle.lower()}.github.io/{repo}/{file}"
    if where == "codeberg":
        return f"https://codeberg.org/{handle}/{repo}/raw/branch/main/{file}"
    if where == "dropbox":
        return f"https://dl.dropboxusercontent.com/s/{token(rng, 15).lower()}/{file}"
    raise ValueError(where)


HOSTED = ("raw.githubusercontent.com", "raw.githubusercontent.com", "gist", "github-release", "github-raw",
          "pastebin", "s3", "gcs", "jsdelivr", "gitlab", "bitbucket", "huggingface", "github-pages", "codeberg",
          "dropbox")


# --- where stolen data goes -------------------------------------------------------------

def collector_url(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.3:
        return f"https://{plain_host(rng)}{pick(rng, ('/c', '/collect', '/api/v1/telemetry', '/log', '/upload', '/t'))}"
    if kind < 0.45:
        return f"http://{ip_host(rng)}{pick(rng, ('/', '/u', '/in', '/data'))}"
    if kind < 0.55:
        return f"https://webhook.site/{hexstr(rng, 8)}-{hexstr(rng, 4)}-{hexstr(rng, 4)}-{hexstr(rng, 4)}-{hexstr(rng, 12)}"
    if kind < 0.65:
        return f"https://discord.com/api/webhooks/{rng.randint(10**17, 10**18)}/{token(rng, 68)}"
    if kind < 0.72:
        return f"https://api.telegram.org/bot{rng.randint(10**9, 10**10)}:{token(rng, 35)}/sendDocument"
    if kind < 0.8:
        return f"https://{token(rng, 12).lower()}.ngrok-free.app/{pick(rng, ('in', 'upload', 'x'))}"
    if kind < 0.87:
        return f"https://{hexstr(rng, 20)}.m.pipedream.net"
    if kind < 0.93:
        return f"https://transfer.sh/{token(rng, 6)}/{pick(rng, ('creds.txt', 'env', 'k.tgz'))}"
    return f"https://{hexstr(rng, 16)}.oast.fun/"
