"""The secret rules: one documented entry per format, plus the checks that confirm a match.

Every rule is data: a name, the kind it reports, an RE2 pattern (linear time, no look-around,
no back-references), the capture group that holds the secret, how specific it is, which
characters may not touch the match (RE2 has no look-around, so token boundaries are checked
here instead), the triggers the prefilter tests before the pattern runs at all, and a
``check`` that confirms or refines the candidate in Python.  The ``doc`` says what the secret
is and why the pattern looks the way it does.

Patterns avoid counted repetitions that may start anywhere (``[5KL][base58]{50}``): a DFA must
then track every possible start at once. They use plain runs (``[base58]{51,52}``) instead and
leave the first-character and checksum tests to the check.

Formats were re-expressed from the providers' documentation and from the gitleaks default rule
set (MIT), not copied.  Patterns run over an ASCII view of the text (every non-ASCII character
is replaced by one ``?``), so character offsets equal byte offsets and every pattern is ASCII.

Checks receive ``(text, match, start, end)`` — ``text`` is the original ``str``, ``match`` the
RE2 match (its spans are character offsets), ``start``/``end`` the span of the secret group —
and return the spans to report (usually ``[(start, end)]`` or ``[]``).  They only look at the
candidate and a bounded window around it, so the whole scan stays linear.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from typing import Any

import re2

Span = tuple[int, int]
Check = Callable[[str, Any, int, int], list[Span]]

# Character sets used for boundary checks (a match may not be glued to one of these).
ALNUM = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
WORD = ALNUM | {"_"}
TOKEN = WORD | {"-"}
B64 = ALNUM | {"+", "/", "="}

# --------------------------------------------------------------------------------------------
# shared helpers


def entropy(value: str) -> float:
    """Shannon entropy in bits per character."""
    n = len(value)
    if n == 0:
        return 0.0
    return -sum(c / n * math.log2(c / n) for c in Counter(value).values())


# Substrings that mark a value as an example, a template or a redaction rather than a secret.
FAKE_MARKERS = (
    "example", "xxxx", "your", "dummy", "placeholder", "sample", "redacted", "changeme",
    "change-me", "change_me", "insecure", "fixme", "todo", "foobar", "replace", "insert",
    "...", "***", "${", "{{", "$(", "<", ">", "%s", "%(", "000000",
)


_ASCENDING = [run[i:i + 6] for run in ("0123456789", "abcdefghijklmnopqrstuvwxyz",
                                        "ABCDEFGHIJKLMNOPQRSTUVWXYZ") for i in range(len(run) - 5)]
# One RE2 pass over the value (candidate values are attacker-controlled text too).
_FAKE_RE = re2.compile("|".join(
    ["(?i:" + "|".join(re2.escape(m) for m in FAKE_MARKERS) + ")"]
    + [re2.escape(c) + "{6}" for c in sorted(set(
        "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_-+/=.~!@#$%^&*:"))]
    + _ASCENDING))


def looks_fake(value: str) -> bool:
    """Placeholder, template, redaction or keyboard-mash rather than a random secret: a marker
    word, too few distinct characters, six equal characters or six ascending ones in a row."""
    if len(value) >= 12 and len(set(value)) < 6:
        return True
    return _FAKE_RE.search(value.encode("ascii", "replace")) is not None


def _classes(value: str) -> int:
    """How many of lower case, upper case, digits and other characters ``value`` uses."""
    lower = value.upper() != value
    upper = value.lower() != value
    digit = any(d in value for d in "0123456789")
    other = not value.isalnum()
    return lower + upper + digit + other


# --------------------------------------------------------------------------------------------
# checks


def token_check(text: str, m: Any, s: int, e: int) -> list[Span]:
    """Distinctive-prefix tokens: accept unless the value is an obvious placeholder."""
    return [] if looks_fake(text[s:e]) else [(s, e)]


def random_check(text: str, m: Any, s: int, e: int) -> list[Span]:
    """Values found by context: must look random (entropy, mixed character classes)."""
    value = text[s:e]
    if looks_fake(value) or _classes(value) < 2 or entropy(value) < 3.0:
        return []
    return [(s, e)]


def mixed_case_check(text: str, m: Any, s: int, e: int) -> list[Span]:
    """Provider keys named by context (Mistral, Cohere): random mixed-case alphanumerics."""
    value = text[s:e]
    if looks_fake(value) or entropy(value) < 3.5:
        return []
    if not (any(c.islower() for c in value) and any(c.isupper() for c in value)):
        return []
    return [(s, e)]


def window_check(words: Sequence[str], before: int = 200) -> Check:
    """Accept a token only when one of ``words`` occurs shortly before it (case-insensitive)."""

    def check(text: str, m: Any, s: int, e: int) -> list[Span]:
        if looks_fake(text[s:e]):
            return []
        window = text[max(0, s - before):s].lower()
        return [(s, e)] if any(w in window for w in words) else []

    return check


def near_check(words: Sequence[str], inner: Check, before: int = 80) -> Check:
    """``inner``, and one of ``words`` within ``before`` characters before the value."""

    def check(text: str, m: Any, s: int, e: int) -> list[Span]:
        window = text[max(0, s - before):s].lower()
        return inner(text, m, s, e) if any(w in window for w in words) else []

    return check


def aws_id_check(text: str, m: Any, s: int, e: int) -> list[Span]:
    """AWS key ids: base32 body; AWS's own documentation key ends in EXAMPLE."""
    return [] if looks_fake(text[s:e]) else [(s, e)]


def _b64url_json(segment: str) -> bytes | None:
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        return None


def jwt_check(text: str, m: Any, s: int, e: int) -> list[Span]:
    """A JWT's header must decode to a JSON object naming an algorithm."""
    header = text[s:e].split(".", 1)[0]
    raw = _b64url_json(header)
    if raw is None or not raw.startswith(b"{") or b'"alg"' not in raw:
        return []
    return [(s, e)]


def discord_check(text: str, m: Any, s: int, e: int) -> list[Span]:
    """Discord bot tokens start with the base64 of the bot's numeric snowflake id."""
    first = text[s:e].split(".", 1)[0]
    if first[0] not in "MNO":
        return []
    raw = _b64url_json(first)
    if raw is None or not raw.isdigit() or not 15 <= len(raw) <= 21:
        return []
    return [(s, e)]


def pem_check(text: str, m: Any, s: int, e: int) -> list[Span]:
    """A real key block carries key material: at least 64 base64 characters in its body."""
    block = text[s:e]
    head_end = block.find("-----", 11) + 5  # end of the BEGIN line
    tail_start = block.rfind("-----END")
    body = block[head_end:tail_start].replace("\\n", "\n").replace("\\r", "\n")
    b64 = 0
    for line in body.splitlines():
        line = line.strip()
        if ":" in line:  # Proc-Type:, DEK-Info:, Comment:, Version: headers
            continue
        if line and all(c in B64 for c in line):
            b64 += len(line)
    return [(s, e)] if b64 >= 64 else []


_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(_B58)}


def base58check_decode(value: str) -> bytes | None:
    """Decode base58check; None when a character is invalid or the checksum is wrong."""
    n = 0
    for ch in value:
        digit = _B58_INDEX.get(ch)
        if digit is None:
            return None
        n = n * 58 + digit
    pad = len(value) - len(value.lstrip("1"))
    raw = b"\x00" * pad + (n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b"")
    if len(raw) < 5:
        return None
    payload, checksum = raw[:-4], raw[-4:]
    if hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4] != checksum:
        return None
    return payload


