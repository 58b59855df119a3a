"""Shared helpers: seeded randomness, opaque ids, the shared corpora."""

from __future__ import annotations

import hashlib
import json
import os
import random
import string
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence, TypeVar

T = TypeVar("T")

REPO = Path(__file__).resolve().parents[2]


def corpora_dir() -> Path:
    """`../shared/corpora` next to the repository (override: RELAYGUARD_CORPORA)."""
    env = os.environ.get("RELAYGUARD_CORPORA")
    return Path(env) if env else REPO.parent / "shared" / "corpora"


def rng_for(seed: int, *parts: object) -> random.Random:
    """An independent, reproducible stream per (seed, parts): adding a case or a
    class never shifts the others.  String seeds hash with SHA-512, so this does
    not depend on PYTHONHASHSEED."""
    return random.Random("|".join([str(seed), *map(str, parts)]))


def opaque_id(seed: int, *parts: object) -> str:
    """An id that says nothing about the label (the checker sees ids)."""
    digest = hashlib.sha256("|".join([str(seed), *map(str, parts)]).encode()).hexdigest()
    return f"ex-{digest[:16]}"


def pick(rng: random.Random, seq: Sequence[T]) -> T:
    return seq[rng.randrange(len(seq))]


def weighted(rng: random.Random, table: Sequence[tuple[T, float]]) -> T:
    total = sum(w for _, w in table)
    x = rng.random() * total
    for item, w in table:
        x -= w
        if x < 0:
            return item
    return table[-1][0]


def token(rng: random.Random, n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(rng.choices(alphabet, k=n))


def hexstr(rng: random.Random, n: int) -> str:
    return token(rng, n, "0123456789abcdef")


@lru_cache(maxsize=None)
def benign_rows() -> tuple[dict[str, Any], ...]:
    with open(corpora_dir() / "benign_commands.jsonl", encoding="utf-8") as f:
        return tuple(json.loads(line) for line in f if line.strip())


@lru_cache(maxsize=None)
def top_names(ecosystem: str) -> tuple[str, ...]:
    """Most popular first: 'pypi' or 'npm'."""
    name = {"pypi": "top_pypi.txt", "npm": "top_npm.txt"}[ecosystem]
    with open(corpora_dir() / name, encoding="utf-8") as f:
        return tuple(line.strip() for line in f if line.strip())


def pep503(name: str) -> str:
    out = []
    prev_sep = False
    for ch in name.lower():
        if ch in "-_.":
            if not prev_sep:
                out.append("-")
            prev_sep = True
        else:
            out.append(ch)
            prev_sep = False
    return "".join(out)


def is_real_row(row: dict[str, Any]) -> bool:
    return not str(row.get("source", "")).startswith("synthetic:")
