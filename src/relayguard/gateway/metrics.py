"""The gateway's Prometheus metrics (``GET /metrics``), on a registry of its own.

Labels are bounded by the configuration (model aliases, providers, a fixed set
of outcomes and reasons): never a key, a user or a URL, so cardinality stays
small and no secret reaches the metrics.
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class GatewayMetrics:
    content_type = CONTENT_TYPE_LATEST.encode()

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("relayguard_gateway_requests", "Client requests by model alias and HTTP status",
                                ["model", "status"], registry=r)
        self.latency = Histogram("relayguard_gateway_request_seconds",
                                 "Time from request to the last byte of the answer", ["model"],
                                 buckets=LATENCY_BUCKETS, registry=r)
        self.upstream_latency = Histogram("relayguard_gateway_upstream_seconds",
                                          "Time to the upstream's response headers", ["provider"],
                                          buckets=LATENCY_BUCKETS, registry=r)
        self.upstream_errors = Counter("relayguard_gateway_upstream_errors",
                                       "Failed upstream attempts (connect, timeout, 429, 5xx, dropped stream)",
                                       ["provider", "kind"], registry=r)
        self.failovers = Counter("relayguard_gateway_failovers", "Requests retried on another attempt",
                                 ["model"], registry=r)
        self.refused = Counter("relayguard_gateway_refused",
                               "Requests the gateway refused (auth, scope, rate, budget, egress)",
                               ["reason"], registry=r)
        self.tokens = Counter("relayguard_gateway_tokens", "Tokens by model alias and direction",
                              ["model", "direction"], registry=r)
        self.cost = Counter("relayguard_gateway_cost_usd", "Cost in USD by model alias", ["model"], registry=r)
        self.cooling = Gauge("relayguard_gateway_targets_cooling", "Targets currently cooling down",
                             registry=r)

    def render(self) -> bytes:
        return generate_latest(self.registry)
