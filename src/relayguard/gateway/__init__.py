"""The gateway: a self-hosted LLM router with virtual keys, limits, budgets, failover and signed
responses (issue #6).  ``relayguard gateway --config FILE`` runs it; docs/gateway-config.md
documents the configuration."""
