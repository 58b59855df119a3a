"""The gateway's configuration file (TOML): providers, model aliases, admin, signing, storage,
routing, price overrides, egress.  docs/gateway-config.md documents every field.

``load_config(path)`` reads and validates the whole file at start; every problem raises a
``ConfigError`` that names the file, the line and the field::

    gateway.toml:12: [[provider]] "openai" field "dialect": expected one of openai-chat,
    openai-responses, anthropic-messages, got "openai"

``resolve_secrets(cfg)`` (credentials.py, re-exported here) then reads the provider keys and
the admin token.  Keys never live in the configuration: a key-like field in a provider, or
text the secret detector recognises as a credential anywhere in the file, is an error.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit

from relayguard.errors import ConfigError
from relayguard.gateway.config_fields import (LITERAL_SECRET_FIELDS, MODEL_RE, NAME_RE, FieldReader, egress_entry,
                                              show)
from relayguard.gateway.credentials import Secrets, location, resolve_secrets
from relayguard.gateway.toml_lines import line_of, value_lines

__all__ = ["DIALECTS", "AUTH_SCHEMES", "Provider", "Target", "ModelRoute", "Admin", "Signing", "Storage",
           "Routing", "PriceOverride", "EgressRule", "GatewayConfig", "Secrets", "load_config",
           "resolve_secrets", "default_storage"]

DIALECTS = ("openai-chat", "openai-responses", "anthropic-messages")
AUTH_SCHEMES = ("bearer", "x-api-key")
MAX_CONFIG_BYTES = 1 << 20


@dataclass(frozen=True)
class Provider:
    name: str
    base_url: str  # the server root: no trailing slash, no trailing /v1
    dialect: str
    api_key_env: str | None = None
    api_key_file: str | None = None  # absolute
    connect_timeout: float = 10.0
    read_timeout: float = 600.0
    auth: str = "bearer"  # how the key goes upstream: "bearer" (Authorization) or "x-api-key"
    line: int | None = field(default=None, compare=False, repr=False)  # for later error messages

    @property
    def host(self) -> str:
        return (urlsplit(self.base_url).hostname or "").lower()

    @property
    def port(self) -> int:
        parts = urlsplit(self.base_url)
        return parts.port or (443 if parts.scheme == "https" else 80)


@dataclass(frozen=True)
class Target:
    provider: str
    model: str  # the upstream's model name
    weight: float = 1.0


@dataclass(frozen=True)
class ModelRoute:
    name: str  # what clients ask for
    targets: tuple[Target, ...]


@dataclass(frozen=True)
class Admin:
    token_env: str


@dataclass(frozen=True)
class Signing:
    key: str | None = None  # absolute path of a `relayguard keys generate` signing key


@dataclass(frozen=True)
class Storage:
    database: str  # virtual keys and usage (SQLite)
    log: str | None  # the transparency log; None: none kept


@dataclass(frozen=True)
class Routing:
    retries: int = 2  # extra attempts across targets
    backoff_ms: float = 100.0  # base of the jittered exponential backoff
    cooldown_seconds: float = 30.0
    failure_threshold: int = 3  # consecutive failures before a target cools down


@dataclass(frozen=True)
class PriceOverride:
    model: str  # upstream model name
    input_per_mtok: float  # USD per million tokens
    output_per_mtok: float


@dataclass(frozen=True)
class EgressRule:
    host: str  # lower case; "*.example.com" matches every subdomain, not example.com itself
    port: int | None = None  # None: any port

    def matches(self, host: str, port: int) -> bool:
        if self.port is not None and self.port != port:
            return False
        if self.host.startswith("*."):
            return host.endswith(self.host[1:])
        return host == self.host


def default_storage() -> Storage:
    from relayguard.vault.store import default_dir  # the guard's data directory, shared

    base = default_dir()
    return Storage(database=str(base / "gateway.sqlite"), log=str(base / "gateway-log.sqlite"))


@dataclass(frozen=True)
class GatewayConfig:
    path: str
    providers: tuple[Provider, ...]
    models: tuple[ModelRoute, ...]
    admin: Admin
    signing: Signing = Signing()
    storage: Storage = field(default_factory=default_storage)
    routing: Routing = Routing()
    prices: tuple[PriceOverride, ...] = ()
    egress: tuple[EgressRule, ...] = ()  # extra destinations; the providers' own are always allowed

    def provider(self, name: str) -> Provider | None:
        return next((p for p in self.providers if p.name == name), None)

    def model(self, name: str) -> ModelRoute | None:
        return next((m for m in self.models if m.name == name), None)

    @property
    def model_names(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.models)

    def egress_allows(self, host: str, port: int) -> bool:
        """May the gateway connect to host:port?  Only a provider's own host and port, or an
        ``[egress] allow`` entry."""
        host = host.lower().rstrip(".")
        if any(p.host == host and p.port == port for p in self.providers):
            return True
        return any(rule.matches(host, port) for rule in self.egress)


def load_config(path: str) -> GatewayConfig:
    p = Path(path)
    try:
        with open(p, "rb") as fh:
            raw = fh.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the gateway configuration: {exc.strerror or exc}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: the configuration is over {MAX_CONFIG_BYTES} bytes; is it the right file?")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: the configuration is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None  # tomllib's message has line and column
    reader = _Reader(path, text, p.resolve().parent)
    reader.refuse_literal_secrets()
    return reader.config(data)


_SECTIONS = ("provider", "model", "admin", "signing", "storage", "routing", "price", "egress")


class _Reader:
    def __init__(self, path: str, text: str, config_dir: Path) -> None:
        self.path = path
        self.text = text
        self.dir = config_dir
        self.lines = value_lines(text)

    def fail(self, at: tuple, where: str, message: str) -> NoReturn:
        prefix = location(self.path, line_of(self.lines, at))
        raise ConfigError(f"{prefix}: {where}: {message}" if where else f"{prefix}: {message}")

    def refuse_literal_secrets(self) -> None:
        from relayguard.vault.detect import detector

        det = detector()
        if not det.may_contain(self.text):
            return
        for match in det.scan(self.text):
            line = self.text.count("\n", 0, match.start) + 1
            raise ConfigError(f"{self.path}:{line}: this looks like a credential ({match.kind}); secrets never go "
                              f"in the configuration: export it in an environment variable and name that "
                              f"variable in api_key_env (or put it in a 0600 file named by api_key_file)")

    def table(self, raw: dict, path: tuple, label: str, known: tuple[str, ...], **kw: Any) -> FieldReader:
        return FieldReader(self.fail, raw, path, label, known, **kw)

    def config(self, data: dict[str, Any]) -> GatewayConfig:
        unknown = [k for k in data if k not in _SECTIONS]
        if unknown:
            self.fail((unknown[0],), "", f"unknown section or key \"{unknown[0]}\"; known sections: "
                                         "[[provider]], [[model]], [admin], [signing], [storage], "
                                         "[routing], [[price]], [egress]")
        providers = self.providers(self.array_of_tables(data, "provider", required=True))
        models = self.models(self.array_of_tables(data, "model", required=True), providers)
        if "admin" not in data:
            self.fail((), "", "missing [admin] with token_env, the environment variable holding the admin "
                              "API's token, e.g. [admin] token_env = \"RELAYGUARD_ADMIN_TOKEN\"")
        admin = self.section(data, "admin", ("token_env",), secret_hint="token_env")
        return GatewayConfig(
            path=self.path,
            providers=providers,
            models=models,
            admin=Admin(token_env=admin.env_name("token_env", required=True)),
            signing=self.signing(data),
            storage=self.storage(data),
            routing=self.routing(data),
            prices=self.prices(self.array_of_tables(data, "price", required=False)),
            egress=self.egress(data),
        )

    def array_of_tables(self, data: dict, name: str, required: bool) -> list[dict]:
        value = data.get(name)
        if value is None:
            if required:
                self.fail((), "", f"no [[{name}]] tables; the gateway needs at least one "
                                  f"(see docs/gateway-config.md)")
            return []
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            self.fail((name,), f"[{name}]", f"write [[{name}]] (double brackets), one table per {name}")
        return value

    def section(self, data: dict, name: str, known: tuple[str, ...], **kw: Any) -> FieldReader:
        value = data.get(name, {})
        if not isinstance(value, dict):
            self.fail((name,), f"[{name}]", f"write [{name}] as a table (single brackets)")
        return self.table(value, (name,), f"[{name}]", known, **kw)

    def providers(self, tables: list[dict]) -> tuple[Provider, ...]:
        out: list[Provider] = []
        for i, raw in enumerate(tables):
            path, label = ("provider", i), _label("provider", raw, i)
            literal = next((k for k in LITERAL_SECRET_FIELDS if k in raw), None)
            if literal:
                self.fail(path + (literal,), f"{label} field \"{literal}\"",
                          "a provider's key never goes in the configuration file; remove this field and set "
                          "api_key_env = \"NAME\" (the environment variable holding the key) or "
                          "api_key_file = \"path\" (a file only you can read)")
            t = self.table(raw, path, label, ("name", "base_url", "dialect", "api_key_env", "api_key_file",
                                              "connect_timeout", "read_timeout", "auth"))
            name = t.string("name", required=True)
            if not NAME_RE.match(name):
                t.fail("name", f"use 1-64 letters, digits, '_', '.' or '-', got {show(name)}")
            if any(p.name == name for p in out):
                t.fail("name", f"two providers are named \"{name}\"; provider names must be unique")
            base_url = t.base_url("base_url")
            dialect = t.choice("dialect", DIALECTS, required=True)
            key_env = t.env_name("api_key_env")
            key_file = t.string("api_key_file")
            if key_env and key_file is not None:
                t.fail("api_key_file", "set api_key_env or api_key_file, not both")
            if key_file is not None:
                if not key_file.strip():
                    t.fail("api_key_file", "is empty; give the path of the file holding the key")
                key_file = str((self.dir / key_file).resolve())
            out.append(Provider(
                name=name, base_url=base_url, dialect=dialect, api_key_env=key_env, api_key_file=key_file,
                connect_timeout=t.number("connect_timeout", 10.0, 0.001, 3600.0),
                read_timeout=t.number("read_timeout", 600.0, 0.001, 86400.0),
                auth=t.choice("auth", AUTH_SCHEMES) or ("x-api-key" if dialect == "anthropic-messages" else "bearer"),
                line=line_of(self.lines, path),
            ))
        return tuple(out)

    def models(self, tables: list[dict], providers: tuple[Provider, ...]) -> tuple[ModelRoute, ...]:
        known = [p.name for p in providers]
        out: list[ModelRoute] = []
        for i, raw in enumerate(tables):
            t = self.table(raw, ("model", i), _label("model", raw, i), ("name", "targets"))
            name = t.string("name", required=True)
            if not MODEL_RE.match(name):
                t.fail("name", f"use 1-256 visible ASCII characters without spaces, got {show(name)}")
            if any(m.name == name for m in out):
                t.fail("name", f"two [[model]] tables are named \"{name}\"; model names must be unique")
            items = raw.get("targets")
            if items is None:
                t.missing("targets")
            if not isinstance(items, list) or not items:
                t.fail("targets", "expected a non-empty array of inline tables like "
                                  "[{ provider = \"NAME\", model = \"UPSTREAM-MODEL\", weight = 1 }]")
            targets = tuple(self.target(item, ("model", i, "targets", j), f"{t.label} targets[{j}]", known)
                            for j, item in enumerate(items))
            if not any(tg.weight > 0 for tg in targets):
                t.fail("targets", "every target has weight 0; at least one must be above 0")
            out.append(ModelRoute(name, targets))
        return tuple(out)

    def target(self, item: Any, path: tuple, label: str, providers: list[str]) -> Target:
        if not isinstance(item, dict):
            self.fail(path, label, f"expected an inline table {{ provider = ..., model = ... }}, got {show(item)}")
        t = self.table(item, path, label, ("provider", "model", "weight"))
        provider = t.string("provider", required=True)
        if provider not in providers:
            t.fail("provider", f"no [[provider]] is named \"{provider}\"; providers: {', '.join(providers)}")
        model = t.string("model", required=True)
        if not MODEL_RE.match(model):
            t.fail("model", f"use 1-256 visible ASCII characters without spaces, got {show(model)}")
        return Target(provider, model, t.number("weight", 1.0, 0.0, 1e6))

    def signing(self, data: dict) -> Signing:
        t = self.section(data, "signing", ("key",))
        key = t.string("key")
        if key is None:
            return Signing()
        resolved = (self.dir / key).resolve()
        if not resolved.is_file():
            t.fail("key", f"no signing key file at {resolved}; create one with "
                          "`relayguard keys generate --out DIR` and set key to DIR/signing.key")
        return Signing(str(resolved))

    def storage(self, data: dict) -> Storage:
        t = self.section(data, "storage", ("database", "log"))
        default = default_storage()
        database = t.string("database")
        if database is not None and not database.strip():
            t.fail("database", "is empty; give a file path or leave it out for the default")
        log_value = t.raw.get("log", True)
        if isinstance(log_value, bool):
            log = default.log if log_value else None
        elif isinstance(log_value, str) and log_value.strip():
            log = str((self.dir / log_value).resolve())
        else:
            t.fail("log", f"expected a file path, or false for no transparency log, got {show(log_value)}")
        return Storage(database=str((self.dir / database).resolve()) if database else default.database, log=log)

    def routing(self, data: dict) -> Routing:
        t = self.section(data, "routing", ("retries", "backoff_ms", "cooldown_seconds", "failure_threshold"))
        return Routing(
            retries=t.number("retries", 2, 0, 10, integer=True),
            backoff_ms=t.number("backoff_ms", 100.0, 0.0, 60000.0),
            cooldown_seconds=t.number("cooldown_seconds", 30.0, 0.0, 86400.0),
            failure_threshold=t.number("failure_threshold", 3, 1, 1000, integer=True),
        )

    def prices(self, tables: list[dict]) -> tuple[PriceOverride, ...]:
        out: list[PriceOverride] = []
        for i, raw in enumerate(tables):
            model = raw.get("model")
            label = f"[[price]] \"{model}\"" if isinstance(model, str) and model else f"[[price]] #{i + 1}"
            t = self.table(raw, ("price", i), label, ("model", "input_per_mtok", "output_per_mtok"))
            model = t.string("model", required=True)
            if any(p.model == model for p in out):
                t.fail("model", f"two [[price]] tables are for \"{model}\"; keep one")
            out.append(PriceOverride(model, t.number("input_per_mtok", None, 0.0, 1e6),
                                     t.number("output_per_mtok", None, 0.0, 1e6)))
        return tuple(out)

    def egress(self, data: dict) -> tuple[EgressRule, ...]:
        t = self.section(data, "egress", ("allow",))
        value = t.raw.get("allow", [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            t.fail("allow", f"expected an array of host names, got {show(value)}")
        rules = []
        for j, entry in enumerate(value):
            parsed = egress_entry(entry)
            if isinstance(parsed, str):
                self.fail(("egress", "allow", j), "[egress] field \"allow\"", f"entry {show(entry)} {parsed}")
            rules.append(EgressRule(*parsed))
        return tuple(rules)


def _label(kind: str, raw: dict, index: int) -> str:
    name = raw.get("name")
    return f"[[{kind}]] \"{name}\"" if isinstance(name, str) and name else f"[[{kind}]] #{index + 1}"
