"""`relayguard doctor`: check a Python environment for supply-chain tampering.

The environment is inspected by reading its files, never by starting its
interpreter: a trojanized release such as litellm 1.82.8 put a ``.pth`` file in
site-packages, and every interpreter start (``python -c ...`` included) runs it.

Modules:
  envscan     where the environment's site-packages are, and its distributions
  pth         what the lines of ``.pth`` files (and startup modules) would do
  advisories  a bundled, dated list of known-compromised releases
  record      installed files against the hashes in their wheel's RECORD
  checks      the check list, run against one environment
  cli         ``relayguard doctor [--python PATH] [--all] [--lock FILE] ...``
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with the environment.

    kind: ``pth``, ``startup``, ``advisory``, ``record``, ``lock``, ``permissions``
    or ``egress``; path: the file (or distribution) concerned; detail: what is wrong,
    in words a person can act on."""

    kind: str
    path: str
    detail: str

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "path": self.path, "detail": self.detail}


__all__ = ["Problem"]
