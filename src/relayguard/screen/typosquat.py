"""Typosquats: is a package name a lookalike of a popular one?

``check(ecosystem, name)`` returns a :class:`Squat` when ``name`` is not itself popular but
imitates a popular package of "pypi", "npm", "crates" or "go", else None.  Kinds: ``homoglyph``
(Cyrillic/Greek letters, zero-width characters, ``rn``/``m``, ``1``/``l``/``I``, ``0``/``o``),
``scope`` (npm: ``@typess/node``, ``types-node``, ``types/node``, ``fake-timers`` for
``@sinonjs/fake-timers``), ``separator`` (``-_.`` changed, added or dropped; PyPI and crates.io
treat ``-``/``_``/``.`` variants as one package, so there only dropping counts),
``transposition``, ``affix`` (``python-``, ``py``, ``-py``, ``-js``, ``node-``, ``-rs``, ``go-``
added or removed; ``-dev``/``-lib``/``-sdk``/``-api``/``-cli``/``2``/``3`` added to a top-100
name; a swapped or lookalike name under such an affix: ``bnidgen-cli``), ``edit`` (OSA distance 1,
or 2 between names of 8+ characters; names of 4 letters or fewer only by a doubled letter or a
vowel typed in: ``nomm``, ``sayn``) and ``combo`` (a top-500 name plus generic words:
``requests-security``).  Go paths compare part by part, including typos of a listed package
inside a listed module (``delve/cmd/dlvv``).

Precision first (limits from a leave-one-out run, ``bench/typosquat.py``; the kinds and
their limits are in ``namekinds``).  An npm scope that
owns popular packages, or a Go owner, publishes its own names: only typos count there.  The
most popular, closest target wins.  Lists from ``tools/build_popular.py`` are loaded once; a
lookup is dictionary probes (a pigeonhole index proposes edits, rapidfuzz verifies them).
"""

from __future__ import annotations

import functools
import re
import threading
import unicodedata
from dataclasses import dataclass
from importlib import resources

from rapidfuzz.distance import OSA

from relayguard.screen.namekinds import (
    _AFFIXES, _GENERIC_SUFFIXES, _PEP503, _SEPS, _STRONG, _TOKENS, AFFIX_MAX_RANK, D2_MAX_RANK, D2_MIN_LEN, SHORT,
    _dressed_scope, _kind, _sepless, _skel, _strip, _swapped,
)

__all__ = ["ECOSYSTEMS", "KINDS", "Squat", "check", "popular", "rank"]

ECOSYSTEMS = ("pypi", "npm", "crates", "go", "gem")
KINDS = ("homoglyph", "scope", "separator", "transposition", "affix", "edit", "combo")

SCOPE_MAX_RANK = 5000  # "@scope/pkg" installed unscoped as "scope-pkg"...
SCOPELESS_MAX_RANK = 1000  # ...or as plain "pkg" (only names with a separator: "fake-timers")
FAMILY = 3  # ...unless that unscoped form follows a naming family (babel-*, koa-*) this big

_CUT = re.compile(r"[\[\]=<>!~;@,(\s:]")  # where a PEP 508 / cargo requirement's name ends
_JUNK = re.compile(r"[^A-Za-z0-9._\-@/\u0080-\U0010ffff]")  # ASCII no package name has (quotes, `)
_LOOKALIKES = {  # non-ASCII characters that look like an ASCII letter (after NFKD)
    "a": "аАαΑɑ", "b": "вВьβΒ", "c": "сСϲς", "d": "ԁ", "e": "еЕεΕ", "g": "ɡ", "h": "һнНΗ",
    "i": "іІıɩιΙ", "j": "јЈϳ", "k": "кКκΚ", "l": "ӏłƚ", "m": "мМΜ", "n": "пηΝ", "o": "оОοΟօ",
    "p": "рРρΡ", "q": "ԛ", "r": "гʀ", "s": "ѕЅ", "t": "тТτΤ", "u": "υսμ", "v": "νѵ",
    "w": "ԝԜω", "x": "хХχΧ", "y": "уУγΥү", "z": "Ζ", "-": "\u2010\u2011\u2012\u2013\u2014\u2212\ufe63",
}
_UNCONFUSE = str.maketrans({c: a for a, cs in _LOOKALIKES.items() for c in cs})


@dataclass(frozen=True, slots=True)
class Squat:
    ecosystem: str
    name: str  # the checked name, version/extras stripped, as written
    target: str  # the popular name it imitates, as listed
    kind: str  # one of KINDS
    distance: int | None  # OSA distance between the normalised name and the target


def _unconfuse(s: str) -> str:
    """Fold lookalike Unicode to ASCII: NFKD, drop marks and invisible characters, map letters."""
    s = unicodedata.normalize("NFKD", s)
    return "".join(c for c in s if unicodedata.category(c) not in ("Mn", "Me", "Cf")).translate(_UNCONFUSE)


