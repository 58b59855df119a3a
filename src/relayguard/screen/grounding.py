"""What the conversation names: URLs, hosts, code-host owners and repositories,
package names, and the text itself.

A URL, host, owner, package or literal is *grounded* when the conversation names
it before the model does: in a user, system or developer message, or in an
earlier tool result (the output of a command, a file the agent read).  The
model's own earlier messages do not count, and neither does a tool result that
only repeats what the model wrote first (``echo reqeusts`` cannot launder a
name into the conversation).  The policy can trust things in addition.

Matching is exact and by the unit of trust: the full URL; on shared hosts the
owner and repository (``github.com/owner/repo``, with ``raw.githubusercontent.com``
and ``codeload.github.com`` mapped to it); elsewhere the host (named in a URL, or
as a bare host name that is not a file name such as ``setup.sh``).

:func:`grounding_for` builds this once per request object, from text cut to
bounded sizes, with plain string scans (linear time); turns of one session reuse
the index of the conversation so far (see ``grounding_for_messages``).
"""

from __future__ import annotations

import functools
import hashlib
import threading
from collections import OrderedDict


from relayguard.exchange import Request
from relayguard.screen import typosquat
from relayguard.screen.installs import normalise_name
from relayguard.screen.lookalike import near_named
from relayguard.screen.normalise import skeleton, strip_invisible
from relayguard.screen.urls import code_host_key, owner_key, split_url

__all__ = ["Grounding", "grounding_for", "grounding_for_messages", "grounding_from_texts"]

MAX_MESSAGE = 256 * 1024
MAX_TOTAL = 2 * 1024 * 1024
MAX_TOKENS = 200_000
_SOURCE_ROLES = frozenset({"user", "system", "developer", "tool"})

# Characters that end a token: everything but letters, digits and ``._+@/-``.
_TOKEN_TABLE = {c: " " for c in range(128) if not (chr(c).isalnum() or chr(c) in "._+@/-")}
_URL_END = frozenset(" \t\r\n'\"<>`)]}\\|,;")
_SCHEME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz+")
_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-.")
_MAX_URLS = 4096


def _urls(text: str) -> list[str]:
    """``scheme://...`` and ``git@host:owner/repo`` URLs in ``text``."""
    out: list[str] = []
    at = text.find("://")
    while at > 0 and len(out) < _MAX_URLS:
        start = at
        while start > 0 and text[start - 1].lower() in _SCHEME_CHARS and at - start < 16:
            start -= 1
        end = at + 3
        while end < len(text) and text[end] not in _URL_END:
            end += 1
        if start < at:
            out.append(text[start:end].rstrip(".,;:!?'\""))
        at = text.find("://", end)
    at = text.find("git@")
    while at >= 0 and len(out) < _MAX_URLS:
        end = at
        while end < len(text) and text[end] not in _URL_END:
            end += 1
        out.append(text[at:end].rstrip(".,;:!?"))
        at = text.find("git@", end)
    return out


def _token(piece: str) -> str:
    """A package-like token: ``requests``, ``@types/node``, ``github.com/o/r`` (versions cut)."""
    if piece.startswith("@"):
        head, sep, rest = piece[1:].partition("@")
        piece = "@" + head
    else:
        piece = piece.split("@", 1)[0]
    return piece.strip("./-+")


def _host_like(host: str) -> bool:
    labels = host.split(".")
    return len(labels) >= 2 and all(labels) and all(c in _HOST_CHARS for c in host) \
        and labels[-1].isalpha() and 2 <= len(labels[-1]) <= 30


# TLDs that are also common file extensions: `setup.sh`, `main.rs`, `README.md` are files.
_FILE_TLDS = frozenset("""
sh py rs md pl pm so in cc ac am la mk tf sv st ps ai zip mov run build app ml sc ms lo
sql cfg ini log txt yml yaml json toml lock bak tmp old orig out go rb ts js jsx tsx java kt
c h hpp cpp cs php lua r jl ex exs erl hs scala swift dart vue css html htm xml csv tsv
""".split())


