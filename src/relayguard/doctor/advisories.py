"""A bundled, dated list of known-compromised PyPI releases (``advisories.json``).

These are releases an attacker published (a stolen token, a taken-over
account, dependency confusion, a typosquat), not ordinary vulnerabilities:
having one installed means the machine may already be compromised.  The list
is data, not code, and ships inside the package so doctor needs no network.
``--advisories FILE`` adds a newer local list in the same format; its entries
replace bundled ones with the same ``id``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from relayguard.doctor import Problem
from relayguard.doctor.envscan import Environment, normalize
from relayguard.errors import ConfigError


@dataclass(frozen=True)
class Advisory:
    id: str
    package: str
    versions: tuple[str, ...] | None  # None: every version
    published: str
    summary: str
    indicators: tuple[str, ...] = ()
    references: tuple[str, ...] = ()

    def affects(self, name: str, version: str) -> bool:
        if normalize(name) != normalize(self.package):
            return False
        return self.versions is None or _norm_version(version) in {_norm_version(v) for v in self.versions}


@dataclass
class AdvisoryList:
    updated: str
    advisories: list[Advisory] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)


def _norm_version(v: str) -> str:
    v = v.strip().lower()
    return v[1:] if v.startswith("v") else v


def _parse(data: object, where: str) -> tuple[str, list[Advisory]]:
    if not isinstance(data, dict) or not isinstance(data.get("advisories"), list):
        raise ConfigError(f"{where}: not an advisory list (expected an object with an \"advisories\" array)")
    out = []
    for i, item in enumerate(data["advisories"]):
        try:
            versions = item["versions"]
            if versions != "*" and not (isinstance(versions, list) and all(isinstance(v, str) for v in versions)):
                raise TypeError("versions must be a list of strings or \"*\"")
            out.append(Advisory(
                id=str(item["id"]), package=str(item["package"]),
                versions=None if versions == "*" else tuple(versions),
                published=str(item.get("published", "")), summary=str(item.get("summary", "")),
                indicators=tuple(str(x) for x in item.get("indicators", ())),
                references=tuple(str(x) for x in item.get("references", ()))))
        except (KeyError, TypeError, AttributeError) as exc:
            raise ConfigError(f"{where}: advisory #{i + 1} is malformed: {exc}") from None
    return str(data.get("updated", "?")), out


def load(extra: str | None = None) -> AdvisoryList:
    """The bundled list, merged with ``extra`` (a local file) when given."""
    bundled = resources.files("relayguard.doctor").joinpath("advisories.json").read_text(encoding="utf-8")
    updated, items = _parse(json.loads(bundled), "bundled advisories.json")
    result = AdvisoryList(updated, items, [f"bundled list of {updated}"])
    if extra:
        try:
            data = json.loads(Path(extra).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"--advisories {extra}: {exc.strerror}") from None
        except ValueError as exc:
            raise ConfigError(f"--advisories {extra}: not JSON ({exc})") from None
        file_updated, file_items = _parse(data, f"--advisories {extra}")
        ids = {a.id for a in file_items}
        result.advisories = [a for a in result.advisories if a.id not in ids] + file_items
        result.updated = max(updated, file_updated)
        result.sources.append(f"{extra} of {file_updated}")
    return result


def check(env: Environment, advisories: AdvisoryList) -> list[Problem]:
    """Installed releases named by an advisory, and indicator files left in site-packages."""
    problems = []
    for dist in env.distributions:
        for adv in advisories.advisories:
            if adv.affects(dist.name, dist.version):
                refs = f" See {adv.references[0]}." if adv.references else ""
                problems.append(Problem("advisory", str(dist.path),
                                        f"{dist.name} {dist.version} is a known-compromised release "
                                        f"({adv.id}, {adv.published}): {adv.summary}{refs}"))
    for adv in advisories.advisories:
        for indicator in adv.indicators:
            for site in env.site_dirs:
                hit = site / indicator
                if hit.exists():
                    problems.append(Problem("advisory", str(hit),
                                            f"{indicator} is the calling card of {adv.package} "
                                            f"{', '.join(adv.versions or ('(any version)',))} ({adv.id}, "
                                            f"{adv.published}), present whatever the installed version says: "
                                            f"{adv.summary}"))
    return problems
