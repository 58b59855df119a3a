"""`relayguard log ...`: verify, show, prove and query the transparency log."""

from __future__ import annotations

import argparse
import sys

import orjson

from relayguard.errors import ConfigError
from relayguard.translog import LogCorrupted, TransparencyLog, verify_consistency, verify_inclusion


def default_path() -> str:
    from relayguard.vault.store import default_dir

    return str(default_dir() / "guard-log.sqlite")


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("log", help="the tamper-evident transparency log of every exchange")
    actions = p.add_subparsers(dest="log_command", required=True, metavar="ACTION")
    for name, text in (("verify", "recompute the Merkle tree and check every signed head (exit 1 if tampered)"),
                       ("show", "print entries as JSON lines"),
                       ("proof", "an inclusion proof for one entry (and a consistency proof), verified"),
                       ("query", "which sessions went through a router between two times, and their tool calls")):
        q = actions.add_parser(name, help=text)
        q.add_argument("--log", default=None, help="the log file (default: the guard's, in the user data directory)")
        if name == "show":
            q.add_argument("--index", type=int, help="only this entry")
            q.add_argument("--last", type=int, default=20, help="the last N entries (default 20)")
        if name == "proof":
            q.add_argument("--index", type=int, required=True, help="the entry to prove")
            q.add_argument("--old-size", type=int, help="also prove the log at this size is a prefix of today's")
        if name == "query":
            q.add_argument("--router", help="upstream URL, URL prefix or host name")
            q.add_argument("--since", help="ISO 8601 time or epoch seconds (inclusive)")
            q.add_argument("--until", help="ISO 8601 time or epoch seconds (exclusive)")
            q.add_argument("--session", help="only this session")


def run(args: argparse.Namespace) -> int:
    path = args.log or default_path()
    import os

    if not os.path.exists(path):
        raise ConfigError(f"no transparency log at {path} (start the guard with --log {path}, or pass --log)")
    if not os.path.exists(path + ".key"):
        # Opening would create a fresh key; the log's heads must be checked with its own.
        raise ConfigError(f"the log's key file {path}.key is missing: copy it with the log to verify it")
    log = TransparencyLog.open(path, check=False)
    try:
        return {"verify": _verify, "show": _show, "proof": _proof, "query": _query}[args.log_command](log, args)
    finally:
        log.close()


def _out(obj: object) -> None:
    sys.stdout.buffer.write(orjson.dumps(obj) + b"\n")


def _verify(log: TransparencyLog, args: argparse.Namespace) -> int:
    try:
        report = log.verify()
    except LogCorrupted as exc:
        where = f"first bad entry: {exc.index}" if getattr(exc, "index", None) is not None else "a signed head"
        print(f"relayguard log verify: TAMPERED ({where}): {exc}", file=sys.stderr)
        return 1
    print(f"relayguard log verify: OK, {report.size} entries, root {report.root.hex()}, "
          f"{report.heads} signed heads (signed up to entry {report.signed_size})")
    return 0


def _show(log: TransparencyLog, args: argparse.Namespace) -> int:
    indexes = [args.index] if args.index is not None else range(max(0, log.size - args.last), log.size)
    for i in indexes:
        _out(log.get(i))
    return 0


def _proof(log: TransparencyLog, args: argparse.Namespace) -> int:
    head = log.signed_head()
    if not 0 <= args.index < head.size:
        raise ConfigError(f"--index must be between 0 and {head.size - 1}")
    proof = log.inclusion_proof(args.index, head.size)
    verify_inclusion(log.leaf_hash(args.index), args.index, head.size, proof, head.root)
    result: dict[str, object] = {"index": args.index, "leaf_hash": log.leaf_hash(args.index).hex(),
                                 "tree_head": head.to_json(), "inclusion_proof": [h.hex() for h in proof]}
    if args.old_size is not None:
        consistency = log.consistency_proof(args.old_size, head.size)
        verify_consistency(args.old_size, head.size, log.root(args.old_size), head.root, consistency)
        result["old_size"] = args.old_size
        result["old_root"] = log.root(args.old_size).hex()
        result["consistency_proof"] = [h.hex() for h in consistency]
    _out(result)
    return 0


def _query(log: TransparencyLog, args: argparse.Namespace) -> int:
    since = float(args.since) if args.since and args.since.replace(".", "", 1).isdigit() else args.since
    until = float(args.until) if args.until and args.until.replace(".", "", 1).isdigit() else args.until
    for entry in log.query(router=args.router, since=since, until=until, session=args.session):
        _out(entry)
    return 0