class Grounding:
    def __init__(self) -> None:
        self.urls: set[str] = set()
        self.keys: set[str] = set()  # owner keys on shared hosts, and host/owner prefixes
        self.hosts: set[str] = set()
        self.tokens: set[str] = set()  # as written (lower case) and PEP 503-normalised
        self.raw_tokens: set[str] = set()  # as written (lower case) only
        self._pieces: set[str] = set()
        self.texts: list[str] = []
        self._by_len: dict[int, list[str]] | None = None

    def copy(self) -> Grounding:
        """An independent copy to extend (every field ``__init__`` sets but ``_by_len``,
        which is rebuilt on demand from the copy's own tokens)."""
        out = Grounding()
        out.urls, out.keys, out.hosts = set(self.urls), set(self.keys), set(self.hosts)
        out.tokens, out.raw_tokens, out._pieces = set(self.tokens), set(self.raw_tokens), set(self._pieces)
        out.texts = list(self.texts)
        return out

    # -- questions ------------------------------------------------------------------------
    def url(self, text: str) -> bool:
        """Is this URL grounded (exactly, by owner/repository, or by host)?"""
        t = text.strip().rstrip("/")
        if t in self.urls or t.removeprefix("git+") in self.urls:
            return True
        u = split_url(t)
        if u.host is None:
            return False
        key = code_host_key(t)
        if "$" in t and key is not None and "$" in key:
            return False  # the owner or repository is only known at run time
        if key is not None:
            return not key.endswith("?") and key.lower() in self.keys
        return u.host in self.hosts

    def owner(self, text: str) -> bool:
        """Is the owner (not necessarily the repository) of this URL named?"""
        key = code_host_key(text)
        if key is None:
            return self.url(text)
        return "/".join(key.lower().split("/")[:2]) in self.keys

    def package(self, ecosystem: str, name: str) -> bool:
        """Does the conversation name this package (PyPI names compare normalised,
        others exactly: ``fs-realpath`` is not ``fs.realpath`` on npm)?"""
        if ecosystem in ("pypi", "conda"):
            return normalise_name("pypi", name) in self.tokens
        if ecosystem == "crates" and ("_" in name or "-" in name):  # crates.io: `js_sys` is `js-sys`
            n = name.lower()
            return n in self.raw_tokens or n.replace("_", "-") in self.tokens or n.replace("-", "_") in self.raw_tokens
        return name.lower() in self.raw_tokens

    def literal(self, text: str) -> bool:
        """Does the conversation contain ``text`` verbatim (for payloads, keys)?"""
        t = text.strip()
        return len(t) >= 8 and any(t in s for s in self.texts)

    def near_package(self, ecosystem: str, name: str, language: bool | None = None) -> str | None:
        """A package name the conversation uses that ``name`` imitates (a typo, an
        affix, a scope away), or None; see ``lookalike``."""
        if self._by_len is None:
            by: dict[int, list[str]] = {}
            for tok in self.raw_tokens:
                if 3 <= len(tok) <= 96:
                    by.setdefault(len(tok), []).append(tok)
            self._by_len = by
        if language is None:  # ecosystems without a popularity list: the conversation is the reference
            language = ecosystem in ("gem", "conda")
        tokens = self.tokens if ecosystem in ("pypi", "conda") else self.raw_tokens
        listed = "pypi" if ecosystem == "conda" else ecosystem
        return near_named(ecosystem, normalise_name(ecosystem, name).lower(), tokens, self._by_len, language,
                          functools.partial(typosquat.popular, listed) if listed in typosquat.ECOSYSTEMS else None)

    # -- building -------------------------------------------------------------------------
    def _add(self, text: str, exclude: Grounding | None) -> None:
        """Index one message.  Plain string scans (str.translate / split / find),
        no regular expressions: linear in the text, and fast."""
        text, _ = strip_invisible(text)
        self.texts.append(text)
        for url in _urls(text):
            self._add_url(url, exclude)
        if len(self.tokens) >= MAX_TOKENS:
            return
        skip = exclude.tokens if exclude is not None else ()
        if "\\" in text:  # JSON-escaped tool output (Codex wraps it): `\tgithub.com/x` is not `tgithub.com`
            text = text.replace("\\n", " ").replace("\\t", " ").replace("\\r", " ")
        pieces = set(text.lower().translate(_TOKEN_TABLE).split())
        pieces -= self._pieces
        self._pieces |= pieces
        # most pieces are plain words (ASCII letters and digits): set operations, no loop
        plain = {p for p in pieces if p.isalnum() and p.isascii()}
        if plain:
            plain -= self.raw_tokens
            if skip:
                plain -= skip
            self.tokens |= plain
            self.raw_tokens |= plain
            pieces -= plain
        for piece in pieces:
            tok = piece.strip("./-+") if "@" not in piece else _token(piece)
            if not tok or tok in self.raw_tokens:
                continue
            if "." in tok and _host_like(tok.split("/", 1)[0]):
                host = tok.split("/", 1)[0]
                if "/" in tok:
                    self._add_url("https://" + tok, exclude)
                elif host.rsplit(".", 1)[-1] not in _FILE_TLDS and (exclude is None or host not in exclude.hosts):
                    self.hosts.add(host)
            if tok not in skip:
                self._add_token(tok)

    def _add_token(self, tok: str) -> None:
        if not tok:
            return
        self.tokens.add(tok)
        self.raw_tokens.add(tok)
        if "/" in tok and not tok.startswith("@"):
            for part in tok.split("/"):
                if part:
                    self.tokens.add(part)
                    self.raw_tokens.add(part)
        if "/" not in tok and ("_" in tok or "." in tok):
            self.tokens.add(normalise_name("pypi", tok))
        if not tok.isascii():
            self.tokens.add(skeleton(tok))

    def _add_url(self, url: str, exclude: Grounding | None) -> None:
        if exclude is not None and (url in exclude.urls or exclude.url(url)):
            return
        self.urls.add(url.rstrip("/"))
        u = split_url(url)
        if u.host is None:
            return
        key = code_host_key(url)
        if key is not None and not key.endswith("?"):
            parts = key.lower().split("/")
            for k in range(2, len(parts) + 1):
                self.keys.add("/".join(parts[:k]))
        elif key is None:
            self.hosts.add(u.host)
        key = owner_key(url)
        if key and "/" in key:
            # go modules and npm github shorthands name repositories by path
            self._add_token(key.lower())


