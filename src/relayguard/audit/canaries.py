"""Canary credentials the auditor plants in its requests.

Three kinds:

* URL canaries, ``http://127.0.0.1:<listener>/hook/<token>``, one per request
  (the token names the call that carried it), served by the canary listener:
  a router that tries a harvested webhook URL is caught in the act;
* built-in fake credentials (an AWS key pair, a GitHub token), clearly fake
  (``AKIAFAKE…``, ``ghp_FAKE…``) but in the formats harvesters collect; they
  are bait only: nothing can observe their use;
* the user's own canaries (``--canary KIND=VALUE``), e.g. real canary tokens
  from a canary service, which is where their use shows up.

Values derive from the run's secret (kept in the state file), so a resumed run
plants the same ones; a router cannot predict them.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

from relayguard.errors import ConfigError

HOOK_PREFIX = "/hook/"
_TOKEN_RE = re.compile(r"[0-9a-f]{20}")
_KIND_RE = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
MAX_USER_CANARIES = 64
MAX_CANARY_VALUE = 4096


@dataclass(frozen=True)
class UserCanary:
    kind: str
    value: str

    @property
    def env_name(self) -> str:
        return "CANARY_" + re.sub(r"[^A-Z0-9]", "_", self.kind.upper())


def parse_user_canaries(specs: list[str], files: list[str]) -> list[UserCanary]:
    """``KIND=VALUE`` items from the command line and from files (one a line, # comments)."""
    items: list[tuple[str, str]] = [(s, "--canary") for s in specs]
    for path in files:
        try:
            with open(path, encoding="utf-8") as fh:
                text = fh.read(1 << 20)
        except OSError as exc:
            raise ConfigError(f"cannot read --canary-file {path}: {exc.strerror}") from None
        items += [(line.strip(), path) for line in text.splitlines()
                  if line.strip() and not line.lstrip().startswith("#")]
    out = []
    for item, where in items:
        kind, sep, value = item.partition("=")
        if not sep or not _KIND_RE.fullmatch(kind.strip()) or not value.strip():
            raise ConfigError(f"{where}: expected KIND=VALUE (e.g. aws=AKIA... or url=https://...), "
                              f"got {item[:80]!r}")
        if len(value) > MAX_CANARY_VALUE or "\n" in value:
            raise ConfigError(f"{where}: canary {kind!r} must be one line under {MAX_CANARY_VALUE} characters")
        out.append(UserCanary(kind.strip(), value.strip()))
    if len(out) > MAX_USER_CANARIES:
        raise ConfigError(f"at most {MAX_USER_CANARIES} canaries, got {len(out)}")
    return out


class CanarySet:
    """Every canary of one run."""

    def __init__(self, secret: str, port: int, user: list[UserCanary]) -> None:
        self._key = bytes.fromhex(secret)
        self.port = port
        self.user = list(user)
        self.aws_key_id = "AKIAFAKE" + self._chars("aws-id", 12, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
        self.aws_secret = "FAKE" + self._chars("aws-secret", 36, _ALNUM + "/+")
        self.github_token = "ghp_FAKE" + self._chars("github", 32, _ALNUM)

    def _digest(self, label: str) -> bytes:
        return hmac.new(self._key, label.encode(), hashlib.sha256).digest()

    def _chars(self, label: str, n: int, alphabet: str) -> str:
        out, counter = "", 0
        while len(out) < n:
            out += "".join(alphabet[b % len(alphabet)] for b in self._digest(f"{label}:{counter}"))
            counter += 1
        return out[:n]

    def token(self, step: int) -> str:
        return self._digest(f"url:{step}").hex()[:20]

    def url(self, step: int) -> str:
        return f"http://127.0.0.1:{self.port}{HOOK_PREFIX}{self.token(step)}"

    def step_of(self, token: str, steps: int) -> int | None:
        """The step whose URL canary carries ``token`` (None: not one of ours)."""
        if not _TOKEN_RE.fullmatch(token):
            return None
        lookup = {self.token(i): i for i in range(steps)}
        return lookup.get(token)

    def env_file(self, step: int) -> str:
        """A project's .env as a `cat` would show it, with this step's canaries."""
        lines = ["# local development settings (do not commit)",
                 "DATABASE_URL=postgres://app:app@localhost:5432/app",
                 f"AWS_ACCESS_KEY_ID={self.aws_key_id}",
                 f"AWS_SECRET_ACCESS_KEY={self.aws_secret}",
                 f"GITHUB_TOKEN={self.github_token}",
                 f"DEPLOY_WEBHOOK_URL={self.url(step)}"]
        lines += [f"{c.env_name}={c.value}" for c in self.user]
        return "\n".join(lines) + "\n"

    def planted(self) -> list[dict[str, str]]:
        """What the report lists as planted."""
        out = [{"kind": "url", "value": f"http://127.0.0.1:{self.port}{HOOK_PREFIX}<one token per call>",
                "watch": "the auditor's canary listener (checked by this run)"},
               {"kind": "aws_access_key_id", "value": self.aws_key_id, "watch": "bait only (fake, unobservable)"},
               {"kind": "github_token", "value": self.github_token, "watch": "bait only (fake, unobservable)"}]
        out += [{"kind": c.kind, "value": c.value, "watch": "planted; watch your canary service"} for c in self.user]
        return out
