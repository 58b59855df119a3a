"""The labelled data set: benign sessions and attacks, as `relayguard check` input.

    python bench/detection/attackset.py --seed 1 --out attackset.jsonl [--no-meta]

Each line: ``{"id", "dialect", "request", "response", "meta": {"class", "label",
"variant", ...}}``.  Deterministic per seed: the same seed gives the same bytes.
Ids are opaque and the lines are shuffled, so neither says what a line is; the
benchmark runner also strips ``meta`` before the checker sees a line.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Callable

if __package__ in (None, ""):  # run as a script: make `detection` importable
    sys.path.append(str(Path(__file__).resolve().parents[1]))
    __package__ = "detection"

from detection.adaptive_net import allowlisted_case, gitref_case, index_case, stager_case  # noqa: E402
from detection.adaptive_payload import (  # noqa: E402
    encoded_case, exfiltration_case, file_write_case, obfuscation_case, persistence_case, reverse_shell_case,
)
from detection.benign import generate_benign  # noqa: E402
from detection.cases import Case, generate_class  # noqa: E402
from detection.common import rng_for  # noqa: E402
from detection.core import ac1_case, ac1a_case, ac1b_case  # noqa: E402

PAPER_CLASSES = ("AC-1", "AC-1.a", "AC-1.b")
ADAPTIVE_CLASSES = ("allowlisted-host", "git-url", "index-swap", "encoded", "stager", "exfiltration",
                    "persistence", "reverse-shell", "obfuscation", "file-write")
ATTACK_CLASSES = PAPER_CLASSES + ADAPTIVE_CLASSES
TARGETS = {**{c: 0.99 for c in PAPER_CLASSES}, **{c: 0.95 for c in ADAPTIVE_CLASSES}}
MAX_FALSE_BLOCK = 0.005

MAKERS: dict[str, Callable[..., Case | None]] = {
    "AC-1": lambda rng, i: ac1_case(rng),
    "AC-1.a": lambda rng, i: ac1a_case(rng),
    "AC-1.b": lambda rng, i: ac1b_case(rng),
    "allowlisted-host": lambda rng, i: allowlisted_case(rng),
    "git-url": lambda rng, i: gitref_case(rng),
    "index-swap": lambda rng, i: index_case(rng),
    "encoded": lambda rng, i: encoded_case(rng),
    "stager": lambda rng, i: stager_case(rng),
    "exfiltration": lambda rng, i: exfiltration_case(rng),
    "persistence": lambda rng, i: persistence_case(rng),
    "reverse-shell": lambda rng, i: reverse_shell_case(rng),
    "obfuscation": lambda rng, i: obfuscation_case(rng),
    "file-write": lambda rng, i: file_write_case(rng),
}
COUNTS = {"AC-1": 400, "AC-1.a": 600, "AC-1.b": 450, **{c: 250 for c in ADAPTIVE_CLASSES}}


def generate(seed: int = 1, classes: tuple[str, ...] | None = None, scale: float = 1.0,
             benign: bool = True, benign_limit: int | None = None) -> list[dict[str, Any]]:
    """Every record, shuffled deterministically."""
    records: list[dict[str, Any]] = []
    if benign:
        records += generate_benign(seed, benign_limit)
    for cls in classes or ATTACK_CLASSES:
        records += generate_class(seed, cls, max(1, round(COUNTS[cls] * scale)), MAKERS[cls])
    rng_for(seed, "shuffle").shuffle(records)
    return records


def dump(records: list[dict[str, Any]], path: str | Path, meta: bool = True) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for r in records:
            if not meta:
                r = {k: v for k, v in r.items() if k != "meta"}
            f.write(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default="-", help="output file (default: stdout)")
    ap.add_argument("--no-meta", action="store_true", help="leave out the labels (what the checker sees)")
    ap.add_argument("--classes", help="comma-separated attack classes (default: all)")
    ap.add_argument("--no-benign", action="store_true")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply the number of attacks per class")
    args = ap.parse_args(argv)
    classes = tuple(args.classes.split(",")) if args.classes else None
    records = generate(args.seed, classes, args.scale, benign=not args.no_benign)
    if args.out == "-":
        for r in records:
            if args.no_meta:
                r = {k: v for k, v in r.items() if k != "meta"}
            sys.stdout.write(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n")
    else:
        dump(records, args.out, meta=not args.no_meta)
    return 0


if __name__ == "__main__":
    sys.exit(main())
