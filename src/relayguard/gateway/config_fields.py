"""Typed field readers for the gateway configuration: each failure names the table and field
(config.py adds the file and line).  The configuration is the operator's own text, read once
at start and capped at 1 MiB, so the standard ``re`` module is fine here."""

from __future__ import annotations

import ipaddress
import math
import re
from typing import Any, Callable, NoReturn
from urllib.parse import urlsplit

Fail = Callable[[tuple, str, str], NoReturn]  # (path in the document, "where", message)

NAME_RE = re.compile(r"[A-Za-z0-9_.-]{1,64}\Z")
ENV_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}\Z")
MODEL_RE = re.compile(r"[\x21-\x7e]{1,256}\Z")  # visible ASCII: "gpt-4o", "llama3:8b", "org/model"
_HOST_RE = re.compile(r"(\*\.)?[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*\Z")
# Field names that can only mean "the secret itself is in this file".
LITERAL_SECRET_FIELDS = ("api_key", "key", "token", "apikey", "api_token", "access_token", "secret",
                         "password", "bearer")


class FieldReader:
    """One TOML table being read.  Unknown keys fail at once, listing the known ones."""

    def __init__(self, fail: Fail, raw: dict, path: tuple, label: str, known: tuple[str, ...],
                 secret_hint: str | None = None) -> None:
        self._fail = fail
        self.raw = raw
        self.path = path
        self.label = label
        for key in raw:
            if key in known:
                continue
            if secret_hint and key in LITERAL_SECRET_FIELDS:
                self.fail(key, f"secrets never go in the configuration file; remove \"{key}\" and set "
                               f"{secret_hint} to the name of the environment variable that holds it")
            self.fail(key, f"unknown field; known fields: {', '.join(known)}")

    def fail(self, key: str, message: str) -> NoReturn:
        self._fail(self.path + (key,), f"{self.label} field \"{key}\"", message)

    def missing(self, key: str) -> NoReturn:
        self._fail(self.path, self.label, f"missing required field \"{key}\"")

    def string(self, key: str, required: bool = False) -> Any:
        value = self.raw.get(key)
        if value is None:
            if required:
                self.missing(key)
            return None
        if not isinstance(value, str):
            self.fail(key, f"expected a string, got {show(value)}")
        if required and not value.strip():
            self.fail(key, "is empty")
        return value

    def choice(self, key: str, options: tuple[str, ...], required: bool = False) -> Any:
        value = self.string(key, required)
        if value is not None and value not in options:
            self.fail(key, f"expected one of {', '.join(options)}, got \"{value}\"")
        return value

    def env_name(self, key: str, required: bool = False) -> Any:
        value = self.string(key, required)
        if value is not None and not ENV_RE.match(value):
            self.fail(key, "expected the NAME of an environment variable (letters, digits and '_', e.g. "
                           "OPENAI_API_KEY), not the secret itself; export the secret in that variable")
        return value

    def number(self, key: str, default: float | None, low: float, high: float, integer: bool = False) -> Any:
        value = self.raw.get(key)
        if value is None:
            if default is None:
                self.missing(key)
            return default
        kind = "an integer" if integer else "a number"
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int)):
            self.fail(key, f"expected {kind}, got {show(value)}")
        if not math.isfinite(value) or not low <= value <= high:
            self.fail(key, f"expected {kind} from {_num(low)} to {_num(high)}, got {_num(value)}")
        return value if integer else float(value)

    def base_url(self, key: str) -> str:
        """A provider's server root: http(s), a host, no credentials/query; a trailing / or /v1 is
        dropped (the gateway appends /v1/... itself, as `guard --upstream` does)."""
        value = self.string(key, required=True)
        problem = _url_problem(value)
        if problem:
            has_userinfo = "@" in value.split("://", 1)[-1].split("/", 1)[0]
            self.fail(key, problem if has_userinfo else f"{problem}, got {show(value)}")  # never echo a password
        parts = urlsplit(value.strip())
        path = parts.path.rstrip("/")
        if path.endswith("/v1"):
            path = path[:-3]
        return f"{parts.scheme.lower()}://{parts.netloc}{path}"


def show(value: Any) -> str:
    """A value as the user wrote it, shortened."""
    if isinstance(value, str):
        return f"\"{value}\"" if len(value) <= 80 else f"\"{value[:77]}...\""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return str(value)


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else str(value)


def _url_problem(value: str) -> str | None:
    text = value.strip()
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in text):
        return "must not contain spaces or control characters"
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return "is not a valid URL (bad port or brackets)"
    if parts.scheme.lower() not in ("http", "https"):
        return "expected an http:// or https:// URL, the server's root such as http://127.0.0.1:8080"
    if parts.username is not None or parts.password is not None:
        return "must not carry credentials (user:password@); put the key in api_key_env"
    if not parts.hostname:
        return "has no host"
    if parts.query or parts.fragment:
        return "must not have a query or fragment"
    return None


def egress_entry(entry: str) -> tuple[str, int | None] | str:
    """An ``[egress] allow`` entry as (host, port or None for any port), or what is wrong with it.
    Accepted: ``host``, ``*.domain.tld``, ``host:port``, ``[v6]:port``, ``http(s)://host[:port]``."""
    text = entry.strip().lower()
    if text in ("*", "") or text.startswith("*:"):
        return "would allow every host; list the hosts the gateway may reach"
    try:
        parts = urlsplit(text if "://" in text else f"//{text}")
        port = parts.port
    except ValueError:
        return "has an invalid port"
    if parts.scheme and parts.scheme not in ("http", "https"):
        return "is not http(s): give a host name or an http(s) URL"
    if parts.path.strip("/") or parts.query or parts.fragment or parts.username:
        return "has a path, query or user: give a host name, optionally host:port"
    host = (parts.hostname or "").rstrip(".")
    if not host or not (_HOST_RE.match(host) or _is_ip(host)):
        return "is not a host name (expected e.g. api.example.com, *.example.com or host:port)"
    if host.startswith("*.") and host.count(".") < 2:
        return "is too wide: a wildcard needs a registrable domain after it, e.g. *.example.com"
    if port is None and parts.scheme:
        port = 443 if parts.scheme == "https" else 80
    return host, port


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