def wif_check(text: str, m: Any, s: int, e: int) -> list[Span]:
    """Bitcoin WIF: base58check, version 0x80 (mainnet) or 0xEF (testnet), 32-byte key."""
    payload = base58check_decode(text[s:e])
    if payload is None or payload[0] not in (0x80, 0xEF):
        return []
    if len(payload) == 33 or (len(payload) == 34 and payload[-1] == 0x01):
        return [(s, e)]
    return []


def xprv_check(text: str, m: Any, s: int, e: int) -> list[Span]:
    """BIP-32 extended private key: base58check of 78 bytes whose key data starts with 0x00."""
    payload = base58check_decode(text[s:e])
    if payload is None or len(payload) != 78 or payload[45] != 0:
        return []
    return [(s, e)]


# Ethereum keys: wallet words that must precede the key on its line (RE2 syntax for the set
# trigger, plain substrings for the check) ...
_ETH_CONTEXT = (r"private[ _-]?key", r"priv[ _-]?key", r"secret[ _-]?key", r"wallet", r"mnemonic",
                r"from_?key", r"signer", r"deployer", r"accounts", r"\beth(?:ereum)?\b", r"eth_",
                r"\bpk\b")
_ETH_WORDS = ("privatekey", "private_key", "private-key", "private key", "privkey", "priv_key",
              "secret_key", "secret-key", "secretkey", "wallet", "mnemonic", "fromkey", "from_key",
              "signer", "deployer", "accounts", "eth", "pk")
# ... and words that, shortly before a 64-hex string, say it is a hash and not a key.
_HASH_CONTEXT = ("sha256", "sha-256", "sha3", "keccak", "digest", "hash", "checksum", "/tx/",
                 "tx:", "tx ", "txid", "receipt", "commit", "block", "@sha", "etag", "docker")


def eth_check(text: str, m: Any, s: int, e: int) -> list[Span]:
    value = text[s:e]
    hexpart = value[2:] if value[:2].lower() == "0x" else value
    if looks_fake(hexpart) or len(set(hexpart.lower())) < 8:
        return []
    near = text[max(0, s - 24):s].lower()
    if any(word in near for word in _HASH_CONTEXT):
        return []
    line_start = text.rfind("\n", max(0, s - 300), s) + 1
    window = text[max(line_start, s - 300):s].lower()
    if not any(_has_word(window, word) for word in _ETH_WORDS):
        return []
    return [(s, e)]


def _has_word(window: str, word: str) -> bool:
    """``word`` in ``window``; short words must not be glued to other letters ('method')."""
    if len(word) > 4:
        return word in window
    i = window.find(word)
    while i != -1:
        j = i + len(word)
        if (i == 0 or not window[i - 1].isalpha()) and (j == len(window) or not window[j].isalpha()):
            return True
        i = window.find(word, i + 1)
    return False


def sas_check(text: str, m: Any, s: int, e: int) -> list[Span]:
    """An Azure SAS signature comes with a signed-version (sv=) or expiry (se=) parameter."""
    start = s
    limit = max(0, s - 1000)
    while start > limit and not text[start - 1].isspace() and text[start - 1] not in "\"'<>":
        start -= 1
    url = text[start:e]
    if "sv=" not in url and "se=" not in url and "sp=" not in url:
        return []
    return [] if looks_fake(text[s:e]) else [(s, e)]


# --- BIP-39 --------------------------------------------------------------------------------


@cache
def bip39_words() -> dict[str, int]:
    data = resources.files(__package__).joinpath("bip39_english.txt").read_text("ascii")
    words = data.split()
    if len(words) != 2048:
        raise RuntimeError("bip39_english.txt must hold 2048 words")
    return {w: i for i, w in enumerate(words)}


