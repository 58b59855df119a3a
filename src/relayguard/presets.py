"""The guard and the red-team router are presets of one pipeline: this module
says which inspectors each runs, in what order."""

from __future__ import annotations

from relayguard.inspectors.base import Inspector
from relayguard.pipeline import Pipeline


def guard_inspectors(policy_path: str | None = None) -> list[Inspector]:
    """The guard's default set; `relayguard check` uses exactly the same."""
    from relayguard.inspectors.policy_gate import PolicyGate, Policy, load_policy

    policy = load_policy(policy_path) if policy_path else Policy.default()
    return [PolicyGate(policy)]


def guard_pipeline(policy_path: str | None = None) -> Pipeline:
    return Pipeline(guard_inspectors(policy_path))
