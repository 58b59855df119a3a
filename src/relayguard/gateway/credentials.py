"""The gateway's secrets, read once at start: each provider's key (from the environment variable
or key file its ``[[provider]]`` names) and the admin API's token.  ``config.load_config`` has
already made sure none of them is written in the configuration itself."""

from __future__ import annotations

import os
import stat
from typing import TYPE_CHECKING, Mapping, NamedTuple

from relayguard.errors import ConfigError

if TYPE_CHECKING:
    from relayguard.gateway.config import GatewayConfig

MAX_KEY_FILE_BYTES = 64 * 1024
MIN_ADMIN_TOKEN = 16


class Secrets(NamedTuple):
    provider_keys: dict[str, str | None]  # provider name -> key (None: the provider takes none)
    admin_token: str
    warnings: tuple[str, ...]  # e.g. a key file readable by others: for the caller to log


def resolve_secrets(cfg: GatewayConfig, environ: Mapping[str, str] | None = None) -> Secrets:
    """Every provider's key and the admin token.  A configured source that is missing, empty or
    unreadable is a ConfigError naming the provider: the gateway does not start half-keyed."""
    env = os.environ if environ is None else environ
    keys: dict[str, str | None] = {}
    warnings: list[str] = []
    for prov in cfg.providers:
        where = f"{location(cfg.path, prov.line)}: [[provider]] \"{prov.name}\""
        if prov.api_key_env:
            value = env.get(prov.api_key_env, "")
            if not value.strip():
                raise ConfigError(f"{where}: the environment variable {prov.api_key_env} (api_key_env) is not "
                                  f"set or is empty; export the provider's key in it before starting the "
                                  f"gateway, or remove api_key_env if this provider needs no key")
            keys[prov.name] = _header_safe(value, where, f"environment variable {prov.api_key_env}")
        elif prov.api_key_file:
            value, warning = _read_key_file(prov.api_key_file, where)
            keys[prov.name] = value
            if warning:
                warnings.append(warning)
        else:
            keys[prov.name] = None
    token = env.get(cfg.admin.token_env, "").strip()
    if len(token) < MIN_ADMIN_TOKEN:
        state = "is not set" if not token else f"holds only {len(token)} characters"
        raise ConfigError(f"{cfg.path}: [admin] field \"token_env\": the admin token variable "
                          f"{cfg.admin.token_env} {state}; set it to a random token of at least "
                          f"{MIN_ADMIN_TOKEN} characters, e.g. export {cfg.admin.token_env}=$(openssl rand -hex 32)")
    token = _header_safe(token, f"{cfg.path}: [admin]", f"environment variable {cfg.admin.token_env}")
    return Secrets(keys, token, tuple(warnings))


def location(path: str, line: int | None) -> str:
    return f"{path}:{line}" if line else path


def _header_safe(value: str, where: str, source: str) -> str:
    value = value.strip()
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in value):
        # the value goes into an HTTP header, where a space or control character would split it
        raise ConfigError(f"{where}: the value in {source} contains spaces or control characters")
    return value


def _read_key_file(path: str, where: str) -> tuple[str, str | None]:
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            raise ConfigError(f"{where}: key file {path} (api_key_file) is not a regular file")
        with open(path, "rb") as fh:
            raw = fh.read(MAX_KEY_FILE_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read key file {path} (api_key_file): {exc.strerror or exc}") from None
    if len(raw) > MAX_KEY_FILE_BYTES:
        raise ConfigError(f"{where}: key file {path} is over {MAX_KEY_FILE_BYTES} bytes; it should hold one key")
    try:
        value = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ConfigError(f"{where}: key file {path} is not UTF-8 text") from None
    if not value:
        raise ConfigError(f"{where}: key file {path} is empty")
    value = _header_safe(value, where, f"key file {path}")
    mode = stat.S_IMODE(st.st_mode)
    warning = None
    if mode & 0o077:
        warning = f"{where}: key file {path} is readable by others (mode {mode:04o}); run: chmod 600 {path}"
    return value, warning