def bip39_valid(indices: Sequence[int]) -> bool:
    """True when the word indices form a mnemonic whose checksum bits are right."""
    n = len(indices)
    if n not in (12, 15, 18, 21, 24):
        return False
    acc = 0
    for i in indices:
        acc = (acc << 11) | i
    cs_bits = n // 3
    ent_bits = n * 11 - cs_bits
    entropy_bytes = (acc >> cs_bits).to_bytes(ent_bits // 8, "big")
    checksum = acc & ((1 << cs_bits) - 1)
    return hashlib.sha256(entropy_bytes).digest()[0] >> (8 - cs_bits) == checksum


_MAX_BIP39_RUN = 30  # longer runs of list words are word lists or prose, not one phrase


def bip39_check(text: str, m: Any, s: int, e: int) -> list[Span]:
    """Find 12/15/18/21/24 consecutive BIP-39 words with a valid checksum inside a word run."""
    table = bip39_words()
    words = text[s:e].split()  # the run is lowercase words and whitespace only
    index = [table.get(w, -1) for w in words]
    spans: list[Span] = []
    located = 0  # words[:located] have known offsets in ``offsets``
    offsets: list[int] = []
    pos = s

    def offset(k: int) -> int:
        nonlocal located, pos
        while located <= k:
            pos = text.find(words[located], pos)
            offsets.append(pos)
            pos += len(words[located])
            located += 1
        return offsets[k]

    n = len(words)
    k = 0
    while k < n:
        if index[k] < 0:
            k += 1
            continue
        b = k
        while b < n and index[b] >= 0:
            b += 1
        start, k = k, b
        if not 12 <= b - start <= _MAX_BIP39_RUN:
            continue
        j = start
        while b - j >= 12:
            for size in (24, 21, 18, 15, 12):
                if j + size > b:
                    continue
                idx = index[j:j + size]
                if len(set(idx)) < size - 3:  # 'test test ... junk', 'abandon ... about'
                    continue
                if bip39_valid(idx):
                    last = j + size - 1
                    spans.append((offset(j), offset(last) + len(words[last])))
                    j += size
                    break
            else:
                j += 1
    return spans


# --- passwords in URLs, assignments, headers ------------------------------------------------

# Values that are defaults, documentation or templating rather than a credential.
PLACEHOLDER_VALUES = frozenset({
    "password", "passwd", "pass", "pwd", "secret", "changeme", "pw", "pass123", "password123",
    "postgres", "root", "admin", "guest", "mysql", "redis", "test", "dev", "user", "username",
    "token", "apikey", "api_key", "none", "null", "nil", "true", "false", "undefined", "empty",
    "required", "optional", "string", "str", "env", "default", "example", "mypassword", "secret123",
    "letmein", "qwerty", "foo", "bar", "baz", "xxx", "x", "dummy", "value", "key", "db",
})


def _is_env_reference(value: str) -> bool:
    low = value.lower()
    if value.startswith(("$", "%")) or "${" in value or "$(" in value or "{{" in value:
        return True
    return any(marker in low for marker in (
        "environ", "getenv", "process.env", "env[", "secrets.", "vault:", "op://", "ssm:",
    ))


def _password_value_ok(value: str) -> bool:
    """A password found by position (URL, netrc, -u user:pw): real unless a placeholder."""
    low = value.lower()
    if low in PLACEHOLDER_VALUES or _is_env_reference(value) or looks_fake(value):
        return False
    if value.isdigit() and len(value) <= 5:  # a port number or a PIN-like default
        return False
    if all(ch == value[0] for ch in value):
        return False
    return True


_SCHEME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+.-")


def url_password_check(text: str, m: Any, s: int, e: int) -> list[Span]:
    user = text[m.start(1):m.end(1)]
    value = text[s:e]
    if len(user) > 128 or len(value) > 256:
        return []
    if m.start(0) >= 0 and text[m.start(0)] == ":":  # the pattern starts at '://': need a scheme
        k = m.start(0)
        while k > 0 and m.start(0) - k < 32 and text[k - 1] in _SCHEME_CHARS:
            k -= 1
        if m.start(0) - k < 2 or not text[k].isalpha():
            return []
    if not _password_value_ok(value) or value.lower() == user.lower():
        return []
    if _is_env_reference(user) and len(value) < 8:
        return []
    return [(s, e)]


def password_check(text: str, m: Any, s: int, e: int) -> list[Span]:
    return [(s, e)] if e - s <= 256 and _password_value_ok(text[s:e]) else []


def header_check(text: str, m: Any, s: int, e: int) -> list[Span]:
    value = text[s:e]
    if looks_fake(value) or _is_env_reference(value) or _classes(value) < 2 or entropy(value) < 3.0:
        return []
    return [(s, e)]


def _split_name(name: str) -> list[str]:
    """``OPENAI_API_KEY`` / ``apiKey`` / ``x-auth-token`` -> lower-case words."""
    words: list[str] = []
    cur = ""
    prev = ""
    for i, ch in enumerate(name):
        if not ch.isalnum():
            if cur:
                words.append(cur)
            cur = ""
        elif ch.isupper() and cur and (prev.islower() or prev.isdigit() or
                                        (i + 1 < len(name) and name[i + 1].islower() and prev.isupper())):
            words.append(cur)
            cur = ch
        else:
            cur += ch
        prev = ch
    if cur:
        words.append(cur)
    return [w.lower() for w in words]


SECRET_WORDS = frozenset({
    "password", "passwd", "passwds", "passphrase", "pwd", "pass", "passwort", "secret", "secrets",
    "token", "tokens", "apikey", "apitoken", "authtoken", "accesstoken", "refreshtoken",
    "credential", "credentials", "creds", "privatekey", "secretkey", "accesskey", "masterkey",
    "signingkey", "encryptionkey", "clientsecret", "auth", "pat", "sas", "sig",
})
SECRET_PAIRS = frozenset({
    ("api", "key"), ("access", "key"), ("private", "key"), ("secret", "key"), ("signing", "key"),
    ("encryption", "key"), ("master", "key"), ("session", "key"), ("account", "key"),
    ("app", "key"), ("auth", "key"), ("shared", "key"), ("storage", "key"),
    ("subscription", "key"), ("license", "key"), ("service", "key"), ("client", "key"),
})
PASSWORD_WORDS = frozenset({"password", "passwd", "passwds", "passphrase", "pwd", "pass", "passwort"})
# A name ending in one of these points at a secret (or describes it) rather than holding it.
NON_SECRET_SUFFIXES = frozenset({
    "name", "names", "type", "types", "url", "uri", "urls", "endpoint", "host", "hostname", "path",
    "paths", "file", "files", "filename", "dir", "directory", "id", "ids", "env", "var", "vars",
    "header", "headers", "length", "len", "ttl", "expiry", "expires", "expiration", "timeout",
    "seconds", "secs", "minutes", "hours", "days", "method", "mode", "enabled", "enable",
    "disabled", "required", "provider", "scope", "scopes", "version", "prefix", "suffix", "format",
    "count", "size", "limit", "field", "fields", "label", "kind", "hint", "policy", "algorithm",
    "alg", "issuer", "audience", "cache", "store", "backend", "location", "source", "ref",
    "reset", "hash", "hashed", "digest", "pattern", "regex", "template", "min", "max", "strength",
    "rotation", "generator", "validator", "manager", "service", "class", "handler", "helper",
    "command", "cmd", "flag", "flags", "option", "options", "input", "prompt", "stdin", "index",
    "usage", "lifetime", "age", "at", "on", "in", "by", "dialog", "button", "link", "page",
    "public", "pub",
})


@lru_cache(maxsize=4096)
def _name_is_secret(name: str) -> tuple[bool, bool]:
    """(is the name a secret's name, is it a password's name)."""
    words = _split_name(name)
    if not words or words[-1] in NON_SECRET_SUFFIXES:
        return False, False
    secret = any(w in SECRET_WORDS for w in words) or any(
        pair in SECRET_PAIRS for pair in zip(words, words[1:]))
    return secret, any(w in PASSWORD_WORDS for w in words)


_FILE_EXTENSIONS = (".json", ".yaml", ".yml", ".txt", ".pem", ".key", ".crt", ".cer", ".p12",
                    ".pfx", ".env", ".cfg", ".conf", ".ini", ".toml", ".gpg", ".asc", ".jks",
                    ".der", ".pub", ".py", ".js", ".ts", ".sh", ".enc", ".kdbx")


# Keys that are public by design (publishable / browser keys): never vaulted by name alone.
PUBLIC_PREFIXES = ("pk.", "pk_live_", "pk_test_", "sb_publishable_", "NRJS-", "pub")


def generic_value_ok(value: str, password: bool) -> bool:
    """The value side of ``NAME=value``: long, random-looking, not a reference or example."""
    low = value.lower()
    if low in PLACEHOLDER_VALUES or _is_env_reference(value) or looks_fake(value):
        return False
    if value.startswith(PUBLIC_PREFIXES):
        return False
    if value.startswith(("/", "./", "../", "~/", "file:", "http:", "https:")) or "://" in value:
        return False
    if low.endswith(_FILE_EXTENSIONS):
        return False
    if value.replace(".", "").replace("-", "").replace("_", "").isdigit():
        return False  # numbers, versions, dates
    stripped = value.replace("_", "").replace(".", "").replace("-", "")
    if stripped.isalpha() and ("_" in value or "." in value or value.islower() or value.isupper()):
        return False  # identifiers, constants, dotted attribute paths, plain words
    if password:
        return len(value) >= 8 and entropy(value) >= 2.5
    return len(value) >= 16 and _classes(value) >= 2 and entropy(value) >= 3.2


def generic_check(text: str, m: Any, s: int, e: int) -> list[Span]:
    name = text[m.start(1):m.end(1)]
    secret, password = _name_is_secret(name)
    if not secret:
        return []
    if e < len(text) and text[e] in "([":  # a function call or an index, not a literal
        return []
    if e - s > 512:
        return []
    return [(s, e)] if generic_value_ok(text[s:e], password) else []


def cli_check(text: str, m: Any, s: int, e: int) -> list[Span]:
    name = text[m.start(1):m.end(1)]
    secret, password = _name_is_secret(name)
    if not secret or e - s > 512:
        return []
    return [(s, e)] if generic_value_ok(text[s:e], password) else []


# --------------------------------------------------------------------------------------------
# the rules


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    kind: str
    pattern: str
    doc: str
    group: int = 0
    specificity: int = 3  # 3: distinctive prefix or checksum; 2: structure/context; 1: generic
    edge: frozenset[str] = TOKEN
    check: Check = token_check
    # Necessary conditions for the prefilter (empty: the pattern itself); the rule runs only when
    # one of them matches. Each should carry a literal of 3+ characters (RE2's FilteredRE2 then
    # reduces it to a substring test) or else be a cheap DFA (a literal prefix or a plain run).
    triggers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.triggers:
            object.__setattr__(self, "triggers", _alternatives(self.pattern))


def _alternatives(pattern: str) -> tuple[str, ...]:
    """Split a pattern at its top-level '|' (outside groups and classes)."""
    parts: list[str] = []
    depth = 0
    in_class = False
    start = 0
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if in_class:
            if ch == "]":
                in_class = False
        elif ch == "[":
            in_class = True
            if pattern[i + 1:i + 2] == "]":
                i += 1
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            parts.append(pattern[start:i])
            start = i + 1
        i += 1
    parts.append(pattern[start:])
    return tuple(parts)


def _prefixed(name: str, kind: str, pattern: str, doc: str, edge: frozenset[str] = TOKEN,
              check: Check = token_check) -> Rule:
    return Rule(name, kind, pattern, doc, edge=edge, check=check)


_PEM_BODY = r"(?:[^-]|-{1,4}[^-])*"  # anything without five dashes in a row: cannot run past a marker
_PEM_END = r"-----END [A-Z0-9 ]{0,30}PRIVATE KEY(?: BLOCK)?-----"


def _pem(name: str, kind: str, label: str, doc: str) -> Rule:
    return Rule(name, kind, rf"-----BEGIN {label}-----{_PEM_BODY}{_PEM_END}", doc,
                specificity=2, edge=frozenset(), check=pem_check)


# name=value: a name containing a secret word, a separator, an optional quote, the value.
_GENERIC_NAME = r"([A-Za-z0-9_.-]*(?i:pass|pwd|secret|token|key|auth|cred|sas)[A-Za-z0-9_.-]*)"
_GENERIC = (_GENERIC_NAME + r"[\"']?[ \t]*(?:=|:=|:|=>|\+=|<-)[ \t]*(?:[rbuf]?[\"'])?"
            r"([^\s\"'`,;\\(){}<>\[\]]{6,})")
_SECRET_STEMS = ("pass", "pwd", "secret", "token", "key", "auth", "cred", "sas")
_GENERIC_TRIGGERS = tuple(
    rf"(?i:{stem})[A-Za-z0-9_.-]*[\"']?[ \t]*(?:=|:=|:|=>|\+=|<-)[ \t]*(?:[rbuf]?[\"'])?"
    r"[^\s\"'`,;\\(){}<>\[\]]{6}" for stem in _SECRET_STEMS)
_CLI = (r"(?:^|\s)--?([A-Za-z0-9-]*(?i:pass|pwd|secret|token|key|auth|cred)[A-Za-z0-9-]*)"
        r"(?:=|[ \t]+)[\"']?([^\s\"'`<>|&;$(){}]{6,})")
_CLI_TRIGGERS = tuple(
    rf"-[A-Za-z0-9-]*(?i:{stem})[A-Za-z0-9-]*(?:=|[ \t]+)[\"']?[^\s\"'`<>|&;$(){{}}]{{6}}"
    for stem in _SECRET_STEMS if stem != "sas")

RULES: tuple[Rule, ...] = (
    # ---- OpenAI ------------------------------------------------------------------------------
    _prefixed("openai-project-key", "openai_project_key", r"sk-proj-[A-Za-z0-9_-]{40,}",
              "OpenAI project API key. 'sk-proj-' then a long base64url body (it carries the "
              "T3BlbkFJ marker, base64 of 'OpenAI'); at least 40 characters so branch names "
              "like sk-proj-refactor do not match."),
    _prefixed("openai-svcacct-key", "openai_service_account_key", r"sk-svcacct-[A-Za-z0-9_-]{40,}",
              "OpenAI service-account key: 'sk-svcacct-' plus a long base64url body."),
    _prefixed("openai-admin-key", "openai_admin_key", r"sk-admin-[A-Za-z0-9_-]{40,}",
              "OpenAI organisation admin key: 'sk-admin-' plus a long base64url body."),
    _prefixed("openai-api-key", "openai_api_key",
              r"sk-(?:None-)?[A-Za-z0-9_-]{16,}T3BlbkFJ[A-Za-z0-9_-]{16,}|sk-[A-Za-z0-9]{48}",
              "OpenAI user key (legacy 'sk-' + 48 alphanumerics, or any 'sk-' key carrying the "
              "T3BlbkFJ marker). Listed after the prefixed kinds so they win on equal spans."),
    _prefixed("openrouter-api-key", "openrouter_api_key", r"sk-or-v1-[a-f0-9]{64}",
              "OpenRouter key: 'sk-or-v1-' plus 64 hex digits."),
    # ---- Anthropic ---------------------------------------------------------------------------
    _prefixed("anthropic-api-key", "anthropic_api_key", r"sk-ant-api[0-9]{2}-[A-Za-z0-9_-]{80,}",
              "Anthropic API key: 'sk-ant-api03-' plus ~95 base64url characters ending in 'AA'; "
              "the version digits are matched loosely so api04 keys are caught too."),
    _prefixed("anthropic-admin-key", "anthropic_admin_key",
              r"sk-ant-admin[0-9]{2}-[A-Za-z0-9_-]{80,}",
              "Anthropic Admin API key: 'sk-ant-admin01-' plus ~95 base64url characters."),
    _prefixed("anthropic-oauth-token", "anthropic_oauth_token",
              r"sk-ant-(?:oat|ort|sid)[0-9]{2}-[A-Za-z0-9_-]{40,}",
              "Anthropic OAuth access/refresh tokens and session keys used by Claude Code and "
              "claude.ai ('sk-ant-oat01-', 'sk-ant-ort01-', 'sk-ant-sid01-')."),
    # ---- AWS ---------------------------------------------------------------------------------
    Rule("aws-access-key-id", "aws_access_key_id", r"(?:AKIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z2-7]{16}",
         "AWS access key id of a long-term credential: a 4-letter type prefix then 16 "
         "base32 characters (A-Z, 2-7). AWS's documentation key (…EXAMPLE) is ignored.",
         edge=ALNUM, check=aws_id_check,
         triggers=("AKIA[A-Z2-7]{16}", "ABIA[A-Z2-7]{16}", "ACCA[A-Z2-7]{16}", "A3T[A-Z0-9][A-Z2-7]{16}")),
    _prefixed("aws-temporary-access-key-id", "aws_temporary_access_key_id", r"ASIA[A-Z2-7]{16}",
              "AWS STS temporary access key id ('ASIA' + 16 base32); it comes with a secret key "
              "and a session token.", edge=ALNUM, check=aws_id_check),
    Rule("aws-secret-access-key-named", "aws_secret_access_key",
         r"(?i:aws[_.-]?secret[_.-]?(?:access[_.-]?)?key|secret[_.-]?access[_.-]?key)[\"']?\s*"
         r"(?:=|:=|:|=>|,)?\s*[\"']?([A-Za-z0-9/+]{40})",
         "AWS secret access key: exactly 40 base64 characters. Alone it is indistinguishable "
         "from any 40-character string, so it is taken only after a name such as "
         "aws_secret_access_key / AWS_SECRET_ACCESS_KEY / SecretAccessKey.",
         group=1, specificity=2, edge=B64, check=random_check),
    Rule("aws-secret-access-key-paired", "aws_secret_access_key",
         r"(?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}[\"']?[ \t]*[,;:|\t ][ \t]*[\"']?([A-Za-z0-9/+]{40})",
         "AWS secret access key written right after its key id (CSV exports, 'id secret' pairs).",
         group=1, specificity=2, edge=B64, check=random_check),
    _prefixed("aws-session-token", "aws_session_token",
              r"(?:IQoJb3JpZ2luX2Vj|FwoGZXIvYXdzE)[A-Za-z0-9/+]{100,}={0,2}",
              "AWS STS session token: long base64 that starts with the encoding of its "
              "'origin_ec' / 'aws' header (IQoJb3JpZ2luX2Vj…, FwoGZXIvYXdzE…).", edge=B64),
    Rule("aws-session-token-named", "aws_session_token",
         r"(?i:aws[_.-]?session[_.-]?token|x-amz-security-token|sessiontoken)[\"']?\s*"
         r"(?:=|:=|:|=>)?\s*[\"']?([A-Za-z0-9/+]{100,}={0,2})",
         "AWS session token of any vintage, after its name.", group=1, specificity=2, edge=B64,
         check=random_check),
    # ---- GitHub ------------------------------------------------------------------------------
    _prefixed("github-pat", "github_pat", r"ghp_[A-Za-z0-9]{36,}",
              "GitHub classic personal access token: 'ghp_' + 30 random base62 + 6-character "
              "CRC32 checksum.", edge=WORD),
    _prefixed("github-oauth-token", "github_oauth_token", r"gho_[A-Za-z0-9]{36,}",
              "GitHub OAuth app access token ('gho_' + 36 base62).", edge=WORD),
    _prefixed("github-user-token", "github_user_to_server_token", r"ghu_[A-Za-z0-9]{36,}",
              "GitHub App user-to-server token ('ghu_' + 36 base62).", edge=WORD),
    _prefixed("github-server-token", "github_server_to_server_token", r"ghs_[A-Za-z0-9]{36,}",
              "GitHub App installation (server-to-server) token ('ghs_' + 36 base62), e.g. "
              "GITHUB_TOKEN in Actions.", edge=WORD),
    _prefixed("github-refresh-token", "github_refresh_token", r"ghr_[A-Za-z0-9]{36,}",
              "GitHub App refresh token ('ghr_' + base62).", edge=WORD),
    _prefixed("github-fine-grained-pat", "github_fine_grained_pat", r"github_pat_[A-Za-z0-9_]{80,}",
              "GitHub fine-grained PAT: 'github_pat_' + 22 base62 + '_' + 59 base62; 80+ so "
              "identifiers like github_pat_scopes do not match.", edge=WORD),
    # ---- GitLab ------------------------------------------------------------------------------
    _prefixed("gitlab-pat", "gitlab_pat", r"glpat-[A-Za-z0-9_-]{20,}(?:\.[A-Za-z0-9_-]{2,}){0,2}",
              "GitLab personal access token: 'glpat-' + 20+ base64url (newer ones end in "
              "'.01.xxxxxxxxx' routing segments)."),
    _prefixed("gitlab-token", "gitlab_token",
              r"(?:gldt|glptt|glrt|glcbt|glimt|glagent|glffct|glsoat|gloas|glft)-[A-Za-z0-9_-]{20,}"
              r"|GR1348941[A-Za-z0-9_-]{20,}",
              "Other GitLab tokens by their documented prefixes: deploy (gldt-), pipeline "
              "trigger (glptt-), runner (glrt-, GR1348941), CI job (glcbt-), incoming mail "
              "(glimt-), agent (glagent-), feature flags (glffct-), SCIM/OAuth app secrets, feed."),
    # ---- Slack -------------------------------------------------------------------------------
    _prefixed("slack-bot-token", "slack_bot_token", r"xoxb-[0-9]{8,14}-[A-Za-z0-9-]{18,}",
              "Slack bot token: 'xoxb-' + team number + bot number + secret; the digits after "
              "the prefix keep 'xoxb-your-bot-token' out."),
    _prefixed("slack-user-token", "slack_user_token", r"xoxp-[0-9]{8,14}-[A-Za-z0-9-]{18,}",
              "Slack user token: 'xoxp-' + numeric ids + secret."),
    _prefixed("slack-token", "slack_token",
              r"xox[aoser]-[0-9]{1,14}-[A-Za-z0-9-]{18,}|xoxe\.xox[bp]-[0-9]-[A-Za-z0-9]{100,}",
              "Other Slack tokens: legacy workspace/app (xoxa-, xoxo-, xoxs-, xoxr-), refresh "
              "(xoxe-) and configuration tokens (xoxe.xoxb-/xoxe.xoxp-)."),
    _prefixed("slack-app-token", "slack_app_token", r"xapp-[0-9]-[A-Z0-9]+-[0-9]+-[A-Za-z0-9]{20,}",
              "Slack app-level token: 'xapp-1-' + app id + number + hex secret."),
    _prefixed("slack-webhook", "slack_webhook_url",
              r"(?:https?://)?hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/_-]{40,}",
              "Slack incoming-webhook URL: whoever holds it can post to the channel; the path "
              "after /services/ is the secret.", edge=frozenset()),
    # ---- Stripe ------------------------------------------------------------------------------
    _prefixed("stripe-secret-key", "stripe_secret_key", r"sk_live_[A-Za-z0-9]{20,}",
              "Stripe live secret key ('sk_live_' + 24-99 base62). Publishable pk_ keys are "
              "public by design and not matched.", edge=WORD),
    _prefixed("stripe-restricted-key", "stripe_restricted_key", r"rk_live_[A-Za-z0-9]{20,}",
              "Stripe live restricted key ('rk_live_').", edge=WORD),
    _prefixed("stripe-test-key", "stripe_test_key", r"[rs]k_test_[A-Za-z0-9]{20,}",
              "Stripe test-mode secret or restricted key: no money moves, but it reads the "
              "account's test data and is still a credential.", edge=WORD),
    _prefixed("stripe-webhook-secret", "stripe_webhook_secret", r"whsec_[A-Za-z0-9+/=]{32,}",
              "Stripe webhook signing secret ('whsec_'): lets anyone forge Stripe events.",
              edge=WORD),
    # ---- Google ------------------------------------------------------------------------------
    _prefixed("google-api-key", "google_api_key", r"AIza[A-Za-z0-9_-]{35}",
              "Google API key (Maps, Gemini, Firebase…): 'AIza' + 35 base64url characters."),
    Rule("gcp-service-account-key", "gcp_service_account_key",
         r"\"private_key\"\s*:\s*\"(-----BEGIN [A-Z ]{0,20}PRIVATE KEY-----"
         r"(?:\\[nr]|[A-Za-z0-9+/=]|\s)+-----END [A-Z ]{0,20}PRIVATE KEY-----)",
         "Private key of a Google service-account JSON file: the PEM block, newlines escaped "
         "as \\n, as the value of \"private_key\". Reported as the PEM string only so the JSON "
         "stays valid when it is replaced.", group=1, specificity=3, edge=frozenset(),
         check=pem_check),
    _prefixed("gcp-oauth-client-secret", "gcp_oauth_client_secret", r"GOCSPX-[A-Za-z0-9_-]{28}",
              "Google OAuth client secret ('GOCSPX-' + 28 base64url)."),
    _prefixed("google-oauth-token", "google_oauth_token",
              r"ya29\.[A-Za-z0-9_-]{30,}|1//0[A-Za-z0-9_-]{40,}",
              "Google OAuth access token ('ya29.') or refresh token ('1//0…').", edge=ALNUM),
    # ---- Azure -------------------------------------------------------------------------------
    Rule("azure-storage-account-key", "azure_storage_account_key",
         r"(?i:accountkey)\s*=\s*([A-Za-z0-9+/]{86}==)",
         "Azure storage account key in a connection string (AccountKey=<88 base64>).",
         group=1, specificity=3, edge=B64, check=token_check),
    Rule("azure-shared-access-key", "azure_shared_access_key",
         r"(?i:sharedaccesskey)\s*=\s*([A-Za-z0-9+/]{42,44}=)",
         "Azure Service Bus / Event Hubs / IoT shared access key in a connection string.",
         group=1, specificity=3, edge=B64, check=token_check),
    Rule("azure-sas-token", "azure_sas_token", r"[?&]sig=([A-Za-z0-9%+/]{40,}(?:%3[Dd]|=){0,2})",
         "Signature of an Azure shared access signature URL (sig=<base64 HMAC>); taken only "
         "when the URL also has SAS parameters (sv=, se=, sp=).", group=1, specificity=3,
         edge=B64 | {"%"}, check=sas_check),
    _prefixed("azure-ad-client-secret", "azure_ad_client_secret",
              r"[A-Za-z0-9_~.]{3}[0-9]Q~[A-Za-z0-9_~.-]{31,34}",
              "Microsoft Entra ID (Azure AD) client secret: 3 characters, a digit, 'Q~', then "
              "31-34 characters.", edge=TOKEN | {"~", "."}),
    # ---- AI and developer platforms ----------------------------------------------------------
    _prefixed("huggingface-token", "huggingface_token", r"hf_[A-Za-z0-9]{34,38}|api_org_[A-Za-z]{34}",
              "Hugging Face user access token ('hf_' + 34 letters) or org token; 34+ so "
              "hf_transfer / hf_hub_download do not match.", edge=WORD),
    _prefixed("groq-api-key", "groq_api_key", r"gsk_[A-Za-z0-9]{52}",
              "Groq API key ('gsk_' + 52 base62).", edge=WORD),
    _prefixed("replicate-api-token", "replicate_api_token", r"r8_[A-Za-z0-9]{37}",
              "Replicate API token ('r8_' + 37 base62).", edge=WORD),
    _prefixed("xai-api-key", "xai_api_key", r"xai-[A-Za-z0-9]{80}",
              "xAI (Grok) API key ('xai-' + 80 base62)."),
    _prefixed("perplexity-api-key", "perplexity_api_key", r"pplx-[A-Za-z0-9]{48}",
              "Perplexity API key ('pplx-' + 48 base62)."),
    Rule("mistral-api-key", "mistral_api_key",
         r"(?i:mistral)[^\n]*?[^A-Za-z0-9]([A-Za-z0-9]{32})",
         "Mistral API key: 32 mixed-case alphanumerics with no prefix, so only within 60 "
         "characters after the word 'mistral' on the same line.", group=1, specificity=2,
         edge=ALNUM, check=near_check(("mistral",), mixed_case_check),
         triggers=(r"(?i:mistral)[^\n]*[A-Za-z0-9]{32}",)),
    Rule("cohere-api-key", "cohere_api_key",
         r"(?i:cohere|co_api_key)[^\n]*?[^A-Za-z0-9]([A-Za-z0-9]{40})",
         "Cohere API key: 40 mixed-case alphanumerics with no prefix, so only shortly after "
         "'cohere' / CO_API_KEY on the same line.", group=1, specificity=2, edge=ALNUM,
         check=near_check(("cohere", "co_api_key"), mixed_case_check),
         triggers=(r"(?i:cohere)[^\n]*[A-Za-z0-9]{40}", r"(?i:co_api_key)[^\n]*[A-Za-z0-9]{40}")),
    Rule("deepseek-api-key", "deepseek_api_key", r"(?i:deepseek)[^\n]*?(sk-[a-f0-9]{32})",
         "DeepSeek API key ('sk-' + 32 hex), only after the word 'deepseek' on the same line.",
         group=1, specificity=2, edge=TOKEN, check=near_check(("deepseek",), token_check)),
    _prefixed("npm-token", "npm_token", r"npm_[A-Za-z0-9]{36}",
              "npm access token ('npm_' + 36 base62).", edge=WORD),
    _prefixed("pypi-token", "pypi_token",
              r"pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,}|pypi-AgENdGVzdC5weXBpLm9yZw[A-Za-z0-9_-]{50,}",
              "PyPI / TestPyPI API token: a macaroon whose base64 starts with the encoded "
              "location 'pypi.org' (AgEIcHlwaS5vcmc) or 'test.pypi.org'."),
    _prefixed("databricks-token", "databricks_token", r"dapi[a-f0-9]{32}(?:-[0-9]+)?",
              "Databricks personal access token ('dapi' + 32 hex).", edge=ALNUM),
    _prefixed("digitalocean-token", "digitalocean_token", r"do[opr]_v1_[a-f0-9]{64}",
              "DigitalOcean personal/OAuth/refresh token ('dop_v1_', 'doo_v1_', 'dor_v1_' + 64 "
              "hex)."),
    _prefixed("heroku-api-key", "heroku_api_key", r"HRKU-[A-Za-z0-9_-]{58,64}",
              "Heroku API key, current format ('HRKU-' + ~60 base64url)."),
    Rule("heroku-api-key-named", "heroku_api_key",
         r"(?i:heroku)[A-Za-z0-9_.-]*(?i:key|token)[\"']?\s*(?:=|:=|:|=>)\s*[\"']?"
         r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})",
         "Legacy Heroku API key: a UUID, so only after a heroku…key/token name (plain UUIDs "
         "are identifiers and must not match).", group=1, specificity=2, edge=TOKEN,
         check=token_check),
    _prefixed("doppler-token", "doppler_token", r"dp\.(?:pt|st|sa|ct|scim|audit)\.[A-Za-z0-9]{40,44}",
              "Doppler token (dp.pt. personal, dp.st. service, dp.sa. service account, …)."),
    _prefixed("vault-token", "hashicorp_vault_token", r"hv[sbr]\.[A-Za-z0-9_-]{24,}",
              "HashiCorp Vault token: service (hvs.), batch (hvb.) or recovery (hvr.)."),
    _prefixed("terraform-cloud-token", "terraform_cloud_token",
              r"[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_=-]{60,70}",
              "Terraform Cloud / Enterprise API token: 14 characters, '.atlasv1.', then 60-70."),
    _prefixed("linear-api-key", "linear_api_key", r"lin_api_[A-Za-z0-9]{40}",
              "Linear personal API key ('lin_api_' + 40 base62).", edge=WORD),
    _prefixed("notion-token", "notion_token", r"ntn_[0-9]{11}[A-Za-z0-9]{35}|secret_[A-Za-z0-9]{43}",
              "Notion integration token: 'ntn_' + 11 digits + 35 base62, or the older "
              "'secret_' + 43 base62.", edge=WORD),
    _prefixed("atlassian-api-token", "atlassian_api_token", r"ATATT3[A-Za-z0-9_=-]{150,}",
              "Atlassian (Jira, Confluence) API token: 'ATATT3' + ~186 characters.",
              edge=TOKEN | {"="}),
    _prefixed("postman-api-key", "postman_api_key", r"PMAK-[a-fA-F0-9]{24}-[a-fA-F0-9]{34}",
              "Postman API key: 'PMAK-' + 24 hex + '-' + 34 hex."),
    _prefixed("twilio-api-key", "twilio_api_key", r"SK[0-9a-fA-F]{32}",
              "Twilio API key SID ('SK' + 32 hex); it pairs with a secret and identifies the "
              "key, so it is vaulted too.", edge=ALNUM),
    Rule("twilio-auth-token", "twilio_auth_token",
         r"(?i:twilio)[A-Za-z0-9_.-]*(?i:token|secret)[\"']?\s*(?:=|:=|:|=>)\s*[\"']?([0-9a-f]{32})",
         "Twilio auth token: 32 hex, only after a twilio…token/secret name.", group=1,
         specificity=2, edge=ALNUM, check=token_check),
    _prefixed("sendgrid-api-key", "sendgrid_api_key", r"SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}",
              "SendGrid API key: 'SG.' + 22 + '.' + 43 base64url characters."),
    Rule("mailgun-api-key", "mailgun_api_key", r"key-[0-9a-f]{32}",
         "Mailgun private API key, legacy 'key-' + 32 hex; the shape is common in cache keys, "
         "so the word 'mailgun' must appear shortly before.", specificity=2, edge=TOKEN,
         check=window_check(("mailgun", "mg_", "mg-", "api:key")),),
    _prefixed("mailgun-api-key-v2", "mailgun_api_key", r"[0-9a-f]{32}-[0-9a-f]{8}-[0-9a-f]{8}",
              "Mailgun private API key, current format: 32 hex, '-', 8 hex, '-', 8 hex (not a "
              "UUID shape).", edge=ALNUM | {"-"}),
    Rule("discord-bot-token", "discord_bot_token",
         r"[A-Za-z0-9_-]{24,28}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,40}",
         "Discord bot token: base64 of the bot's snowflake id, '.', 6-character timestamp, "
         "'.', HMAC. The first part must decode to 15-21 digits.", specificity=3,
         edge=TOKEN | {"."}, check=discord_check),
    _prefixed("discord-webhook", "discord_webhook_url",
              r"https://(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/[0-9]{17,20}/"
              r"[A-Za-z0-9_-]{60,68}",
              "Discord webhook URL: numeric id plus a 68-character token; it lets anyone post.",
              edge=frozenset()),
    _prefixed("telegram-bot-token", "telegram_bot_token", r"[0-9]{8,10}:AA[A-Za-z0-9_-]{33}",
              "Telegram bot token: the bot's numeric id, ':', then 'AA' + 33 base64url.",
              edge=TOKEN),
    _prefixed("shopify-token", "shopify_token", r"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}",
              "Shopify access token or shared secret (shpat_, shpca_, shppa_, shpss_ + 32 hex).",
              edge=WORD),
    _prefixed("grafana-token", "grafana_token",
              r"glc_[A-Za-z0-9+/]{32,}={0,3}|glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}"
              r"|eyJrIjoi[A-Za-z0-9]{70,}={0,3}",
              "Grafana Cloud token (glc_), service-account token (glsa_) or legacy API key "
              "(base64 JSON starting {\"k\":).", edge=WORD | {"+", "/", "="}),
    _prefixed("newrelic-key", "newrelic_api_key", r"NRAK-[A-Z0-9]{27}|NRII-[A-Za-z0-9-]{32}",
              "New Relic user API key (NRAK-) or insert key (NRII-)."),
    _prefixed("sentry-token", "sentry_auth_token", r"sntrys_eyJ[A-Za-z0-9+/=_]{50,}|sntryu_[a-f0-9]{64}",
              "Sentry organisation (sntrys_) or user (sntryu_) auth token.",
              edge=WORD | {"+", "/", "="}),
    _prefixed("supabase-token", "supabase_token", r"sbp_[a-f0-9]{40}|sb_secret_[A-Za-z0-9_-]{30,}",
              "Supabase personal access token (sbp_) or project secret key (sb_secret_).",
              edge=WORD),
    _prefixed("langsmith-key", "langsmith_api_key", r"lsv2_(?:pt|sk)_[a-f0-9]{32}_[a-f0-9]{10}",
              "LangSmith API key (lsv2_pt_ personal, lsv2_sk_ service).", edge=WORD),
    _prefixed("planetscale-token", "planetscale_token", r"pscale_(?:tkn|pw|oauth)_[A-Za-z0-9_=.-]{32,64}",
              "PlanetScale service token, password or OAuth token.", edge=WORD),
    _prefixed("pulumi-token", "pulumi_access_token", r"pul-[a-f0-9]{40}",
              "Pulumi access token ('pul-' + 40 hex)."),
    _prefixed("square-token", "square_token", r"sq0(?:csp|atp)-[A-Za-z0-9_-]{22,60}|EAAA[A-Za-z0-9_-]{60}",
              "Square OAuth secret (sq0csp-) or access token (sq0atp-, EAAA…)."),
    _prefixed("tailscale-key", "tailscale_key", r"tskey-[a-z]+-[A-Za-z0-9]+-[A-Za-z0-9]{20,}",
              "Tailscale auth / API / OAuth client key ('tskey-<type>-<id>-<secret>')."),
    _prefixed("onepassword-token", "onepassword_service_token", r"ops_eyJ[A-Za-z0-9+/]{200,}={0,3}",
              "1Password service-account token ('ops_' + base64 JSON).", edge=WORD | {"+", "/", "="}),
    _prefixed("flyio-token", "flyio_token", r"fo1_[A-Za-z0-9_-]{43}|fm[12][ar]?_[A-Za-z0-9+/]{100,}={0,3}",
              "Fly.io access token (fo1_, fm1a_, fm2_ macaroons).", edge=WORD | {"+", "/", "="}),
    _prefixed("mapbox-secret-token", "mapbox_secret_token",
              r"sk\.eyJ[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{20,}",
              "Mapbox secret token ('sk.' + JWT-like body); public pk. tokens are not matched.",
              edge=TOKEN | {"."}),
    _prefixed("alibaba-access-key-id", "alibaba_access_key_id", r"LTAI[A-Za-z0-9]{20}",
              "Alibaba Cloud AccessKey id ('LTAI' + 20 base62).", edge=ALNUM),
    _prefixed("age-secret-key", "age_secret_key", r"AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}",
              "age encryption identity: bech32 'AGE-SECRET-KEY-1' + 58 characters of the bech32 "
              "alphabet."),
    # ---- structural: tokens, keys, wallets --------------------------------------------------
    Rule("jwt", "jwt", r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}",
         "JSON Web Token: three base64url parts, header and payload both JSON objects (so both "
         "start 'eyJ'), and a signature; the header must decode and name an 'alg'. Unsigned "
         "tokens (empty signature) carry no credential and are skipped.", specificity=2,
         edge=TOKEN | {"."}, check=jwt_check),
    _pem("pem-rsa-private-key", "pem_rsa_private_key", "RSA PRIVATE KEY",
         "PKCS#1 RSA private key, the whole block from BEGIN to END (real newlines or JSON \\n)."),
    _pem("pem-ec-private-key", "pem_ec_private_key", "EC PRIVATE KEY",
         "SEC1 elliptic-curve private key block."),
    _pem("pem-dsa-private-key", "pem_dsa_private_key", "DSA PRIVATE KEY",
         "DSA private key block (legacy OpenSSL format)."),
    _pem("openssh-private-key", "openssh_private_key", "OPENSSH PRIVATE KEY",
         "OpenSSH private key block (id_ed25519, id_rsa in the new format)."),
    _pem("pem-encrypted-private-key", "pem_encrypted_private_key", "ENCRYPTED PRIVATE KEY",
         "PKCS#8 encrypted private key block: encrypted, but offline-crackable."),
    _pem("pgp-private-key-block", "pgp_private_key_block", "PGP PRIVATE KEY BLOCK",
         "OpenPGP secret key block (armored)."),
    _pem("pem-private-key", "pem_private_key", "[A-Z0-9 ]{0,30}PRIVATE KEY",
         "PKCS#8 private key block and any other '… PRIVATE KEY' block; after the typed rules, "
         "which win on equal spans. Public keys and certificates never match."),
    Rule("putty-private-key", "putty_private_key",
         r"PuTTY-User-Key-File-[23]:[^\n]*\n(?:[^\n]*\n){0,8}?Private-Lines: [0-9]+\r?\n"
         r"(?:[A-Za-z0-9+/=]{1,64}\r?\n)+",
         "PuTTY .ppk private key, from the header to the end of the Private-Lines.",
         specificity=2, edge=frozenset(), check=token_check),
    Rule("ethereum-private-key", "ethereum_private_key",
         r"(?:0x)?[0-9a-fA-F]{64}",
         "Ethereum (secp256k1) private key: 64 hex digits, with or without 0x. A bare 64-hex "
         "string is usually a SHA-256, a transaction hash or a container id, so a wallet word "
         "(private key, wallet, accounts, from_key, signer, mnemonic, eth…) must come first on "
         "the same line, and hash words right before the value veto it. The set trigger needs "
         "a wallet word and a 64-hex run on one line; the rule then checks each 64-hex string.",
         specificity=2, edge=ALNUM, check=eth_check,
         triggers=tuple(rf"(?i:{word})[^\n]*[0-9a-fA-F]{{64}}" for word in _ETH_CONTEXT)),
    Rule("bitcoin-wif", "bitcoin_wif_private_key", r"[1-9A-HJ-NP-Za-km-z]{51,52}",
         "Bitcoin private key in Wallet Import Format: base58check of 0x80/0xEF + 32-byte key "
         "(+0x01 when compressed), so a whole word of 51-52 base58 characters starting 5, K, "
         "L (mainnet), 9 or c (testnet). The pattern is a plain run (cheap for a DFA); the "
         "version byte and the 4-byte double-SHA-256 checksum are verified.",
         specificity=3, edge=ALNUM, check=wif_check),
    Rule("bip32-xprv", "bip32_extended_private_key", r"[xtyzuv]prv[1-9A-HJ-NP-Za-km-z]{100,112}",
         "BIP-32 extended private key (xprv/tprv/yprv/zprv…): base58check of 78 bytes; the "
         "checksum is verified.", specificity=3, edge=ALNUM, check=xprv_check),
    Rule("bip39-mnemonic", "bip39_mnemonic", r"[a-z]{3,8}(?:\s+[a-z]{3,8}){11,}",
         "BIP-39 seed phrase: 12/15/18/21/24 consecutive words of the English BIP-39 list whose "
         "last bits are the SHA-256 checksum of the entropy. Runs of short lowercase words are "
         "candidates; the check finds the exact phrase and verifies the checksum (1 in 16 to "
         "1 in 256 random word sequences pass), and drops phrases with few distinct words such "
         "as the public 'test test … junk' development mnemonic.",
         specificity=2, edge=WORD, check=bip39_check),
    # ---- passwords by position ---------------------------------------------------------------
    Rule("url-password", "url_password",
         r"://([^\s:@/?#\"'<>\\]+):([^\s@/?\"'<>\\]+)@"
         r"[A-Za-z0-9\[]",
         "Password inside a URL (scheme://user:password@host): database, broker and HTTP URLs. "
         "The pattern starts at the literal '://' (fast to find); the check wants a scheme "
         "before it. "
         "Only the password is reported, so a placeholder keeps the URL readable; template "
         "values (password, ${PASS}, <password>, ****, $VAR, user==password) are skipped.",
         group=2, specificity=2, edge=frozenset(), check=url_password_check),
    Rule("basic-auth-password", "basic_auth_password",
         r"(?:^|\s)(?:-u|--user)[= ][ \t]*[\"']?([^\s:\"']+):([^\s\"'@]{4,})",
         "Password given to curl/wget-style -u/--user user:password options.",
         group=2, specificity=2, edge=frozenset(), check=url_password_check),
    Rule("cli-password-flag", "cli_password",
         r"(?:sshpass|(?:docker|podman|buildah|skopeo|helm registry|oras) login|redis-cli)"
         r"[^\n|;&]*?[ \t](?:-p|-a|--password)[ \t=]+[\"']?([^\s\"'$<>|&;`]{4,})",
         "Password passed to a tool's short flag: sshpass -p, docker/podman/helm login -p, "
         "redis-cli -a (the value right after the flag).", group=1, specificity=2,
         edge=frozenset(), check=password_check),
    Rule("mysql-password-flag", "cli_password",
         r"mysql(?:dump|admin|import|sh)?[^\n|;&]*?[ \t]-p[\"']?([^\s\"'$<>|&;`]{4,})",
         "MySQL client password glued to -p (-pSECRET); '-p' alone prompts and is not a value.",
         group=1, specificity=2, edge=frozenset(), check=password_check),
    Rule("netrc-password", "netrc_password",
         r"(?:^|\s)machine\s+\S+\s+login\s+\S+\s+password\s+([^\s]{4,})",
         "Password in a .netrc entry (machine … login … password …).", group=1, specificity=2,
         edge=frozenset(), check=password_check),
    Rule("http-auth-header", "http_auth_credential",
         r"(?i:authorization)[\"']?\s*[:=]\s*[\"']?(?i:bearer|basic|token|bot|apikey)[ \t]+"
         r"([A-Za-z0-9._~+/=-]{16,})",
         "Credential in an Authorization header (Bearer/Basic/Token …) of any provider; "
         "specific formats inside it win on equal spans.", group=1, specificity=1,
         edge=TOKEN | {".", "~", "+", "/", "="}, check=header_check),
    Rule("http-api-key-header", "http_auth_credential",
         r"(?i:x-api-key|api-key|x-auth-token|private-token|x-goog-api-key|x-subscription-token|"
         r"ocp-apim-subscription-key)[\"']?\s*[:=]\s*[\"']?([A-Za-z0-9._~+/=-]{16,})",
         "Credential in an API-key header (x-api-key, api-key, private-token, …).", group=1,
         specificity=1, edge=TOKEN | {".", "~", "+", "/", "="}, check=header_check),
    Rule("generic-secret-assignment", "generic_secret", _GENERIC,
         "KEY=value, \"key\": \"value\", key: value and key := value where the name reads "
         "like a secret (password, secret, token, api_key, access_key, private_key, "
         "client_secret, auth…, split on _ . - and camelCase) and does not merely point at one "
         "(…_FILE, …_PATH, …_URL, …_ID, …_TTL…); the value must be long and random enough "
         "(entropy, character classes) and not a placeholder, env reference, call, path or "
         "identifier.", group=2, specificity=1, edge=frozenset(), check=generic_check,
         triggers=_GENERIC_TRIGGERS),
    Rule("cli-secret-argument", "generic_secret", _CLI,
         "--password VALUE / --token=VALUE / --api-key VALUE style command-line arguments, "
         "with the same name and value tests as assignments.", group=2, specificity=1,
         edge=frozenset(), check=cli_check, triggers=_CLI_TRIGGERS),
)

KINDS: tuple[str, ...] = tuple(sorted({rule.kind for rule in RULES}))
