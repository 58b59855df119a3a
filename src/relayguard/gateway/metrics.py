"""The gateway's Prometheus metrics (``GET /metrics``), on a registry of its own.

Labels are bounded by the configuration (model aliases, providers, a fixed set
of outcomes and reasons): never a key, a user or a URL, so cardinality stays
small and no secret reaches the metrics.
"""

from __future__ import annotations

from typing import Any

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

        # Labelled children cached per label values: .labels() costs ~3x the increment itself.
        self._per_request: dict[tuple[str, int], tuple[Any, Any]] = {}
        self._per_model: dict[str, tuple[Any, Any, Any]] = {}
        self._per_provider: dict[str, Any] = {}

    def observe_request(self, model: str, status: int, seconds: float) -> None:
        pair = self._per_request.get((model, status))
        if pair is None:
            pair = self._per_request[(model, status)] = (self.requests.labels(model, str(status)),
                                                         self.latency.labels(model))
        pair[0].inc()
        pair[1].observe(seconds)

    def observe_usage(self, model: str, input_tokens: int, output_tokens: int, cost: float) -> None:
        children = self._per_model.get(model)
        if children is None:
            children = self._per_model[model] = (self.tokens.labels(model, "input"),
                                                 self.tokens.labels(model, "output"), self.cost.labels(model))
        children[0].inc(input_tokens)
        children[1].inc(output_tokens)
        if cost:
            children[2].inc(cost)

    def observe_upstream(self, provider: str, seconds: float) -> None:
        child = self._per_provider.get(provider)
        if child is None:
            child = self._per_provider[provider] = self.upstream_latency.labels(provider)
        child.observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
