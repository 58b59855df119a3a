"""How one package name imitates another: the lookalike kinds and their limits.

``_kind`` compares a candidate name with one popular name of a given rank
and says which kind of imitation it is, if any: ``separator``, ``transposition``,
``homoglyph`` (ASCII lookalikes: ``rn``/``m``, ``vv``/``w``, ``1``/``l``, ``0``/``o``; ``cl``/``d``
in long names), ``affix`` (language and generic affixes), ``edit`` (OSA distance within
limits that depend on length and popularity, and for short names only the slips that
legitimate names almost never show) and ``combo``.  The limits come from leave-one-out runs
(``bench/typosquat.py``).  ``typosquat`` proposes the candidates and applies these rules.
"""

from __future__ import annotations

import re

from rapidfuzz.distance import OSA

SHORT = 4  # popular names (or differing name parts) this short: no plain edits, only slips:
SLIP_MAX_RANK = 2000  # ...a letter doubled (``keeyv``, ``yamll.v3``) towards names this popular
VOWEL_MAX_RANK = 300  # ...a vowel typed in (``sayn`` for ``syn``) towards the very top only
D1_MAX_RANK = 5000  # distance-1 edits only towards names at least this popular...
D1_SHORT_MAX_RANK = 2000  # ...or this popular for names (parts) of 5-6 characters
D2_MIN_LEN = 8  # distance-2 edits only between names (parts) at least this long...
D2_MAX_RANK = 1000  # ...towards a name at least this popular
DIGIT_MAX_RANK = 1000  # names differing only in digits (cupy-cuda11x / 12x) count only below this
AFFIX_MAX_RANK = 5000  # python-X / X-js / pyX ...
GENERIC_AFFIX_MAX_RANK = 100  # X-cli / X-sdk / X2 ... (added only: X-cli is often X's own CLI)
COMBO_MAX_RANK = 500  # "popular + generic word" only for the very top

_AFFIXES = {  # (language prefixes, language suffixes): added or removed; on normalised names
    "pypi": (("python-", "py-", "python", "py"), ("-python", "-py", "python", "py")),
    "npm": (("node-", "nodejs-", "js-", "node"), ("-js", ".js", "js", "-node")),
    "crates": (("rust_", "rs_", "rust"), ("_rs", "_rust", "rs")),
    "go": (("go-", "golang-", "go"), ("-go", "-golang", "go")),
    "gem": (("ruby-", "rb-"), ("-ruby", "-rb", "_rb")),
}
_GENERIC_SUFFIXES = {"2", "3"} | {s + w for s in "-_." for w in ("dev", "lib", "sdk", "api", "cli", "2", "3")}
_GENERIC = frozenset(
    "security secure safe safety fix fixed fixes patch patched hotfix update updated upgrade new latest"
    " official free pro plus premium stable legacy enhanced improved full lts".split()
)
_SEPS = frozenset("-_.")
_STRONG = ("transposition", "homoglyph")  # kinds that stay suspect under an added affix
_PEP503 = re.compile(r"[-_.]+")
_TOKENS = re.compile(r"[-_.]")
_NODIGITS = re.compile(r"[0-9]")
_ASCII_LOOKALIKES = (("rn", "m"), ("vv", "w"), ("1", "l"), ("|", "l"), ("0", "o"))
LONG_LOOKALIKES = (("cl", "d"),)  # weaker: only in names of 8+ characters (``cliff`` is not ``diff``)


def _sepless(s: str) -> str:
    return s.replace("-", "").replace("_", "").replace(".", "")


def _skel(s: str) -> str:
    for x, y in _ASCII_LOOKALIKES + LONG_LOOKALIKES if len(s) >= D2_MIN_LEN else _ASCII_LOOKALIKES:
        if x in s:
            s = s.replace(x, y)
    return s


def _swapped(a: str, b: str) -> bool:
    """a is b with two adjacent characters swapped."""
    if len(a) != len(b) or a == b:
        return False
    i = next(i for i, (x, y) in enumerate(zip(a, b)) if x != y)
    return i + 1 < len(a) and a[i] == b[i + 1] and a[i + 1] == b[i] and a[i + 2:] == b[i + 2:]


def _strip(k: str, pre: tuple[str, ...], suf: tuple[str, ...]) -> list[str]:
    """k with one of the given prefixes or suffixes removed."""
    return [k[len(p):] for p in pre if k.startswith(p)] + [k[: -len(s)] for s in suf if k.endswith(s)]


