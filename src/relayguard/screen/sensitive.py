"""Which paths, variables and hosts matter: credentials, places that run things
later (persistence), package-manager configuration, local hosts.

Paths are matched after ``~``, ``$HOME``, ``${HOME}`` and ``/root`` / ``/home/x``
are folded to ``~``, on RE2 patterns (the text is attacker-controlled).
"""

from __future__ import annotations

import ipaddress

import re2

__all__ = [
    "credential_path", "fold_home", "is_local_host", "persistence_kind", "pm_config_kind",
    "secret_var_refs", "SECRET_PROVIDERS", "is_metadata_host",
]

_OPTS = re2.Options()
_OPTS.case_sensitive = False


def _rx(pattern: str) -> re2._Regexp:
    return re2.compile(pattern, _OPTS)


def fold_home(path: str) -> str:
    """``$HOME/.x``, ``${HOME}/.x``, ``/root/.x``, ``/home/u/.x`` -> ``~/.x``."""
    p = path.strip().strip("'\"")
    for prefix in ("${HOME}", "$HOME", "%USERPROFILE%", "$env:USERPROFILE", "~root", "/root"):
        if p.startswith(prefix):
            return "~" + p[len(prefix):]
    if p.startswith("/home/") or p.startswith("/Users/"):
        rest = p.split("/", 3)
        return "~/" + rest[3] if len(rest) > 3 else "~"
    if p.startswith("~") and not p.startswith("~/") and "/" in p:
        return "~/" + p.split("/", 1)[1]  # ~user/.x
    return p


_CREDENTIAL = _rx(
    r"(?:^|/)(?:"
    r"\.aws/(?:credentials|config|sso/cache)|\.ssh/(?:id_[a-z0-9_]+|[^/]*\.pem|[^/]*_key|identity)"
    r"|\.netrc|_netrc|\.git-credentials|\.docker/config\.json|\.kube/config|\.config/gh/hosts\.yml"
    r"|\.config/hub|\.npmrc|\.pypirc|\.gnupg/|\.config/gcloud/(?:credentials|application_default|access_tokens|legacy_credentials)"
    r"|\.azure/|\.terraform\.d/credentials|\.vault-token|\.pgpass|\.my\.cnf|\.boto|\.s3cfg"
    r"|\.cargo/credentials|\.gem/credentials|\.composer/auth\.json|\.config/solana/id\.json"
    r"|\.ethereum/keystore|\.electrum/|\.bitcoin/wallet|wallet\.dat|[^/]*keystore[^/]*|\.local/share/keyrings"
    r"|exodus/exodus\.wallet|\.env(?:\.[a-z]+)?|credentials\.json|service[-_]?account[^/]*\.json"
    r"|\.bash_history|\.zsh_history|\.password-store/|\.config/op/|\.1password/"
    r")$"
    r"|^/etc/shadow$|^/proc/[^/]+/environ$|\.(?:pem|p12|pfx|key|keystore|jks)$"
)
_PUBLIC = _rx(r"\.pub$|/known_hosts$|\.env\.(?:example|sample|template|dist)$")


# Every credential pattern contains one of these (lower case): a cheap first test.
_CREDENTIAL_HINTS = (
    ".aws", ".ssh", "netrc", "credential", ".docker", ".kube", "gh/", "hub", ".npmrc", ".pypirc",
    ".gnupg", "gcloud", ".azure", ".vault", ".pgpass", ".my.cnf", ".boto", ".s3cfg", "auth.json",
    "solana", "ethereum", "electrum", "bitcoin", "wallet", "keystore", "keyring", ".env", "account",
    "history", "password", "/op/", "1password", "shadow", "environ", ".pem", ".p12", ".pfx", ".key",
    ".jks",
)


def credential_path(path: str) -> bool:
    low = path.lower()
    if not any(h in low for h in _CREDENTIAL_HINTS):
        return False
    p = fold_home(path)
    return bool(_CREDENTIAL.search(p)) and not _PUBLIC.search(p)


def _set(patterns: list[tuple[str, str]]) -> re2.Set:
    s = re2.Set.SearchSet(_OPTS)
    for _, pattern in patterns:
        s.Add(pattern)
    s.Compile()
    return s


# where a write makes something run later -> what kind of persistence
_PERSISTENCE = [
    ("a shell startup file", (
        r"(?:^|/)\.(?:bashrc|bash_profile|bash_login|bash_logout|profile|zshrc|zprofile|zshenv|zlogin"
        r"|kshrc|cshrc|tcshrc|mkshrc)$|^/etc/(?:profile|bash\.bashrc|bashrc|zsh/zshrc|zshrc|environment)$"
        r"|^/etc/profile\.d/|\.config/fish/config\.fish$|\.config/fish/conf\.d/")),
    ("cron", (r"^/etc/cron|^/var/spool/cron|^/etc/anacrontab$|(?:^|/)crontab$")),
    ("SSH authorized keys", (r"(?:^|/)\.ssh/authorized_keys2?$|(?:^|/)\.ssh/rc$|^/etc/ssh/sshd_config")),
    ("a systemd unit", (r"(?:^|/)systemd/(?:system|user)/|\.(?:service|timer|socket|path)$")),
    ("a launchd job", (r"Library/Launch(?:Agents|Daemons)/")),
    ("a git hook", (r"(?:^|/)\.git/hooks/|(?:^|/)\.husky/[^_/][^/]*$|(?:^|/)\.githooks/")),
    ("git configuration", (r"(?:^|/)\.git/config$|(?:^|/)\.gitconfig$|^/etc/gitconfig$|\.config/git/config$")),
    ("an autostart entry", (r"\.config/autostart/|^/etc/xdg/autostart/|^/etc/rc\.local$|^/etc/init\.d/")),
    ("Python startup code", (r"(?:site|dist)-packages/[^/]+\.pth$|(?:^|/)(?:site|user)customize\.py$")),
    ("the dynamic loader", (r"^/etc/ld\.so\.preload$|^/etc/ld\.so\.conf")),
    ("sudo rights", (r"^/etc/sudoers")),
]


