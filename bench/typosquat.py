"""Typosquat check: speed, recall on generated squats, false hits on legitimate names.

    python bench/typosquat.py [--n 10000] [--seed 7]

Prints
* load time and memory of the bundled popularity indexes;
* microseconds per ``check()`` on the install targets of the shared benign corpus
  (``$RELAYGUARD_CORPORA`` or ../shared/corpora) and on the generated squats,
  with the result cache cleared (cold) and warm;
* recall per kind on N generated squats of popular names (PyPI/npm top 1,000, all
  listed crates and Go modules; what a squatter can register: see ``_word``): flagged
  at all / flagged with the right target;
* false hits on legitimate names: the benign corpus, and a leave-one-out run
  (PyPI/npm names ranked 10,001-15,000 checked against an index of the top 10,000).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import sys
import time
import timeit
import tracemalloc
from collections import Counter, defaultdict
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
from relayguard.screen import typosquat as T  # noqa: E402

CORPORA = Path(os.environ.get("RELAYGUARD_CORPORA", REPO.parent / "shared" / "corpora"))
INSTALL = re.compile(r"""(?x)
    (?P<pypi>\b(?:pip3?(?:\.\d+)?|uv\s+pip|python3?(?:\.\d+)?\s+-m\s+pip|pipx)\s+install\b)
  | (?P<npm>\b(?:npm\s+(?:install|i|add)|yarn\s+(?:global\s+)?add|pnpm\s+(?:add|install|i)|bun\s+add)\b)
  | (?P<crates>\bcargo\s+(?:install|add)\b)
  | (?P<go>\bgo\s+(?:get|install)\b)""")
LOOK = {"a": "аα", "c": "с", "e": "еε", "i": "іι", "j": "ј", "k": "кκ", "o": "оο", "p": "рρ", "s": "ѕ",
        "u": "υ", "x": "хχ", "y": "у", "h": "һ", "l": "ӏ"}
ASCII_LOOK = (("m", "rn"), ("w", "vv"), ("l", "1"), ("o", "0"))
AFFIX = {"pypi": (["python-", "py-", "py"], ["-py", "-python", "py"]), "npm": (["node-", "js-"], ["-js", ".js", "js"]),
         "crates": (["rust-", "rs-"], ["-rs", "-rust"]), "go": (["go-", "golang-"], ["-go", "-golang"]),
         "gem": (["ruby-", "rb-"], ["-ruby", "-rb"])}
GENERIC = ["security", "secure", "patched", "update", "latest", "official", "fixed", "pro"]


def benign_targets() -> list[tuple[str, str]]:
    out = []
    path = CORPORA / "benign_commands.jsonl"
    if not path.is_file():
        return out
    for line in path.read_bytes().splitlines():
        cmd = orjson.loads(line)["command"]
        for m in INSTALL.finditer(cmd):
            eco = m.lastgroup
            for tok in re.split(r"[;&|\n<>]|\$\(", cmd[m.end():], maxsplit=1)[0].split():
                tok = tok.strip("'\"")
                if not tok or tok[0] in "-$.~/`\\" or "${" in tok or ("=" in tok and eco != "pypi"):
                    continue
                if eco != "go" and (("/" in tok and not tok.startswith("@")) or ":" in tok):
                    continue
                if eco == "go" and "." not in tok.split("/")[0]:
                    continue
                out.append((eco, tok))
    return out


def _word(eco: str, name: str) -> tuple[str, str, str]:
    """(head, word, tail): the part of a name a squatter can register and so changes.

    Go: the owner on a code host (github.com/<owner>/repo), else the host itself; the
    owner's own repositories are the owner's.  npm scoped names are changed only by the
    scope kind (a scope's packages can only be published by its owner)."""
    if eco == "go":
        parts = name.split("/")
        i = 1 if parts[0] in ("github.com", "gitlab.com", "bitbucket.org") else 0
        return "".join(p + "/" for p in parts[:i]), parts[i], "".join("/" + p for p in parts[i + 1:])
    return "", name, ""


def generate(rnd: random.Random, kind: str, eco: str, name: str) -> str | None:
    head, w, tail = _word(eco, name)
    n = len(w)
    if kind == "transposition":
        idx = [i for i in range(n - 1) if w[i] != w[i + 1] and w[i] not in "-_." and w[i + 1] not in "-_."]
        if n < 3 or not idx:
            return None
        i = rnd.choice(idx)
        w = w[:i] + w[i + 1] + w[i] + w[i + 2:]
    elif kind == "edit":
        if n < 5:
            return None
        for _ in range(2 if n >= 8 and rnd.random() < 0.3 else 1):
            i = rnd.randrange(1, len(w))
            op = rnd.choice("dis")
            c = rnd.choice("abcdefghijklmnopqrstuvwxyz")
            w = w[:i] + w[i + 1:] if op == "d" else w[:i] + c + w[i:] if op == "i" else w[:i] + c + w[i + 1:]
    elif kind == "separator":
        seps = [i for i, c in enumerate(w) if c in "-_."]
        if not seps:
            return None
        i = rnd.choice(seps)
        if eco in ("pypi", "crates") or rnd.random() < 0.5:
            w = w[:i] + w[i + 1:]
        else:
            w = w[:i] + rnd.choice([c for c in "-_." if c != w[i]]) + w[i + 1:]
    elif kind == "homoglyph":
        r = rnd.random()
        if r < 0.5:
            idx = [i for i, c in enumerate(w) if c in LOOK]
            if not idx:
                return None
            i = rnd.choice(idx)
            w = w[:i] + rnd.choice(LOOK[w[i]]) + w[i + 1:]
        elif r < 0.7:
            i = rnd.randrange(1, n)
            w = w[:i] + rnd.choice("\u200b\u200c\u200d\u2060\ufeff") + w[i:]
        else:
            opts = [(a, b) for a, b in ASCII_LOOK if a in w]
            if not opts:
                return None
            a, b = rnd.choice(opts)
            w = w.replace(a, b, 1)
    elif kind == "affix":
        pre, suf = AFFIX[eco]
        w = rnd.choice(pre) + w if rnd.random() < 0.5 else w + rnd.choice(suf)
    elif kind == "combo":
        word = rnd.choice(GENERIC)
        w = f"{w}-{word}" if rnd.random() < 0.7 else f"{word}-{w}"
    elif kind == "scope":
        if not name.startswith("@"):
            return None
        scope, pkg = name[1:].split("/", 1)
        r = rnd.random()
        if r < 0.4:  # a typo in the scope
            i = rnd.randrange(1, len(scope))
            scope2 = scope[:i] + rnd.choice("abcdefghijklmnopqrstuvwxyz") + scope[i:]
            return f"@{scope2}/{pkg}"
        return f"{scope}-{pkg}" if r < 0.8 else f"{scope}{pkg}" if r < 0.9 else f"{scope}/{pkg}"
    return head + w + tail


def squats(n: int, seed: int) -> list[tuple[str, str, str, str]]:
    """(kind, ecosystem, name, target) for n generated squats that are not themselves popular."""
    rnd = random.Random(seed)
    pools = {eco: T._load(eco) for eco in T.ECOSYSTEMS}
    pools["pypi"], pools["npm"] = pools["pypi"][:1000], pools["npm"][:1000]
    plan = [(k, e) for k in T.KINDS for e in T.ECOSYSTEMS if k != "scope" or e == "npm"]
    out: list[tuple[str, str, str, str]] = []
    per = n // len(plan) + 1
    for kind, eco in plan:
        pool = pools[eco][:500] if kind == "combo" else pools[eco]
        if eco == "npm":
            pool = [p for p in pool if p.startswith("@") == (kind == "scope")]
        got, tries = 0, 0
        while got < per and tries < per * 50:
            tries += 1
            target = rnd.choice(pool)
            name = generate(rnd, kind, eco, target)
            if name and name != target and not T.popular(eco, name):
                out.append((kind, eco, name, target))
                got += 1
    rnd.shuffle(out)
    return out[:n]


def timed(pairs: list[tuple[str, str]], warm: bool) -> tuple[float, float, float]:
    """(mean, p50, p99) microseconds of CPU time per check() (this thread's clock, so other
    processes on a shared machine do not count; the mean is also checked against the wall clock)."""
    T.check.cache_clear()
    if warm:
        for eco, name in pairs:
            T.check(eco, name)
    probe = []
    for _ in range(2000):
        t = time.thread_time_ns()
        probe.append(time.thread_time_ns() - t)
    overhead = statistics.median(probe) / 1000  # the clock's own cost, subtracted
    times = []
    for eco, name in pairs:
        if not warm:
            T.check.cache_clear()
        t = time.thread_time_ns()
        T.check(eco, name)
        times.append(max(0.0, (time.thread_time_ns() - t) / 1000 - overhead))
    q = statistics.quantiles(times, n=100)
    return statistics.fmean(times), q[49], q[98]


def leave_one_out() -> None:
    for eco in ("pypi", "npm"):
        names = T._load(eco)
        idx = T._Index(eco, names[:10000])
        hits: Counter[str] = Counter()
        examples = defaultdict(list)
        rest = [n for n in names[10000:] if idx.lookup(n) is None]
        for n in rest:
            if f := idx.find(n):
                hits[f[1]] += 1
                examples[f[1]].append(f"{n}~{idx.names[f[0] - 1]}")
        total = sum(hits.values())
        print(f"  {eco}: {total}/{len(rest)} flagged ({total / len(rest):.1%}): "
              + ", ".join(f"{k} {v}" for k, v in hits.most_common()))
        for k, v in examples.items():
            print(f"      {k}: {', '.join(v[:6])}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()

    ref = min(timeit.repeat("sum(range(1000))", number=200, repeat=5)) / 200 * 1e6
    print(f"machine reference: sum(range(1000)) takes {ref:.1f} µs here (a 2020s laptop: ~8-10 µs)")
    for eco in T.ECOSYSTEMS:
        t = time.perf_counter()
        T._index(eco)
        print(f"load {eco:6}: {(time.perf_counter() - t) * 1000:6.1f} ms (first check() of the ecosystem)")
    tracemalloc.start()
    kept = [T._GoIndex(T._load(e)) if e == "go" else T._Index(e, T._load(e)) for e in T.ECOSYSTEMS]
    print(f"indexes, all four: {tracemalloc.get_traced_memory()[0] / 1e6:.1f} MB")
    tracemalloc.stop()
    del kept

    benign = benign_targets()
    gen = squats(args.n, args.seed)
    print("\nCPU µs per check(), mean / p50 / p99 (cold = result cache cleared before each call)")
    for label, pairs in (("benign corpus targets", benign), ("generated squats", [(e, n) for _, e, n, _ in gen])):
        if pairs:
            for warm in (False, True) if label.startswith("benign") else (False,):
                mean, p50, p99 = timed(pairs, warm)
                print(f"  {label:22} n={len(pairs):5} {'warm' if warm else 'cold'}: "
                      f"{mean:6.1f} / {p50:6.1f} / {p99:6.1f}")

    print(f"\nrecall on {len(gen)} generated squats (flagged / flagged with the right target)")
    by: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    misses = defaultdict(list)
    for kind, eco, name, target in gen:
        s = T.check(eco, name)
        c = by[(kind, eco)]
        c[0] += 1
        c[1] += s is not None
        c[2] += s is not None and s.target == target
        if s is None:
            misses[kind].append(f"{name!a}~{target}")
    for kind in T.KINDS:
        rows = [(e, c) for (k, e), c in sorted(by.items()) if k == kind]
        n = sum(c[0] for _, c in rows)
        f = sum(c[1] for _, c in rows)
        r = sum(c[2] for _, c in rows)
        per = "  ".join(f"{e} {c[1] / c[0]:.0%}" for e, c in rows)
        print(f"  {kind:13} n={n:5}  flagged {f / n:6.1%}  right target {r / n:6.1%}   ({per})")
        if misses[kind]:
            print(f"      e.g. missed: {', '.join(misses[kind][:5])}")
    total = sum(c[0] for c in by.values())
    print(f"  {'all':13} n={total:5}  flagged {sum(c[1] for c in by.values()) / total:6.1%}")

    print("\nfalse hits on legitimate names")
    if benign:
        hits = [(e, n, s.target, s.kind) for e, n in benign if (s := T.check(e, n))]
        print(f"  benign corpus install targets: {len(hits)}/{len(benign)} ({len(hits) / len(benign):.2%}) {hits[:10]}")
    leave_one_out()


if __name__ == "__main__":
    main()