def _combo(a: str, b: str) -> bool:
    """a is b joined by a separator to generic words (``requests-security``, ``new-lodash``)."""
    if a.startswith(b) and a[len(b):len(b) + 1] in _SEPS:
        rest = a[len(b) + 1:]
    elif a.endswith(b) and a[-len(b) - 1:-len(b)] in _SEPS:
        rest = a[: -len(b) - 1]
    else:
        return False
    return all(w in _GENERIC for w in _TOKENS.split(rest))


def _slip(a: str, b: str, r: int, dropped: bool = False) -> bool:
    """a is short b with a slip that legitimate short names almost never show (none among the
    PyPI and npm names ranked 10,001-15,000 against the top 5,000, ``bench/typosquat.py``): a
    letter doubled (``nomm``, ``wss``), or a vowel typed in (``sayn``) next to a top name;
    ``dropped``: also a letter dropped (a short word of a longer name: ``fast-ri``)."""
    if dropped and len(a) + 1 == len(b) and r <= SLIP_MAX_RANK:
        return any(b[:i] + b[i + 1:] == a for i in range(len(b)))
    if len(a) != len(b) + 1 or len(b) < 2:
        return False
    for i, c in enumerate(a):
        if a[:i] + a[i + 1:] == b:
            if (i > 0 and a[i - 1] == c) or (i + 1 < len(a) and a[i + 1] == c):
                return r <= SLIP_MAX_RANK
            if c in "aeiou" and r <= VOWEL_MAX_RANK:
                return True
    return False


def _is_edit(a: str, b: str, r: int) -> bool:
    """a is an edit of b within the limits, applied to the differing word (``django-cms`` /
    ``django-csp``: 3 letters); digit-only differences (``pymorphy2``/``3``) are version families."""
    if len(b) <= SHORT:
        return _slip(a, b, r)
    if abs(len(a) - len(b)) > 2:
        return False
    d = OSA.distance(a, b, score_cutoff=2)
    if d > 2 or (r > DIGIT_MAX_RANK and _NODIGITS.sub("", a) == _NODIGITS.sub("", b)):
        return False
    ta, tb = _TOKENS.split(a), _TOKENS.split(b)
    if len(ta) == len(tb) > 1:
        diff = [(x, y) for x, y in zip(ta, tb) if x != y]
        if len(diff) == 1:
            a, b = diff[0]
            if len(b) <= SHORT:
                return _slip(a, b, r, dropped=True)
    if d == 1:
        return r <= (D1_SHORT_MAX_RANK if len(b) <= 6 else D1_MAX_RANK)
    return min(len(a), len(b)) >= D2_MIN_LEN and r <= D2_MAX_RANK


def _kind(a: str, a_sep: str, a_skel: str, b: str, r: int, pre, suf, affix: bool = True) -> str | None:
    """How candidate a (normalised, a_sep/a_skel precomputed) imitates popular b of rank r."""
    lb = len(b)
    if a == b:
        return None
    if lb >= SHORT and a_sep == _sepless(b):
        return "separator"
    if lb >= 3 and _swapped(a, b):
        return "transposition"
    if a_skel == _skel(b):
        return "homoglyph"
    affix = affix and lb >= 4 and (b in a or a in b)  # affixes and combos contain the name
    if affix:
        if r <= AFFIX_MAX_RANK and (b in _strip(a, pre, suf) or a in _strip(b, pre, suf)):
            return "affix"
        if r <= GENERIC_AFFIX_MAX_RANK and a.startswith(b) and a[lb:] in _GENERIC_SUFFIXES:
            return "affix"
    if _is_edit(a, b, r):
        return "edit"
    return "combo" if affix and r <= COMBO_MAX_RANK and _combo(a, b) else None


_SCOPE_WORDS = ("js", "dev", "official", "team", "org", "npm", "node", "pkg")


def _dressed_scope(a: str, b: str) -> bool:
    """Scope a is scope b with a word added (``@babeljs/core``, ``@babel-official/core``)."""
    if len(a) <= len(b) or b not in a:
        return False
    rest = a.removeprefix(b) if a.startswith(b) else a.removesuffix(b) if a.endswith(b) else None
    return rest is not None and rest.strip("-_.") in _SCOPE_WORDS