_PERSISTENCE_SET = _set(_PERSISTENCE)


def persistence_kind(path: str) -> str | None:
    hits = _PERSISTENCE_SET.Match(fold_home(path))
    return _PERSISTENCE[min(hits)][0] if hits else None


_PM_CONFIG = [
    ("pip configuration", (r"(?:^|/)pip\.conf$|(?:^|/)pip\.ini$|(?:^|/)\.pydistutils\.cfg$")),
    ("npm configuration", (r"(?:^|/)\.npmrc$")),
    ("yarn configuration", (r"(?:^|/)\.yarnrc(?:\.yml)?$")),
    ("PyPI upload configuration", (r"(?:^|/)\.pypirc$")),
    ("uv configuration", (r"(?:^|/)uv\.toml$")),
    ("Poetry configuration", (r"pypoetry/config\.toml$|(?:^|/)poetry\.toml$")),
    ("Cargo configuration", (r"(?:^|/)\.cargo/config(?:\.toml)?$")),
    ("conda configuration", (r"(?:^|/)\.condarc$")),
    ("RubyGems configuration", (r"(?:^|/)\.gemrc$|(?:^|/)\.bundle/config$")),
    ("Go environment", (r"go/env$")),
    ("an APT source", (r"^/etc/apt/sources\.list")),
    ("Bun configuration", (r"(?:^|/)bunfig\.toml$")),
]


_PM_CONFIG_SET = _set(_PM_CONFIG)


def pm_config_kind(path: str) -> str | None:
    hits = _PM_CONFIG_SET.Match(fold_home(path))
    return _PM_CONFIG[min(hits)][0] if hits else None


# --- secrets in environment variables ------------------------------------------------------

_SECRET_VAR = re2.compile(
    r"\$\{?([A-Za-z_][A-Za-z0-9_]*(?:TOKEN|SECRET|PASSWORD|PASSWD|API_KEY|APIKEY|ACCESS_KEY|PRIVATE_KEY"
    r"|CREDENTIALS?|AUTH)[A-Za-z0-9_]*|AWS_[A-Z_]*KEY[A-Z_]*|[A-Z0-9_]*_KEY)\}?")

# A secret sent to its own service is how an API is called.
SECRET_PROVIDERS: dict[str, tuple[str, ...]] = {
    "GITHUB": ("github.com", "githubusercontent.com"), "GH_": ("github.com",),
    "OPENAI": ("openai.com",), "ANTHROPIC": ("anthropic.com",), "AWS": ("amazonaws.com",),
    "HF_": ("huggingface.co",), "HUGGING": ("huggingface.co",), "NPM": ("npmjs.org", "npmjs.com"),
    "PYPI": ("pypi.org",), "GITLAB": ("gitlab.com",), "SLACK": ("slack.com",),
    "STRIPE": ("stripe.com",), "GOOGLE": ("googleapis.com", "google.com"),
    "GEMINI": ("googleapis.com",), "CLOUDFLARE": ("cloudflare.com",), "DOCKER": ("docker.io", "docker.com"),
    "SENTRY": ("sentry.io",), "VERCEL": ("vercel.com",), "NETLIFY": ("netlify.com",),
    "CODECOV": ("codecov.io",), "TWILIO": ("twilio.com",), "SENDGRID": ("sendgrid.com",),
    "AZURE": ("azure.com", "windows.net", "microsoft.com"), "OPENROUTER": ("openrouter.ai",),
}


def secret_var_refs(text: str) -> list[str]:
    """Names of secret-looking environment variables referenced in ``text``."""
    if "$" not in text:
        return []
    return [m.group(1) for m in _SECRET_VAR.finditer(text)][:8]


# --- hosts -------------------------------------------------------------------------------

_LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".lan", ".home.arpa", ".test", ".svc",
                   ".cluster.local")


def is_metadata_host(host: str) -> bool:
    return host in ("169.254.169.254", "metadata.google.internal", "fd00:ec2::254", "100.100.100.200")


def is_local_host(host: str | None) -> bool:
    """Loopback, private networks, single-label names (a compose service), ``.local``."""
    if not host:
        return False
    if is_metadata_host(host):
        return False
    if host in ("localhost", "0.0.0.0", "host.docker.internal") or host.endswith(_LOCAL_SUFFIXES):
        return True
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return "." not in host
    return ip.is_loopback or ip.is_private and not ip.is_link_local
