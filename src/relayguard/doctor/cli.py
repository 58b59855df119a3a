"""``relayguard doctor``: check a Python environment for supply-chain tampering.

Wired into ``relayguard.cli`` with ``add_parser(sub)`` and ``run(args)``; ``main(argv)``
runs it on its own (``python -c "from relayguard.doctor.cli import main; main()"``).
Exit 0: nothing found; 1: problems found; 2: usage error (a ``ConfigError``, which
``relayguard.cli.main`` turns into a message and exit code 2).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import textwrap
from typing import Sequence

import orjson

from relayguard.errors import ConfigError


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:  # type: ignore[type-arg]
    p = sub.add_parser(
        "doctor", help="check a Python environment for supply-chain tampering (.pth payloads, compromised "
                       "releases, modified files, packages outside the lock, loose key files)",
        description="Check the Python environment relayguard runs in (or the one of --python PATH) without "
                    "starting its interpreter: .pth files whose code does more than set up imports, "
                    "known-compromised releases, files that differ from their wheel's RECORD, packages "
                    "installed outside the lock file, key and vault files others can read, and (with "
                    "--gateway-config) an egress allowlist that allows more than the configured providers. "
                    "Exit 0 when clean, 1 when a problem is found, 2 on a usage error.")
    _arguments(p)
    return p


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--python", metavar="PATH",
                   help="inspect the environment of this interpreter (or virtual environment directory); it is "
                        "read, never run (default: the environment relayguard runs in)")
    p.add_argument("--all", action="store_true", dest="all_records",
                   help="check every distribution's files against its RECORD, not only relayguard's own")
    p.add_argument("--lock", metavar="FILE",
                   help="the uv.lock the environment must match (default: relayguard's project lock when found)")
    p.add_argument("--advisories", metavar="FILE",
                   help="a newer advisory list (JSON, the bundled list's format) to use with the bundled one")
    p.add_argument("--vault-dir", metavar="DIR",
                   help="the guard's data directory to check for loose key files "
                        "(default $XDG_DATA_HOME/relayguard or ~/.local/share/relayguard)")
    p.add_argument("--gateway-config", metavar="FILE",
                   help="a gateway configuration (TOML) whose [[provider]] base_url hosts must match its "
                        "[egress] allow list")
    p.add_argument("--json", action="store_true",
                   help='print {"ok": bool, "problems": [{"kind", "path", "detail"}]} instead of a table')


def run(args: argparse.Namespace) -> int:
    from relayguard.doctor import checks, envscan

    env = envscan.from_python(args.python) if args.python else envscan.current()
    options = checks.Options(all_records=args.all_records, lock=args.lock, advisories=args.advisories,
                             vault_dir=args.vault_dir, gateway_config=args.gateway_config)
    report = checks.run(env, options)
    if args.json:
        sys.stdout.buffer.write(orjson.dumps(report.to_json(), option=orjson.OPT_INDENT_2) + b"\n")
    else:
        _table(report)
    sys.stdout.flush()
    return 0 if report.ok else 1


def _table(report) -> None:  # type: ignore[no-untyped-def]
    env = report.environment
    width = max(80, min(shutil.get_terminal_size((120, 24)).columns, 160))
    out = [f"relayguard doctor: {env.description}"]
    out += [f"  site-packages: {d}" for d in env.site_dirs]
    out += [f"  {note}" for note in report.notes]
    out.append("")
    if report.ok:
        out.append("OK: no problems found.")
    else:
        kind_w = max(len("KIND"), *(len(p.kind) for p in report.problems))
        out.append(f"{'KIND':<{kind_w}}  PATH / DETAIL")
        for p in report.problems:
            out.append(f"{p.kind:<{kind_w}}  {p.path}")
            out += textwrap.wrap(p.detail, width=width, initial_indent=" " * (kind_w + 4),
                                 subsequent_indent=" " * (kind_w + 4), break_long_words=True)
        n = len(report.problems)
        out += ["", f"{n} problem{'s' if n != 1 else ''} found."]
    sys.stdout.write("\n".join(out) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``doctor`` without the main ``relayguard`` front (same exit codes)."""
    parser = argparse.ArgumentParser(prog="relayguard doctor")
    _arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except ConfigError as exc:
        print(f"relayguard doctor: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
