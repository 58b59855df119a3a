"""Secret vault: detection of credentials in agent traffic (and, on top of it, the vault)."""