def grounding_from_texts(messages: list[tuple[str, str]]) -> Grounding:
    """Grounding from (role, text) pairs in conversation order."""
    state = _State(Grounding(), Grounding(), 0, False)
    for role, text in messages:
        state.add(role, text)
    return state.g


class _State:
    """A grounding under construction: what the conversation named (``g``), what the
    model said first (``model``), and how much text was indexed.  The result after
    a prefix of messages depends only on that prefix, which is what makes it cacheable."""

    __slots__ = ("g", "model", "total", "full")

    def __init__(self, g: Grounding, model: Grounding, total: int, full: bool) -> None:
        self.g, self.model, self.total, self.full = g, model, total, full

    def add(self, role: str, text: str) -> None:
        if self.full or not isinstance(text, str) or not text:
            return
        text = text[:MAX_MESSAGE]
        self.total += len(text)
        if self.total > MAX_TOTAL:
            self.full = True  # bounded: later messages are not indexed
            return
        if role == "assistant":
            self.model._add(text, None)
        elif role in _SOURCE_ROLES:
            self.g._add(text, self.model if role == "tool" else None)

    def copy(self) -> _State:
        return _State(self.g.copy(), self.model.copy(), self.total, self.full)


# A session resends its whole conversation every turn, and indexing it costs about
# 0.1 us per character (milliseconds for long agent sessions): the state after each
# request's messages is kept, keyed by a SHA-256 chain over those messages (an
# attacker must not be able to make two conversations share an index), so the next
# turn only indexes the messages it adds.  Bounded by entries and by indexed text.
_PREFIX_ENTRIES = 64
_PREFIX_CHARS = 8 * 1024 * 1024  # of indexed text: a few full-size (2 MB) conversations
_prefixes: OrderedDict[bytes, _State] = OrderedDict()
_prefix_chars = 0


def _prefix_digests(messages: list[tuple[str, str]]) -> list[bytes]:
    """digests[k]: the chain digest of messages[:k + 1] (role and text, length-prefixed)."""
    h = hashlib.sha256(b"relayguard grounding prefix v1")
    out = []
    for role, text in messages:
        r = str(role).encode("utf-8", "surrogatepass")
        # only what ``_State.add`` indexes: the first MAX_MESSAGE characters
        t = text[:MAX_MESSAGE].encode("utf-8", "surrogatepass") if isinstance(text, str) else b""
        kind = b"s" if isinstance(text, str) else b"n"  # a non-string is skipped, not indexed as ""
        h.update(b"%d:%s%s%d:" % (len(r), r, kind, len(t)))
        h.update(t)
        out.append(h.copy().digest())
    return out


def grounding_for_messages(messages: list[tuple[str, str]]) -> Grounding:
    """``grounding_from_texts`` that reuses the index of the longest earlier
    conversation this one extends.  The returned Grounding may be shared: read only."""
    global _prefix_chars
    if not messages:
        return Grounding()
    digests = _prefix_digests(messages)
    start, base = 0, None
    with _lock:
        for k in range(len(digests) - 1, -1, -1):
            base = _prefixes.get(digests[k])
            if base is not None:
                _prefixes.move_to_end(digests[k])
                start = k + 1
                break
    if base is not None and start == len(messages):
        return base.g
    state = base.copy() if base is not None else _State(Grounding(), Grounding(), 0, False)
    for role, text in messages[start:]:
        state.add(role, text)
    with _lock:
        key = digests[-1]
        if key not in _prefixes:
            _prefixes[key] = state
            _prefix_chars += state.total
            while _prefixes and (len(_prefixes) > _PREFIX_ENTRIES or _prefix_chars > _PREFIX_CHARS):
                _prefix_chars -= _prefixes.popitem(last=False)[1].total
    return state.g


_cache: OrderedDict[int, tuple[Request, Grounding]] = OrderedDict()
_lock = threading.Lock()
_CACHE_SIZE = 8


def grounding_for(request: Request) -> Grounding:
    """The grounding of a request, built once per request object."""
    key = id(request)
    with _lock:
        hit = _cache.get(key)
        if hit is not None and hit[0] is request:
            _cache.move_to_end(key)
            return hit[1]
    g = grounding_for_messages([(m.role, m.text) for m in request.conversation()])
    with _lock:
        _cache[key] = (request, g)
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return g
