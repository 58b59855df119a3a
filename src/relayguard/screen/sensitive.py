"""Which paths, variables and hosts matter: credentials, places that run things
later (persistence), package-manager configuration, local hosts.

Paths are matched after ``~``, ``$HOME``, ``${HOME}`` and ``/root`` / ``/home/x``
are folded to ``~``, on RE2 patterns (the text is attacker-controlled).
"""

from __future__ import annotations

import ipaddress
import socket

import re2

__all__ = [
    "credential_path", "fold_home", "is_local_host", "numeric_ip", "persistence_kind", "pm_config_kind",
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


# Directories whose every file is a secret, and secret files.
_CREDENTIAL = _rx(
    r"(?:^|/)(?:\.aws|\.ssh|\.gnupg|\.docker|\.kube|\.azure|\.config/gcloud|\.terraform\.d|\.ethereum"
    r"|\.electrum|\.bitcoin|\.local/share/keyrings|\.password-store|\.config/op|\.1password|\.config/gh"
    r"|\.config/solana|\.config/hub|\.aws-sam)(?:/.*)?$"
    r"|(?:^|/)(?:\.netrc|_netrc|\.git-credentials|\.npmrc|\.pypirc|\.vault-token|\.pgpass|\.my\.cnf|\.boto"
    r"|\.s3cfg|\.cargo/credentials(?:\.toml)?|\.gem/credentials|\.composer/auth\.json|wallet\.dat"
    r"|[^/]*keystore[^/]*|exodus\.wallet|\.env(?:\.[a-z]+)?|[^/]*credentials[^/]*\.(?:json|toml|ya?ml|ini)"
    r"|service[-_]?account[^/]*\.json|\.bash_history|\.zsh_history|id_(?:rsa|dsa|ecdsa|ed25519)[^/]*)$"
    r"|^/etc/shadow$|^/proc/[^/]+/environ$|\.(?:pem|p12|pfx|key|jks)$"
)
_PUBLIC = _rx(r"\.pub$|/known_hosts$|/authorized_keys2?$|\.env\.(?:example|sample|template|dist)$")


# Every credential pattern contains one of these (lower case): a cheap first test.
_CREDENTIAL_HINTS = (
    ".aws", ".ssh", "netrc", "credential", ".docker", ".kube", "gh/", "hub", ".npmrc", ".pypirc",
    ".gnupg", "gcloud", ".azure", ".vault", ".pgpass", ".my.cnf", ".boto", ".s3cfg", "auth.json",
    "solana", "ethereum", "electrum", "bitcoin", "wallet", "keystore", "keyring", ".env", "account",
    "history", "password", "/op/", "1password", "shadow", "environ", ".pem", ".p12", ".pfx", ".key",
    ".jks", ".terraform.d", ".ethereum", ".electrum", ".bitcoin", ".local/share", "id_", ".config/",
)


def credential_path(path: str) -> bool:
    low = path.lower()
    if ("." not in low and "/" not in low and "_" not in low) or not any(h in low for h in _CREDENTIAL_HINTS):
        return False
    p = fold_home(path)
    while p.endswith(("/", "/*", "/**")) and len(p) > 1:
        p = p.rstrip("*").rstrip("/") if p.endswith("*") else p[:-1]
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
    ("Python startup code", (r"(?:site|packages)[^\n]*\.pth$|(?:^|/)(?:site|user)customize\.py$")),
    ("SSH client configuration", (r"(?:^|/)\.ssh/config$|^/etc/ssh/ssh_config")),
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
    r"|CREDENTIALS?|AUTH|PASS|PWD|DSN)[A-Za-z0-9_]*|AWS_[A-Z_]*KEY[A-Z_]*|[A-Z0-9_]*_KEY"
    r"|(?:DATABASE|DB|REDIS|MONGO|MONGODB|POSTGRES|PG|MYSQL|AMQP|RABBITMQ|CELERY_BROKER)_?(?:URL|URI))\}?")

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

# Networks of one's own machine or organisation (not Python's is_private, which also
# counts documentation and benchmark ranges that are routed like any other address).
_PRIVATE = tuple(ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7"))
_LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".lan", ".home.arpa", ".test", ".svc",
                   ".cluster.local")


_METADATA = ("169.254.169.254", "metadata.google.internal", "fd00:ec2::254", "100.100.100.200",
             "169.254.170.2")


def is_metadata_host(host: str) -> bool:
    if host in _METADATA:
        return True
    ip = numeric_ip(host) if host[:1].isdigit() else None
    return ip is not None and str(ip) in _METADATA


def is_local_host(host: str | None) -> bool:
    """Loopback, private networks, single-label names (a compose service), ``.local``."""
    if not host:
        return False
    if is_metadata_host(host):
        return False
    if host in ("localhost", "0.0.0.0", "host.docker.internal") or host.endswith(_LOCAL_SUFFIXES):
        return True
    ip = numeric_ip(host)
    if ip is None:
        return "." not in host
    return ip.is_loopback or ip.is_unspecified or any(ip in net for net in _PRIVATE if ip.version == net.version)


def numeric_ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address a numeric host means, in every form a resolver accepts:
    ``1.2.3.4``, ``16909060``, ``0x1020304``, ``0102.03.04``, ``1.2.772``, IPv6."""
    h = host.strip("[]")
    try:
        return ipaddress.ip_address(h)
    except ValueError:
        pass
    if not h or not all(c in "0123456789abcdefxABCDEFX." for c in h) or not h[0].isdigit():
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(h))
    except OSError:
        return None
