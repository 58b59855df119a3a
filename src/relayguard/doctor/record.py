"""Installed files against the hashes in their wheel's RECORD.

Every wheel carries ``NAME-VERSION.dist-info/RECORD``: one ``path,algo=digest,size``
row per file, the digest an unpadded urlsafe base64 SHA-256.  Installers keep
it, so a file changed after installation no longer matches.  This catches a
file modified in place or deleted; it cannot catch a release that was
trojanized before it was uploaded (its RECORD describes the trojan) -- that is
what the lock file's artifact hashes and the advisory list are for.

Also reported: code files (``.py``, ``.pth``, native modules) planted inside a
checked distribution's package directories that no RECORD in the site
directory lists.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import os
from pathlib import Path

from relayguard.doctor import Problem
from relayguard.doctor.envscan import Distribution

_CODE_SUFFIXES = (".py", ".pth", ".so", ".pyd", ".dylib")
_CHUNK = 1 << 20


def read_record(dist: Distribution) -> list[tuple[str, str, str]] | None:
    """The rows of the distribution's RECORD, or None when it has none."""
    try:
        text = (dist.path / "RECORD").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    rows = []
    for row in csv.reader(io.StringIO(text)):
        if row:
            rows.append((row[0], row[1] if len(row) > 1 else "", row[2] if len(row) > 2 else ""))
    return rows


def file_digest(path: Path, algo: str) -> bytes:
    h = hashlib.new(algo)
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.digest()


def _encode_like(digest: bytes, expected: str) -> str:
    """The digest in the RECORD's own encoding: urlsafe base64 (the wheel spec) or hex (Debian's)."""
    if len(expected) == 2 * len(digest) and all(c in "0123456789abcdef" for c in expected.lower()):
        return digest.hex()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def system_managed(dist: Distribution) -> bool:
    """Installed by the operating system's package manager (Debian's dist-packages, no INSTALLER
    file): such files are rewritten at packaging time (binaries stripped), and dpkg keeps its own
    checksums -- ``debsums`` or ``dpkg --verify`` checks them."""
    return "dist-packages" in dist.site.parts and not (dist.path / "INSTALLER").is_file()


def _resolve(dist: Distribution, rel: str) -> Path:
    return Path(os.path.normpath(dist.site / rel))


def verify(dist: Distribution, recorded: set[Path] | None = None) -> tuple[list[Problem], int]:
    """Problems with one distribution's files, and how many files were hashed.

    ``recorded``: every path any RECORD in the site directory lists, to tell planted code
    files inside this distribution's package directories from other distributions' files."""
    rows = read_record(dist)
    if rows is None:
        return [Problem("record", str(dist.path), f"{dist.name} {dist.version} has no RECORD: its installed "
                        "files cannot be checked against the wheel (reinstall it from the lock)")], 0
    problems: list[Problem] = []
    hashed = 0
    top_dirs: set[Path] = set()
    for rel, digest, size in rows:
        path = _resolve(dist, rel)
        parts = Path(rel).parts
        if len(parts) > 1 and parts[0] != ".." and not parts[0].endswith((".dist-info", ".data")):
            top_dirs.add(dist.site / parts[0])
        if not digest:
            continue  # RECORD itself, and .pyc files compiled at install time, carry no hash
        algo, _, expected = digest.partition("=")
        if algo not in hashlib.algorithms_guaranteed or algo in ("md5", "sha1"):
            problems.append(Problem("record", str(path), f"RECORD of {dist.name} {dist.version} uses the hash "
                                    f"{algo!r}, which doctor does not accept"))
            continue
        try:
            actual = _encode_like(file_digest(path, algo), expected)
        except FileNotFoundError:
            problems.append(Problem("record", str(path), f"listed in the RECORD of {dist.name} {dist.version} "
                                    "but missing: the installed distribution was changed after installation"))
            continue
        except OSError as exc:
            problems.append(Problem("record", str(path), f"cannot be read to check it ({exc.strerror})"))
            continue
        hashed += 1
        if actual != expected:
            problems.append(Problem("record", str(path), f"differs from the RECORD of {dist.name} {dist.version} "
                                    f"({algo} {actual} instead of {expected}): the file was modified after "
                                    "installation"))
        elif size and size.isdigit() and path.stat().st_size != int(size):
            problems.append(Problem("record", str(path), f"has {path.stat().st_size} bytes, the RECORD of "
                                    f"{dist.name} {dist.version} says {size}"))
    if recorded is not None:
        problems += _planted(dist, top_dirs, recorded)
    return problems, hashed


def _planted(dist: Distribution, top_dirs: set[Path], recorded: set[Path]) -> list[Problem]:
    problems = []
    for top in sorted(top_dirs):
        for root, dirs, files in os.walk(top):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            for name in files:
                path = Path(root) / name
                if name.endswith(_CODE_SUFFIXES) and path not in recorded:
                    problems.append(Problem("record", str(path), f"a code file inside {dist.name}'s package "
                                            "directory that no RECORD lists: it was added after installation"))
    return problems


def recorded_paths(dists: list[Distribution]) -> set[Path]:
    out: set[Path] = set()
    for dist in dists:
        for rel, _, _ in read_record(dist) or ():
            out.add(_resolve(dist, rel))
    return out
