"""From a configuration file to a running gateway's parts (used by the CLI and tests)."""

from __future__ import annotations

import random
import sys

from relayguard.errors import ConfigError
from relayguard.gateway.app import GatewayApp
from relayguard.gateway.config import GatewayConfig, load_config
from relayguard.gateway.credentials import resolve_secrets
from relayguard.gateway.egress import EgressPolicy
from relayguard.gateway.keys import KeyStore
from relayguard.gateway.limits import Limiter
from relayguard.gateway.metrics import GatewayMetrics
from relayguard.gateway.prices import PriceTable
from relayguard.gateway.routing import Router, Target
from relayguard.gateway.upstreams import Upstreams

NAME = "relayguard-gateway"


def build_gateway(config_path: str, *, request_log: bool = True, max_body: int = 10 * 1024 * 1024) -> GatewayApp:
    """Everything is checked before the port opens: a bad config, a missing key or an
    unreadable signing key stops the start with a message that names the file and line."""
    cfg = load_config(config_path)
    secrets = resolve_secrets(cfg)
    for warning in secrets.warnings:
        print(f"relayguard gateway: warning: {warning}", file=sys.stderr)
    signing_key = None
    if cfg.signing.key:
        from relayguard.envelope import KeyFileError, load_signing_key

        try:
            signing_key = load_signing_key(cfg.signing.key)
        except (KeyFileError, OSError) as exc:
            raise ConfigError(f"{cfg.path}: [signing] field \"key\": {exc}") from None
    log = None
    if cfg.storage.log:
        from relayguard.translog import TransparencyLog

        log = TransparencyLog.open(cfg.storage.log, durability="normal")
    metrics = GatewayMetrics()
    router = _router(cfg)

    def refused(destination: str) -> None:
        print(f'{{"event": "egress-refused", "destination": "{destination}"}}', file=sys.stderr)

    upstreams = Upstreams({p.name: p for p in cfg.providers}, secrets.provider_keys, router,
                          EgressPolicy(cfg.egress_allows, refused), metrics,
                          retries=cfg.routing.retries, backoff_seconds=cfg.routing.backoff_ms / 1000,
                          max_response=64 * 1024 * 1024)
    keys = KeyStore(cfg.storage.database)
    return GatewayApp(name=NAME, upstreams=upstreams, keys=keys, limiter=Limiter(spent=keys.spent_usd),
                      prices=PriceTable.load(cfg.prices), admin_token=secrets.admin_token, metrics=metrics,
                      signing_key=signing_key, log=log, max_body=max_body, request_log=request_log)


def _router(cfg: GatewayConfig) -> Router:
    return Router({m.name: [Target(t.provider, t.model, t.weight) for t in m.targets] for m in cfg.models},
                  failure_threshold=cfg.routing.failure_threshold, cooldown_seconds=cfg.routing.cooldown_seconds,
                  rng=random.Random())
