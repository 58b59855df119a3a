"""The guard and the red-team router are presets of one pipeline: this module
says which inspectors each runs, in what order."""

from __future__ import annotations

from dataclasses import dataclass

from relayguard.inspectors.base import Inspector
from relayguard.pipeline import Pipeline


@dataclass(frozen=True)
class GuardOptions:
    policy_path: str | None = None
    vault: bool = True  # vaulting is on by default in the guard
    vault_dir: str | None = None
    vault_allow: frozenset[str] = frozenset()  # secret kinds allowed to leave
    trust_keyset: str | None = None  # verify signed envelopes against these keys
    require_envelope: bool = False


def guard_inspectors(options: GuardOptions = GuardOptions(), with_vault: bool = True) -> list[Inspector]:
    """The guard's inspectors, in order.  The vault restores placeholders first,
    so every later inspector judges the command the agent will really run.
    `relayguard check` uses the same list without the vault (it has no session).

    Tool calls are judged by the screening inspector (``inspectors.screening``);
    the paper's baseline gate (``inspectors.policy_gate.PolicyGate``) stays
    importable for comparisons but is not part of the default pipeline."""
    from relayguard.inspectors.screening import Screening
    from relayguard.screen.policy import ScreenPolicy, load_policy

    policy = load_policy(options.policy_path) if options.policy_path else ScreenPolicy.default()
    inspectors: list[Inspector] = []
    if with_vault and options.vault:
        from relayguard.inspectors.vault import Vault
        from relayguard.vault.detect import SecretDetector
        from relayguard.vault.store import VaultStore

        inspectors.append(Vault(VaultStore(options.vault_dir), SecretDetector(options.vault_allow)))
    inspectors.append(Screening(policy))
    if options.trust_keyset:
        from relayguard.envelope import load_keyset
        from relayguard.inspectors.envelope_check import EnvelopeCheck

        inspectors.append(EnvelopeCheck(load_keyset(options.trust_keyset), options.require_envelope))
    return inspectors


def guard_pipeline(options: GuardOptions = GuardOptions()) -> Pipeline:
    return Pipeline(guard_inspectors(options))


def check_pipeline(policy_path: str | None = None) -> Pipeline:
    return Pipeline(guard_inspectors(GuardOptions(policy_path=policy_path), with_vault=False))
