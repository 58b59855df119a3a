"""Lookalikes of names the conversation uses, and Go owner confusion.

The typosquat check (``typosquat``) compares an install with the *popular*
names of an ecosystem.  An attacker who rewrites ``pip install humanize-ext``
(not popular) into ``humanize-etx`` escapes it; but the conversation named
``humanize-ext``, and the call installs a name it never named that is one edit,
an affix (``-cli``, ``-utils``, ``python3-``, ``rb-``), or a scope (``@core/x``,
``@aws-sdk/x`` flattened to ``aws-sdk-x``) away from it.  :func:`near_named`
finds such a named name; callers only ask for names that are neither popular
nor themselves named.

:func:`go_owner_confusion`: a Go module whose repository name belongs to a
popular module (or a named one) under another owner (``github.com/lib65/pq``
for ``github.com/lib/pq``).
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Callable

from rapidfuzz.distance import DamerauLevenshtein

__all__ = ["go_owner_confusion", "near_named", "near_popular"]

_PREFIXES = ("npm-", "python3-", "python-", "py-", "node-", "nodejs-", "js-", "go-", "golang-", "rb-", "ruby-",
             "rust-", "rs-", "lib-", "python3", "python", "py", "node", "lib")
_SUFFIXES = ("-cli", "-core", "-utils", "-util", "-lib", "-dev", "-js", "-py", "-python", "-python3", "-node",
             "-go", "-golang", "-rb", "-ruby", "-rs", "-rust", "-sdk", "-api", "-helper", "-helpers", "-tool",
             "-tools", "-plus", "-pro", "-extra", "-extras", "-official", "-secure", "-security", "-fix",
             "-patch", "-new", "-latest", "-next", "-v2", "-2", "-3", "2", "3", "js", "py", "go", "-ng", "-x")


def _seps(name: str) -> str:
    return name.replace("_", "-").replace(".", "-") if not name.startswith("@") else name


_FOLDED: dict[int, tuple[set[str], dict[str, str]]] = {}


def _folded(tokens: set[str]) -> dict[str, str]:
    """``tokens`` with separators folded (``factory_bot`` -> ``factory-bot``) -> the token, per set."""
    hit = _FOLDED.get(id(tokens))
    if hit is not None and hit[0] is tokens:
        return hit[1]
    folded = {_seps(t): t for t in tokens}
    if len(_FOLDED) > 16:
        _FOLDED.clear()
    _FOLDED[id(tokens)] = (tokens, folded)
    return folded


_LANGUAGE = frozenset({"python3", "python", "py", "node", "nodejs", "js", "go", "golang", "rb", "ruby", "rs",
                       "rust", "npm"})


def _candidates(name: str, language: bool = True, seps: bool = True, rails: bool = False) -> list[str]:
    """Names ``name`` could be a dressed-up form of (``language``: also with a
    language prefix or suffix removed, ``python3-x``, ``x-js``; ``rails``: also
    with the Rails-integration suffix of a gem removed, ``x-rails``)."""
    scope, slash, bare = name.partition("/") if name.startswith("@") else ("", "", name)
    if not slash:
        scope, bare = "", name
    out: list[str] = []
    b = _seps(bare) if seps else bare
    for p in _PREFIXES:
        if b.startswith(p) and len(b) > len(p) + 1 and (language or p.strip("-") not in _LANGUAGE):
            out.append(b[len(p):].lstrip("-"))
    for s in _SUFFIXES + (("-rails",) if rails else ()):
        if b.endswith(s) and len(b) > len(s) + 1 and (language or s.strip("-") not in _LANGUAGE):
            out.append(b[:-len(s)].rstrip("-"))
    if scope:
        out += [f"{scope}/{c}" for c in out]
        if scope != "@types":
            out.append(bare)  # @core/lodash-es for lodash-es
        sc = scope[1:]
        out += [f"@{sc[:-len(s)]}/{bare}" for s in _SUFFIXES if s.startswith("-") and sc.endswith(s)]
        out += [f"@{sc[len(p):]}/{bare}" for p in _PREFIXES if p.endswith("-") and sc.startswith(p)]
    else:
        for k, ch in enumerate(bare):
            if ch == "-" and 0 < k < len(bare) - 1:
                out.append(f"@{bare[:k]}/{bare[k + 1:]}")  # aws-sdk-middleware-logger
    return [c for c in out if len(c) >= 2]


def near_named(ecosystem: str, name: str, tokens: set[str], by_len: dict[int, list[str]],
               language: bool = False, popular: Callable[[str], bool] | None = None) -> str | None:
    """A name in ``tokens`` that ``name`` (normalised, lower case) imitates, or None.
    Language affixes count only with ``language``, or when the named name is itself a
    known package (``popular``): ``py-datasette`` next to a named ``datasette``, while
    ``pyflink`` next to a named ``flink`` (no such package) is the binding of a tool."""
    n = name.lower()
    if n in tokens:
        return None
    folded = _folded(tokens)
    plain = _candidates(n, language=language or (ecosystem == "go" and "/" in n), rails=ecosystem == "gem")
    for c in plain + _ascii_lookalikes(n, _MULTI_LOOKALIKES):
        if (c in tokens or _seps(c) in folded) and (ecosystem != "go" or "/" in c or language):
            return c if c in tokens else folded[_seps(c)]
    if popular is not None and ecosystem != "go":
        for c in _candidates(n, language=True):
            if c not in plain and (c in tokens or _seps(c) in folded):
                t = c if c in tokens else folded[_seps(c)]
                if popular(t):
                    return t
    if ecosystem == "go-component":  # the last element of a Go path: affixes only, no typos
        return None
    if len(n) < 3:
        return None
    limit = 1 if len(n) <= 7 else 2
    best: tuple[int, str] | None = None
    for length in range(len(n) - limit, len(n) + limit + 1):
        for tok in by_len.get(length, ()):
            d = DamerauLevenshtein.distance(n, tok, score_cutoff=limit)
            if d <= limit and (d == 1 or tok[0] == n[0]) and (best is None or d < best[0]):
                best = (d, tok)
    if best is None and ecosystem == "go" and "/" in n:
        last = n.rstrip("/").rsplit("/", 1)[-1]
        if len(last) >= 3:
            return near_named("go-component", last, tokens, by_len, language)
    return best[1] if best else None


@functools.lru_cache(maxsize=1)
def _go_repos() -> dict[tuple[str, str], list[str]]:
    """(host, repository name) -> popular module paths."""
    out: dict[tuple[str, str], list[str]] = {}
    try:
        text = resources.files("relayguard.screen").joinpath("data/go.txt").read_text(encoding="utf-8")
    except (OSError, FileNotFoundError):
        return out
    for line in text.splitlines():
        path = line.strip()
        if not path or path.startswith("#"):
            continue
        parts = path.split("/")
        if len(parts) >= 3:
            out.setdefault((parts[0], parts[2].lower()), []).append(path)
    return out


def go_owner_confusion(module: str, named: set[str]) -> str | None:
    """The popular or named module whose repository ``module`` copies under another owner."""
    parts = module.split("/")
    if len(parts) < 3 or "." not in parts[0]:
        return None
    host, owner, repo = parts[0], parts[1].lower(), parts[2].lower()
    popular = _go_repos().get((host, repo), [])
    if any(path.split("/")[1].lower() == owner for path in popular):
        return None  # the owner publishes a popular module of that name itself
    if popular:
        return popular[0]
    for tok in named:
        t = tok.split("/")
        if len(t) >= 3 and t[0] == host and t[2] == repo and t[1] != owner:
            return tok
    return None


# ASCII sequences that read as another letter at a glance: `cl`/`d` (panclas), `q`/`g`,
# `l`/`i` (colorlze), `rn`/`m`, `vv`/`w`, `1`/`l`, `0`/`o`.
_ASCII_LOOKALIKES = (("cl", "d"), ("q", "g"), ("l", "i"), ("rn", "m"), ("vv", "w"), ("1", "l"), ("0", "o"),
                     ("ii", "u"), ("nn", "m"))


_MULTI_LOOKALIKES = tuple(p for p in _ASCII_LOOKALIKES if len(p[0]) > 1)  # more than one edit away


def _ascii_lookalikes(name: str, pairs: tuple[tuple[str, str], ...] = _ASCII_LOOKALIKES) -> list[str]:
    out = []
    for fake, real in pairs:
        start = name.find(fake)
        while start >= 0 and len(out) < 32:
            out.append(name[:start] + real + name[start + len(fake):])
            start = name.find(fake, start + 1)
    return out


EDIT_MIN_LEN = 8  # one edit from a top name, for names at least this long...
EDIT_MAX_RANK = 1000  # ...towards the very top only


@functools.lru_cache(maxsize=8)
def _top(ecosystem: str) -> dict[int, tuple[str, ...]]:
    """The EDIT_MAX_RANK most popular names of an ecosystem, by length."""
    if ecosystem not in ("pypi", "npm", "crates"):
        return {}
    try:
        text = resources.files("relayguard.screen").joinpath(f"data/{ecosystem}.txt").read_text(encoding="utf-8")
    except (OSError, FileNotFoundError):
        return {}
    names = [line.strip().lower() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    by: dict[int, list[str]] = {}
    for name in names[:EDIT_MAX_RANK]:
        by.setdefault(len(name), []).append(name)
    return {k: tuple(v) for k, v in by.items()}


AFFIX_MAX_RANK = 5000  # an affixed form of a name this popular is suspect...
CLI_MAX_RANK = 500  # ...but X-cli is often X's own command-line tool: only for the very top


def near_popular(ecosystem: str, name: str) -> tuple[str, str] | None:
    """A popular name that ``name`` dresses up with a language or generic affix, or
    moves into another npm scope (``@nodejs/json5``, ``aws-sdk-middleware-logger``),
    or None.  Callers ask only for names that are neither popular nor named."""
    from relayguard.screen import typosquat

    if ecosystem not in typosquat.ECOSYSTEMS:
        return None
    n = name.lower()
    if ecosystem == "go":
        parts = n.split("/")
        tail = len(parts) - 1 if not (len(parts) > 3 and parts[-1][:1] == "v" and parts[-1][1:].isdigit()) \
            else len(parts) - 2
        if tail < 1:
            return None
        looks = _ascii_lookalikes(parts[tail])
        for c in _candidates(parts[tail], seps=False) + looks:
            path = "/".join(parts[:tail] + [c] + parts[tail + 1:])
            if "/" not in c and typosquat.popular("go", path):
                return path, ("lookalike letters" if c in looks else "an added prefix or suffix")
        return None
    if len(n) >= EDIT_MIN_LEN:
        for target in _top(ecosystem).get(len(n) - 1, ()) + _top(ecosystem).get(len(n), ()) \
                + _top(ecosystem).get(len(n) + 1, ()):
            if DamerauLevenshtein.distance(n, target, score_cutoff=1) == 1:
                return target, "one letter changed, added, dropped or swapped"
    looks = _ascii_lookalikes(n)
    for c in _candidates(n) + looks:
        if n.endswith("-cli") and ecosystem not in ("pypi", "npm"):
            continue  # curated lists without a ranking: cannot tell the very top
        r = typosquat.rank(ecosystem, c)
        limit = CLI_MAX_RANK if n.endswith("-cli") else AFFIX_MAX_RANK
        if r is not None and r <= limit and (not c.startswith("@") or not n.startswith("@types/")):
            how = "lookalike letters" if c in looks else (
                "another npm scope" if c.startswith("@") or n.startswith("@") else "an added prefix or suffix")
            return c, how
    return None