def _clean(eco: str, name: str) -> str:
    """The bare package name from an install argument: no version, extras, markers or alias."""
    s = name.strip().strip("'\"")
    if "://" in s or s.startswith(("git+", "file:", "github:")):
        return ""
    if eco == "npm":
        s = s.split("@npm:", 1)[-1]
        at = s.find("@", 1)
        s = s[:at] if at > 0 else s
    elif eco == "go":
        s = s.split("@", 1)[0].removesuffix("/...").rstrip("/").removesuffix(".git")
    elif m := _CUT.search(s):  # pypi, crates: `requests[socks]==2`, `serde@1`, `serde = "1"`
        s = s[: m.start()]
    return "" if not s or s[0] in "./~" else _JUNK.split(s, 1)[0]


def _freeze(*tables: dict) -> None:
    """Lists in the index tables become tuples: the garbage collector then stops walking the
    ~50,000 of them in every full collection (each took ~40 ms with them)."""
    for table in tables:
        for key, value in table.items():
            table[key] = tuple(value)


class _Index:
    """Popular names of one ecosystem (pypi, npm, crates) and lookup structures built from them."""

    def __init__(self, eco: str, names: list[str]):
        self.eco, self.names = eco, names
        self.pre, self.suf = _AFFIXES[eco]
        self.keys = [self.norm(n) for n in names]
        self.rank: dict[str, int] = {}
        for r, k in enumerate(self.keys, 1):
            self.rank.setdefault(k, r)
        self.sepless: dict[str, int] = {}  # separators dropped -> rank (names that have one)
        self.skel: dict[str, int] = {}  # lookalike skeleton -> rank (names that have one)
        self.affix_of: dict[str, int] = {}  # popular name with a language affix removed -> rank
        self.d1: dict[int, tuple[dict, dict]] = {}  # len -> (first half -> ranks, second half -> ranks)
        self.d2: dict[int, tuple[dict, dict, dict]] = {}  # len -> thirds -> ranks
        self.scopes: set[str] = set()  # npm scopes that own a popular package
        self.scoped: dict[str, list[tuple[str, int]]] = {}  # npm: pkg -> [(scope, rank)]
        self.unscoped: dict[str, int] = {}  # npm: "scope-pkg" (separators dropped) -> rank
        self.scopeless: dict[str, int] = {}  # npm: "pkg" -> rank of the best "@scope/pkg"
        self.family: dict[str, int] = {}  # npm: first word of unscoped popular names -> count
        for k, r in self.rank.items():
            if k.startswith("@"):
                scope, _, pkg = k[1:].partition("/")
                self.scopes.add(scope)
                self.scoped.setdefault(pkg, []).append((scope, r))
                if r <= SCOPE_MAX_RANK:
                    self.unscoped.setdefault(_sepless(scope + pkg), r)
                    if r <= SCOPELESS_MAX_RANK and _TOKENS.search(pkg) and scope != "types":
                        self.scopeless.setdefault(pkg, r)
                continue
            w = _TOKENS.split(k, 1)[0]
            self.family[w] = self.family.get(w, 0) + 1
            if (x := _sepless(k)) != k:
                self.sepless.setdefault(x, r)
            if (x := _skel(k)) != k:
                self.skel.setdefault(x, r)
            for x in _strip(k, self.pre, self.suf):
                if len(x) >= 4 and x[0] not in _SEPS and x[-1] not in _SEPS and x not in self.rank:
                    self.affix_of.setdefault(x, r)
            m = len(k)
            if m > SHORT:
                t = self.d1.setdefault(m, ({}, {}))
                t[0].setdefault(k[: m // 2], []).append(r)
                t[1].setdefault(k[m // 2:], []).append(r)
            if m >= D2_MIN_LEN and r <= D2_MAX_RANK:
                p1, p2 = m // 3, 2 * m // 3
                t3 = self.d2.setdefault(m, ({}, {}, {}))
                for j, piece in enumerate((k[:p1], k[p1:p2], k[p2:])):
                    t3[j].setdefault(piece, []).append(r)
        _freeze(*(t for pair in self.d1.values() for t in pair), *(t for tri in self.d2.values() for t in tri),
                self.scoped)

    def norm(self, s: str) -> str:
        s = s.lower()
        return _PEP503.sub("-", s) if self.eco == "pypi" else s.replace("-", "_") if self.eco == "crates" else s

    def lookup(self, name: str) -> int | None:
        return self.rank.get(self.norm(name))

    def _near(self, a: str, a_sep: str, a_skel: str, far: bool) -> list[int]:
        """Ranks of popular names a may imitate (far: distance-2 edits only): a superset, sorted."""
        L, get = len(a), self.rank.get
        if far:  # distance 2: one of the three thirds is intact
            out = set()
            for m in range(L - 2, L + 3) if L >= D2_MIN_LEN else ():
                if t3 := self.d2.get(m):
                    p1, p2 = m // 3, 2 * m // 3
                    out.update(t3[0].get(a[:p1], ()))
                    out.update(t3[2].get(a[L - (m - p2):], ()))
                    for dl in (-1, 0, 1):
                        out.update(t3[1].get(a[p1 + dl:p2 + dl], ()))
            return sorted(out)
        out = {self.sepless.get(a_sep), get(a_sep), self.skel.get(a_skel), get(a_skel)}
        out.add(self.affix_of.get(a))
        # transpositions: the distance-1 index below finds all but those across its halves
        for i in range(L - 1) if L <= SHORT + 1 else (L // 2 - 1,):
            out.add(get(a[:i] + a[i + 1] + a[i] + a[i + 2:]))
        for i in range(L) if L <= SHORT + 1 else ():  # a slip in a short name: one letter too many
            out.add(get(a[:i] + a[i + 1:]))
        out.update(map(get, _strip(a, self.pre, self.suf)))  # a language affix added
        if a[-1:] in "23":
            out.add(get(a[:-1].rstrip("-_.")))
        for i, c in enumerate(a if a_sep != a else ""):  # generic suffixes, combos: name-sep-word
            if c in _SEPS:
                out.add(get(a[:i]))
                out.add(get(a[i + 1:]))
        for m in (L - 1, L, L + 1):  # distance 1: one of the two halves is intact
            if t := self.d1.get(m):
                out.update(t[0].get(a[: m // 2], ()))
                out.update(t[1].get(a[L - (m - m // 2):], ()))
        out.discard(None)
        return sorted(out)

    def _scope(self, a: str) -> tuple[int | None, bool]:
        """npm scope confusion: (rank of the imitated "@scope/pkg" or None, whether to stop here)."""
        if a.startswith("@") and "/" in a:
            scope, _, pkg = a[1:].partition("/")
            if scope in self.scopes:  # a scope that owns popular packages: its owner published it
                return None, True
            for s2, r in self.scoped.get(pkg, ()):  # in rank order
                ls = len(s2)
                close = (_sepless(scope) == _sepless(s2) or _swapped(scope, s2)
                         or _skel(scope) == _skel(s2) or _dressed_scope(scope, s2))
                if not close and abs(len(scope) - ls) <= 2:
                    d = OSA.distance(scope, s2, score_cutoff=2)
                    close = (d == 1 and ls > SHORT) or (d == 2 and ls >= D2_MIN_LEN)
                if close:
                    return r, True
            return None, True
        u = a.lstrip("@")
        if "/" in u:  # `npm install types/node` is GitHub shorthand for the repo types/node
            return self.unscoped.get(_sepless(u.replace("/", ""))), False
        if self.family.get(_TOKENS.split(u, 1)[0], 0) >= FAMILY:
            return None, False  # babel-plugin-x, koa-router: an established unscoped naming family
        r = self.unscoped.get(_sepless(u))
        if r is None and (r := self.scopeless.get(u)) and u in self.rank:
            r = None  # "parse-json" is itself a popular package
        return r, False

    def find(self, text: str) -> tuple[int, str] | None:
        """(rank, kind) of the most popular name text imitates; distance-2 edits only if nothing closer."""
        a = self.norm(text)
        if self.eco == "npm":
            r, stop = self._scope(a)
            if r or stop:
                return (r, "scope") if r else None
        a_sep, a_skel = _sepless(a), _skel(self.norm(text.replace("I", "l")))
        for far in (False, True):
            for r in self._near(a, a_sep, a_skel, far):
                k = self.keys[r - 1]
                if k[0] != "@" and (kind := _kind(a, a_sep, a_skel, k, r, self.pre, self.suf)):
                    return r, kind
        # a swapped or lookalike popular name under an affix (``bnidgen-cli``): no legitimate
        # name among the leave-one-out set looks like this; plain edits under an affix do (``polar-sdk``)
        for core in _strip(a, self.pre, self.suf) + [a[:-len(s)] for s in _GENERIC_SUFFIXES if a.endswith(s)]:
            if len(core) < SHORT or core in self.rank:
                continue
            c_sep, c_skel = _sepless(core), _skel(core)
            for r in self._near(core, c_sep, c_skel, False):
                k = self.keys[r - 1]
                if k[0] != "@" and r <= AFFIX_MAX_RANK and \
                        (kind := _kind(core, c_sep, c_skel, k, r, self.pre, self.suf, False)) in _STRONG:
                    return r, kind
        return None


def _go_comps(path: str) -> tuple[str, ...]:
    """Components of a Go module path, lowercased, major-version suffixes (/v2) dropped."""
    cs = [c for c in path.lower().split("/") if c]
    return tuple(c for i, c in enumerate(cs) if i < 2 or not (c[:1] == "v" and c[1:].isdigit()))


class _GoIndex:
    """Go module paths, compared component by component: exactly one component may differ."""

    def __init__(self, names: list[str]):
        self.names, (self.pre, self.suf) = names, _AFFIXES["go"]
        self.rank: dict[tuple[str, ...], int] = {}
        for r, n in enumerate(names, 1):
            self.rank.setdefault(_go_comps(n), r)
        self.by: dict[tuple, list[tuple[str, int]]] = {}  # (len, i, the others) -> [(component i, rank)]
        for c, r in self.rank.items():
            for i in range(len(c)):
                self.by.setdefault((len(c), i, c[:i] + c[i + 1:]), []).append((c[i], r))
        _freeze(self.by)
        self.lens = sorted({len(c) for c in self.rank}, reverse=True)

    def lookup(self, name: str) -> int | None:
        c = _go_comps(name)  # a package inside a popular module is that module
        return next((self.rank[c[:k]] for k in range(len(c), 1, -1) if c[:k] in self.rank), None)

    def depth(self, name: str) -> int:
        """Components of the longest listed path that name lies in (0: none)."""
        c = _go_comps(name)
        return next((k for k in range(len(c), 1, -1) if c[:k] in self.rank), 0)

    def find(self, text: str, inside: int = 0) -> tuple[int, str] | None:
        """(rank, kind) of the listed path text imitates; ``inside``: text lies in a listed module
        of that many components, so only the listed packages deeper in it count (``cmd/dlvv``)."""
        c, best = _go_comps(text), None
        for k in self.lens:
            if k <= inside:
                break
            p = c[:k]
            for i in range(k if k <= len(c) else 0):
                for comp, r in self.by.get((k, i, p[:i] + p[i + 1:]), ()):
                    # the owner's own repositories (i >= 2) can only be typos, not affixes/combos;
                    # inside a module its owner controls, any lookalike of a listed package is a slip
                    kind = _kind(p[i], _sepless(p[i]), _skel(p[i]), comp, r, self.pre, self.suf,
                                 i < 2 or 0 < inside <= i)
                    if kind and (best is None or r < best[0]):
                        best = (r, kind)
        return best


_INDEXES: dict[str, _Index | _GoIndex] = {}
_LOCK = threading.Lock()


def _load(eco: str) -> list[str]:
    text = resources.files(__package__).joinpath("data", f"{eco}.txt").read_text(encoding="utf-8")
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]


def _index(eco: str) -> _Index | _GoIndex | None:
    idx = _INDEXES.get(eco)
    if idx is None and eco in ECOSYSTEMS:
        with _LOCK:
            if (idx := _INDEXES.get(eco)) is None:
                idx = _INDEXES[eco] = _GoIndex(_load(eco)) if eco == "go" else _Index(eco, _load(eco))
    return idx


def rank(ecosystem: str, name: str) -> int | None:
    """1-based popularity rank of name in ecosystem (normalised for it), or None if not listed."""
    s = _clean(ecosystem, name) if (idx := _index(ecosystem)) else ""
    return idx.lookup(s) if s else None


def popular(ecosystem: str, name: str) -> bool:
    return rank(ecosystem, name) is not None


@functools.lru_cache(maxsize=8192)  # agents install the same few names again and again
def check(ecosystem: str, name: str) -> Squat | None:
    """The popular package that name imitates, or None (also for popular names, unknown ecosystems)."""
    raw = _clean(ecosystem, name) if (idx := _index(ecosystem)) else ""
    if not raw:
        return None
    text, hidden = raw, not raw.isascii()
    if hidden:  # lookalike letters or invisible characters: compare what it looks like
        text = _unconfuse(raw)
        if not text or not text.isascii():
            return None
    elif isinstance(idx, _GoIndex):
        if (inside := idx.depth(raw)) == len(_go_comps(raw)):
            return None
        found = idx.find(raw, inside)  # unlisted, or a package of a listed module: its typos
    elif idx.lookup(raw) is not None:
        return None
    if hidden or not isinstance(idx, _GoIndex):
        found = (r, "homoglyph") if hidden and (r := idx.lookup(text)) is not None else idx.find(text)
    if found is None:
        return None
    target = idx.names[found[0] - 1]
    t = _go_comps(target) if ecosystem == "go" else ()
    a, b = ("/".join(_go_comps(raw)[: len(t)]), "/".join(t)) if t else (idx.norm(raw), idx.norm(target))
    return Squat(ecosystem, raw, target, "homoglyph" if hidden else found[1], OSA.distance(a, b))
