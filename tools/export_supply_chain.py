#!/usr/bin/env python3
"""Export relayguard's supply chain from uv.lock: a hash-pinned requirements file
and a CycloneDX 1.5 SBOM, both written to the repository root.

    python tools/export_supply_chain.py            # writes requirements.lock.txt and sbom.cdx.json
    python tools/export_supply_chain.py --no-uv    # read uv.lock directly even when uv is installed
    python tools/export_supply_chain.py --check    # exit 1 if the committed files are out of date

requirements.lock.txt holds the runtime dependencies only (no dev group, not
relayguard itself), every one pinned to the locked version with the sha256 of
each artifact uv.lock accepts; install with

    pip install --require-hashes --no-deps -r requirements.lock.txt
    pip install --no-deps relayguard-VERSION-py3-none-any.whl

It is made by ``uv export --frozen`` when uv is on PATH (or at .tools/bin/uv),
else by reading uv.lock with tomllib (same pins, hashes and markers).
sbom.cdx.json lists the same components, each with its purl
(``pkg:pypi/name@version``), the sha256 of every artifact, and the dependency
graph.  Both files are reproducible: the same uv.lock gives the same bytes
(set SOURCE_DATE_EPOCH to stamp the SBOM with a time).
Standard library only, so it runs before any environment exists.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tomllib
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = "requirements.lock.txt"
SBOM = "sbom.cdx.json"
HEADER = ("# relayguard's runtime dependencies, pinned with hashes; generated from uv.lock by\n"
          "# tools/export_supply_chain.py -- do not edit.  Install with:\n"
          "#   pip install --require-hashes --no-deps -r requirements.lock.txt\n"
          "#   pip install --no-deps relayguard-VERSION-py3-none-any.whl\n")


def find_uv() -> str | None:
    local = ROOT / ".tools" / "bin" / "uv"
    return shutil.which("uv") or (str(local) if local.is_file() and os.access(local, os.X_OK) else None)


def load_lock(root: Path) -> dict:
    return tomllib.loads((root / "uv.lock").read_text(encoding="utf-8"))



def runtime_closure(lock: dict, project: str) -> tuple[dict, dict[str, str | None], dict[str, list[str]]]:
    """The project package, the marker under which each runtime dependency is installed
    (None: always), and the dependency graph -- dev groups and extras left out."""
    packages = {p["name"]: p for p in lock["package"]}
    root = packages[project]
    markers: dict[str, set[str] | None] = {}
    graph: dict[str, list[str]] = {}
    todo: list[tuple[str, str | None, tuple[str, ...]]] = [(d["name"], d.get("marker"), ()) for d in
                                                           root.get("dependencies", [])]
    graph[project] = sorted({d["name"] for d in root.get("dependencies", [])})
    seen: set[tuple[str, tuple[str, ...]]] = set()
    while todo:
        name, marker, path_markers = todo.pop()
        conj = tuple(sorted(set(path_markers) | ({marker} if marker else set())))
        if (name, conj) in seen:
            continue
        seen.add((name, conj))
        if not conj:
            markers[name] = None
        elif markers.get(name, set()) is not None:
            markers.setdefault(name, set()).add(" and ".join(conj))  # type: ignore[union-attr]
        deps = packages[name].get("dependencies", [])
        graph[name] = sorted({d["name"] for d in deps})
        todo += [(d["name"], d.get("marker"), conj) for d in deps]
    out: dict[str, str | None] = {}
    for name, alts in markers.items():
        if alts is None:
            out[name] = None
        else:
            alts_sorted = sorted(alts)
            out[name] = alts_sorted[0] if len(alts_sorted) == 1 else " or ".join(f"({a})" for a in alts_sorted)
    return root, out, graph


def artifacts(pkg: dict) -> list[dict]:
    """sdist and wheels, each {url, hash: "sha256:..."}."""
    arts = ([pkg["sdist"]] if "sdist" in pkg else []) + list(pkg.get("wheels", []))
    return [a for a in arts if "hash" in a]


def requirements_from_lock(lock: dict, project: str) -> str:
    packages = {p["name"]: p for p in lock["package"]}
    _, markers, _ = runtime_closure(lock, project)
    lines = []
    for name in sorted(markers):
        pkg = packages[name]
        marker = f" ; {markers[name]}" if markers[name] else ""
        hashes = sorted({a["hash"] for a in artifacts(pkg)})
        lines.append(f"{name}=={pkg['version']}{marker}" + "".join(f" \\\n    --hash={h}" for h in hashes))
    return "\n".join(lines) + "\n"


def requirements_from_uv(uv: str, root: Path) -> str:
    result = subprocess.run([uv, "export", "--frozen", "--format", "requirements-txt", "--no-dev",
                             "--no-emit-project", "--no-header", "--no-annotate", "--quiet"],
                            cwd=root, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"uv export failed ({result.returncode}):\n{result.stderr}")
    return result.stdout


def purl(name: str, version: str) -> str:
    return f"pkg:pypi/{name.lower().replace('_', '-')}@{version}"


def sbom(lock: dict, pyproject: dict, project: str) -> dict:
    packages = {p["name"]: p for p in lock["package"]}
    root, markers, graph = runtime_closure(lock, project)
    meta = pyproject["project"]
    main = {"type": "application", "bom-ref": purl(project, root["version"]), "name": project,
            "version": root["version"], "purl": purl(project, root["version"]),
            "description": meta.get("description", "")}
    if isinstance(meta.get("license"), str):
        main["licenses"] = [{"license": {"id": meta["license"]}}]
    components = []
    for name in sorted(markers):
        pkg = packages[name]
        arts = artifacts(pkg)
        comp: dict = {"type": "library", "bom-ref": purl(name, pkg["version"]), "name": name,
                      "version": pkg["version"], "purl": purl(name, pkg["version"]), "scope": "required",
                      "hashes": [{"alg": "SHA-256", "content": h} for h in
                                 sorted({a["hash"].split(":", 1)[1] for a in arts})],
                      "externalReferences": [{"type": "distribution", "url": a["url"],
                                              "hashes": [{"alg": "SHA-256", "content": a["hash"].split(":", 1)[1]}]}
                                             for a in arts]}
        if markers[name]:
            comp["properties"] = [{"name": "relayguard:environment-marker", "value": markers[name]}]
        components.append(comp)
    dependencies = [{"ref": purl(n, packages[n]["version"]),
                     "dependsOn": [purl(d, packages[d]["version"]) for d in deps]}
                    for n, deps in sorted(graph.items())]
    doc: dict = {"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1,
                 "metadata": {"tools": {"components": [{"type": "application", "name": "export_supply_chain.py",
                                                        "description": "relayguard tools/, from uv.lock"}]},
                              "component": main},
                 "components": components, "dependencies": dependencies}
    if os.environ.get("SOURCE_DATE_EPOCH"):
        stamp = datetime.datetime.fromtimestamp(int(os.environ["SOURCE_DATE_EPOCH"]), datetime.timezone.utc)
        doc["metadata"]["timestamp"] = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    digest = hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()
    doc = {"bomFormat": doc.pop("bomFormat"), "specVersion": doc.pop("specVersion"),
           "serialNumber": f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, 'relayguard-sbom:' + digest)}", **doc}
    return doc


def build(root: Path, use_uv: bool) -> dict[str, str]:
    lock = load_lock(root)
    pyproject = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    project = pyproject["project"]["name"]
    uv = find_uv() if use_uv else None
    body = requirements_from_uv(uv, root) if uv else requirements_from_lock(lock, project)
    return {REQUIREMENTS: HEADER + body,
            SBOM: json.dumps(sbom(lock, pyproject, project), indent=2) + "\n"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", default=str(ROOT), help="the project directory (default: this repository)")
    parser.add_argument("--out", help="write the files here instead of the project directory")
    parser.add_argument("--no-uv", action="store_true", help="read uv.lock directly even when uv is available")
    parser.add_argument("--check", action="store_true", help="compare with the files on disk; exit 1 if stale")
    args = parser.parse_args(argv)
    root = Path(args.root)
    files = build(root, use_uv=not args.no_uv)
    out = Path(args.out) if args.out else root
    stale = []
    for name, text in files.items():
        path = out / name
        if args.check:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
            continue
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
    if stale:
        print(f"out of date with uv.lock: {', '.join(stale)} (run python tools/export_supply_chain.py)",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
