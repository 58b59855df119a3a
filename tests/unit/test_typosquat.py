"""Typosquat check: every kind, positive and negative, in each ecosystem it applies to.

Also: popular names are never squats, and the install targets of the shared
benign command corpus give fewer than 0.5% hits (the measured false-positive rate).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relayguard.screen import typosquat
from relayguard.screen.typosquat import ECOSYSTEMS, KINDS, Squat, check, popular, rank

CORPORA = Path(os.environ.get("RELAYGUARD_CORPORA", Path(__file__).resolve().parents[2].parent / "shared" / "corpora"))

# (ecosystem, name, target, kind): each name is checked to be unpopular first.
POSITIVES = [
    # pypi
    ("pypi", "reqeusts", "requests", "transposition"),
    ("pypi", "requets", "requests", "edit"),
    ("pypi", "reqests", "requests", "edit"),
    ("pypi", "numpyy", "numpy", "edit"),
    ("pypi", "sqlalchemmyy", "sqlalchemy", "edit"),  # distance 2, long and top-1000
    # short names: only slips that legitimate short names almost never show
    ("pypi", "sixx", "six", "edit"),  # a letter doubled
    ("pypi", "idnaa", "idna", "edit"),
    ("pypi", "tomal", "toml", "edit"),  # a vowel typed into a top-300 name
    ("pypi", "google-doud-run", "google-cloud-run", "homoglyph"),  # `cl` read as `d` (long names only)
    ("pypi", "pythondateutil", "python-dateutil", "separator"),
    ("pypi", "rеquests", "requests", "homoglyph"),  # Cyrillic е
    ("pypi", "reqυests", "requests", "homoglyph"),  # Greek upsilon
    ("pypi", "requ\u200bests", "requests", "homoglyph"),  # zero-width space
    ("pypi", "ｒｅｑｕｅｓｔｓ", "requests", "homoglyph"),  # full-width
    ("pypi", "nurnpy", "numpy", "homoglyph"),  # rn -> m
    ("pypi", "djang0", "django", "homoglyph"),  # 0 -> o
    ("pypi", "ur11ib3", "urllib3", "homoglyph"),  # 1 -> l
    ("pypi", "1xml", "lxml", "homoglyph"),
    ("pypi", "requests-py", "requests", "affix"),
    ("pypi", "python-requests", "requests", "affix"),
    ("pypi", "py-requests", "requests", "affix"),
    ("pypi", "requests2", "requests", "affix"),
    ("pypi", "dateutil", "python-dateutil", "affix"),  # affix removed
    ("pypi", "requests-security", "requests", "combo"),
    ("pypi", "secure-requests", "requests", "combo"),
    ("pypi", "pandas-security", "pandas", "combo"),
    ("pypi", "reqeusts[socks]==2.0", "requests", "transposition"),
    # npm
    ("npm", "exprss", "express", "edit"),
    ("npm", "expresss", "express", "edit"),
    ("npm", "lodahs", "lodash", "transposition"),
    ("npm", "crossenv", "cross-env", "separator"),
    ("npm", "cross_env", "cross-env", "separator"),
    ("npm", "cross.env", "cross-env", "separator"),
    ("npm", "lodashmerge", "lodash.merge", "separator"),
    ("npm", "lоdash", "lodash", "homoglyph"),  # Cyrillic о
    ("npm", "expres\u200bs", "express", "homoglyph"),
    ("npm", "@typess/node", "@types/node", "scope"),
    ("npm", "@tyeps/node", "@types/node", "scope"),
    ("npm", "@types-node", "@types/node", "scope"),
    ("npm", "types-node", "@types/node", "scope"),
    ("npm", "typesnode", "@types/node", "scope"),
    ("npm", "types/node", "@types/node", "scope"),  # GitHub shorthand
    ("npm", "fake-timers", "@sinonjs/fake-timers", "scope"),  # scoped name without its scope
    ("npm", "lodash-js", "lodash", "affix"),
    ("npm", "node-lodash", "lodash", "affix"),
    ("npm", "lodash-security", "lodash", "combo"),
    ("npm", "new-lodash", "lodash", "combo"),
    ("npm", "exprss@4.18.2", "express", "edit"),
    ("npm", "wss", "ws", "edit"),
    ("npm", "keeyv", "keyv", "edit"),
    ("npm", "@babeljs/core", "@babel/core", "scope"),  # a word added to a scope that owns it
    ("npm", "@babel-official/core", "@babel/core", "scope"),
    # crates
    ("crates", "serd", "serde", "edit"),
    ("crates", "tokoi", "tokio", "transposition"),
    ("crates", "serde_jsno", "serde_json", "transposition"),
    ("crates", "serdejson", "serde_json", "separator"),
    ("crates", "sеrde", "serde", "homoglyph"),
    ("crates", "tokio-rs", "tokio", "affix"),
    ("crates", "rust-tokio", "tokio", "affix"),
    ("crates", "serde-secure", "serde", "combo"),
    ("crates", "nomm", "nom", "edit"),
    ("crates", "jas-sys", "js-sys", "edit"),  # a vowel typed into a short word of the name
    # go
    ("go", "github.com/stretchr/testfy", "github.com/stretchr/testify", "edit"),
    ("go", "github.com/strechr/testify", "github.com/stretchr/testify", "edit"),
    ("go", "githb.com/stretchr/testify", "github.com/stretchr/testify", "edit"),
    ("go", "github.com/sirupsen/lgorus@v1.9.0", "github.com/sirupsen/logrus", "transposition"),
    ("go", "github.com/gingonic/gin", "github.com/gin-gonic/gin", "separator"),
    ("go", "github.com/spf13/cobrа", "github.com/spf13/cobra", "homoglyph"),
    ("go", "github.com/spf13-go/cobra", "github.com/spf13/cobra", "affix"),
    ("go", "github.com/stretchr-official/testify", "github.com/stretchr/testify", "combo"),
    ("go", "golang.org/x/nett", "golang.org/x/net", "edit"),
    ("go", "gopkg.in/yamll.v3", "gopkg.in/yaml.v3", "edit"),  # gopkg.in/yamll.v3 is github.com/go-yamll/yamll
    ("go", "github.com/labstack/eccho/v4", "github.com/labstack/echo/v4", "edit"),
    # gem (RubyGems keeps '-' and '_' distinct, so a swapped separator is another gem)
    ("gem", "nokoguiri", "nokogiri", "edit"),
    ("gem", "braekman", "brakeman", "transposition"),
    ("gem", "factory_bot-rails", "factory_bot_rails", "separator"),
    ("gem", "nоkogiri", "nokogiri", "homoglyph"),
    ("gem", "ruby-nokogiri", "nokogiri", "affix"),
    ("gem", "nokogiri-patched", "nokogiri", "combo"),
]


@pytest.mark.parametrize(("eco", "name", "target", "kind"), POSITIVES)
def test_positive(eco: str, name: str, target: str, kind: str) -> None:
    assert not popular(eco, name), f"{name!r} is itself popular on {eco}: not a test case"
    s = check(eco, name)
    assert s is not None, f"{eco} {name!r} should imitate {target!r}"
    assert (s.target, s.kind) == (target, kind), s
    assert s.ecosystem == eco and s.distance is not None and s.distance >= 1


def test_every_kind_is_covered() -> None:
    for kind in KINDS:
        assert any(k == kind for *_, k in POSITIVES), kind
    for eco in ECOSYSTEMS:
        kinds = {k for e, *_, k in POSITIVES if e == eco}
        applicable = set(KINDS) - ({"scope"} if eco != "npm" else set())
        assert kinds == applicable, (eco, applicable - kinds)


NEGATIVES = [
    # popular names, in any spelling the registry treats as the same package
    ("pypi", "requests"), ("pypi", "Requests"), ("pypi", "python_dateutil"), ("pypi", "Python.DateUtil"),
    ("pypi", "requests[socks]==2.0"), ("pypi", "requests>=2; python_version>'3'"),
    ("pypi", "requests-toolbelt"), ("pypi", "requests-mock"), ("pypi", "attr"),
    # close pairs that are both popular (npm `requests` is not in the data: it counts as a squat)
    ("npm", "request"), ("pypi", "toml"), ("pypi", "tomli"), ("pypi", "authlib"), ("pypi", "oauthlib"),
    ("npm", "safe-buffer"), ("npm", "safer-buffer"), ("npm", "http-proxy-agent"), ("npm", "https-proxy-agent"),
    ("npm", "JSONStream"), ("npm", "@types/node@20"), ("npm", "lodash.merge"), ("npm", "ms"),
    ("npm", "chokidar-cli"), ("npm", "koa-router"), ("npm", "@vitejs/plugin-react"),
    ("crates", "serde-json"), ("crates", "serde_json"), ("crates", "tokio@1"), ("crates", 'serde = "1"'),
    ("go", "github.com/stretchr/testify/assert"), ("go", "github.com/labstack/echo/v4/middleware"),
    ("go", "golang.org/x/tools/gopls@latest"), ("go", "github.com/spf13/cobra-cli@latest"),
    ("go", "github.com/BurntSushi/toml"), ("go", "github.com/google/go-github/v62"),
    # edit: short popular names only by transposition or lookalikes; short differing words
    ("npm", "sm"), ("pypi", "torch-cpu"), ("pypi", "sux"), ("pypi", "siz"),  # letters changed or dropped
    ("pypi", "nunpyy"),  # distance 2 but only 6 characters
    ("pypi", "lark-x"), ("pypi", "larik"),  # a vowel typed in counts only towards the top 300 (lark: ~400)
    ("npm", "cliff"),  # `cl` read as `d` only in long names (diff)
    ("npm", "@babelish/core"),  # not a word added to the scope
    # scope: scopes that own popular packages publish their own; unscoped naming families
    ("npm", "@types/nodee"), ("npm", "@babel/cor"), ("npm", "@myorg/utils"), ("npm", "@evil/lodash"),
    ("npm", "apollo-server"), ("npm", "plugin-something-new"),
    # go: other owners' forks and the owner's own repositories
    ("go", "github.com/someone/testify"), ("go", "github.com/spf13/cobra-go"),
    # combo: unlisted generic words, names outside the top
    ("pypi", "rarely-used-name-security"), ("pypi", "requests-aws4auth-foo"),
    # homoglyph: non-ASCII that does not look like a popular name
    ("pypi", "пакет"), ("npm", "пакет"),
    # not names
    ("pypi", ""), ("pypi", "   "), ("pypi", "https://example.com/x.whl"), ("pypi", "git+https://github.com/a/b"),
    ("pypi", "./local/path"), ("pypi", "-r"), ("npm", "file:../x"), ("npm", "github:user/repo"),
    ("rubygems", "rails"), ("maven", "reqeusts"),
]


@pytest.mark.parametrize(("eco", "name"), NEGATIVES)
def test_negative(eco: str, name: str) -> None:
    assert check(eco, name) is None


def _mutate2(name: str) -> str:
    """Two substitutions in the middle of a name."""
    i = len(name) // 2
    a, b = ("q" if name[i - 1] != "q" else "z"), ("x" if name[i + 1] != "x" else "z")
    return name[: i - 1] + a + name[i] + b + name[i + 2:]


@pytest.mark.parametrize("eco", ["pypi", "npm"])
def test_limits_follow_popularity(eco: str) -> None:
    names = typosquat._load(eco)
    # distance-2 edits only towards the top names; same mutation of a top-100 name is caught
    top = next(n for n in names[:100] if len(n) >= 10 and n.isalpha())
    low = [n for n in names[8000:] if len(n) >= 10 and n.isalpha()][:20]
    s = check(eco, _mutate2(top))
    assert s is not None and (s.target, s.kind, s.distance) == (top, "edit", 2), (top, s)
    for n in low:
        m = _mutate2(n)
        s = check(eco, m)
        assert popular(eco, m) or s is None or s.target != n or s.kind != "edit", s
    # combos only on the top 500
    deep = next(n for n in names[3000:] if n.isalpha() and len(n) > 5)
    s = check(eco, deep + "-security")
    assert s is None or s.kind != "combo", s


@pytest.mark.parametrize("eco", ["pypi", "npm"])
def test_top_2000_are_not_squats(eco: str) -> None:
    names = typosquat._load(eco)[:2000]
    bad = [(n, check(eco, n)) for n in names if check(eco, n) is not None]
    assert not bad, bad[:20]
    if eco == "pypi":  # separator variants of a PyPI name are the same package
        bad = [n for n in names if check(eco, n.replace("-", "_")) or check(eco, n.replace("-", ".").upper())]
        assert not bad, bad[:20]


def test_popular_and_rank() -> None:
    assert rank("pypi", "Requests") == rank("pypi", "requests") == rank("pypi", "requests[socks]>=2") is not None
    assert rank("pypi", "reqeusts") is None and not popular("pypi", "reqeusts")
    assert rank("pypi", "boto3") == 1
    assert popular("npm", "JSONStream") and popular("npm", "@types/node") and not popular("npm", "@typess/node")
    assert popular("crates", "serde-json") and rank("crates", "serde_json") == rank("crates", "serde-json")
    testify = rank("go", "github.com/stretchr/testify")
    assert testify == 1 and rank("go", "github.com/stretchr/testify/require@v1.9.0") == testify
    assert rank("go", "github.com/labstack/echo") == rank("go", "github.com/labstack/echo/v4")
    assert rank("maven", "junit") is None and not popular("go", "github.com/someone/else")


def test_squat_is_a_frozen_slotted_value() -> None:
    s = check("pypi", "reqeusts")
    assert s == Squat("pypi", "reqeusts", "requests", "transposition", 1)
    with pytest.raises(AttributeError):
        s.kind = "edit"  # type: ignore[misc]
    assert not hasattr(s, "__dict__")


@settings(max_examples=300, deadline=None)
@given(eco=st.sampled_from(ECOSYSTEMS + ("other",)), name=st.text(max_size=40))
def test_never_raises(eco: str, name: str) -> None:
    s = check(eco, name)
    assert s is None or (s.kind in KINDS and s.ecosystem == eco)


# -- false positives on what agents really install ---------------------------------------

_INSTALL = re.compile(r"""(?x)
    (?P<pypi>\b(?:pip3?(?:\.\d+)?|uv\s+pip|python3?(?:\.\d+)?\s+-m\s+pip|pipx)\s+install\b)
  | (?P<npm>\b(?:npm\s+(?:install|i|add)|yarn\s+(?:global\s+)?add|pnpm\s+(?:add|install|i)|bun\s+add)\b)
  | (?P<crates>\bcargo\s+(?:install|add)\b)
  | (?P<go>\bgo\s+(?:get|install)\b)""")
_VALUE_FLAGS = {"-r", "-c", "-e", "-i", "-f", "-t", "--index-url", "--extra-index-url", "--find-links", "--target",
                "--prefix", "--root", "--constraint", "--requirement", "--editable", "--registry", "--python",
                "--platform", "--version", "--features", "-F", "--git", "--branch", "--tag", "--rev", "--path"}


def install_targets(command: str) -> list[tuple[str, str]]:
    """Crude: (ecosystem, word) for the words after `pip install`, `npm i`, `cargo add`, `go get` ..."""
    out = []
    for m in _INSTALL.finditer(command):
        eco, skip = m.lastgroup, False
        for tok in re.split(r"[;&|\n<>]|\$\(", command[m.end():], maxsplit=1)[0].split():
            tok = tok.strip("'\"")
            if skip or tok in _VALUE_FLAGS:
                skip = not skip and tok in _VALUE_FLAGS
                continue
            if not tok or tok[0] in "-$.~/`\\" or "${" in tok or ("=" in tok and eco != "pypi"):
                continue
            if eco != "go" and (("/" in tok and not tok.startswith("@")) or ":" in tok):
                continue
            if eco == "go" and "." not in tok.split("/")[0]:
                continue
            out.append((eco, tok))
    return out


def test_install_targets_parser() -> None:
    cmd = "pip install -r req.txt requests 'numpy>=1' && npm i -D @types/node lodash; cargo add serde --features derive"
    assert install_targets(cmd) == [("pypi", "requests"), ("pypi", "numpy"), ("npm", "@types/node"),
                                    ("npm", "lodash"), ("crates", "serde")]


@pytest.mark.skipif(not (CORPORA / "benign_commands.jsonl").is_file(), reason="shared corpora not present")
def test_benign_corpus_false_positive_rate() -> None:
    targets = []
    for line in (CORPORA / "benign_commands.jsonl").read_bytes().splitlines():
        targets += install_targets(orjson.loads(line)["command"])
    assert len(targets) > 1500  # the extraction works
    hits = [(eco, name, s) for eco, name in targets if (s := check(eco, name))]
    rate = len(hits) / len(targets)
    print(f"\n{len(hits)} squat hits in {len(targets)} benign install targets ({rate:.2%})")
    for h in hits:
        print("  ", h)
    assert rate < 0.005, hits
