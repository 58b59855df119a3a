"""URLs as the screen sees them: host, owner on shared hosts, and how to name one.

On a host that serves anybody's files (GitHub, GitLab, raw.githubusercontent.com,
gist, a storage bucket, a CDN that mirrors repositories) trust and grounding
are by *owner* (and repository), not by host: ``owner_key`` gives that key,
e.g. ``github.com/astral-sh/uv`` for any URL under that repository, with
``raw.githubusercontent.com/o/r/...`` and ``github.com/o/r/...`` sharing the key
``github.com/o/r``.  Messages name a URL by this key (or its host), never by the
full URL: a block note must not hand the agent an attacker's link to run.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from relayguard.inspectors.gate_policy import parse_url
from relayguard.screen.sensitive import numeric_ip

__all__ = ["Url", "code_host_key", "display", "owner_key", "split_url"]

# host -> path segments that name the owner (and repository); None: owner is a subdomain
_SHARED: dict[str, int] = {
    "github.com": 2, "www.github.com": 2, "raw.githubusercontent.com": 2, "gitlab.com": 2,
    "bitbucket.org": 2, "codeberg.org": 2, "gitee.com": 2, "sr.ht": 2, "git.sr.ht": 2,
    "gist.github.com": 1, "gist.githubusercontent.com": 1, "huggingface.co": 2,
    "storage.googleapis.com": 1, "s3.amazonaws.com": 1, "sourceforge.net": 2,
    "pastebin.com": 2, "paste.ee": 2, "hastebin.com": 2, "ghostbin.com": 2, "dpaste.com": 1,
    "transfer.sh": 2, "0x0.st": 1, "file.io": 1, "temp.sh": 2, "bashupload.com": 1,
    "unpkg.com": 1, "registry.npmjs.org": 1, "files.pythonhosted.org": 4, "pypi.org": 2,
    "objects.githubusercontent.com": 3, "codeload.github.com": 2, "api.github.com": 3,
    "dropbox.com": 2, "www.dropbox.com": 2, "dl.dropboxusercontent.com": 2,
    "drive.google.com": 3, "docs.google.com": 3, "1drv.ms": 2, "mega.nz": 2,
    "cdn.jsdelivr.net": 3, "fastly.jsdelivr.net": 3, "raw.githack.com": 2, "rawcdn.githack.com": 2,
    "bitbucket.io": 1, "gitlab.io": 1,
}
# GitHub's ways of serving one repository -> github.com/owner/repo
_GITHUB_ALIASES = ("raw.githubusercontent.com", "codeload.github.com", "www.github.com")


@dataclass(frozen=True, slots=True)
class Url:
    text: str
    scheme: str
    host: str | None
    path: str
    path_ok: bool
    ascii_host: bool  # False: the host as written has non-ASCII characters (IDN / homoglyph)
    raw_host: str


def _raw_host(text: str) -> str:
    rest = text.split("://", 1)[1] if "://" in text else text
    host = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    host = host.rsplit("@", 1)[-1]
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.split(":", 1)[0]


@lru_cache(maxsize=4096)
def split_url(text: str, default_scheme: str = "http") -> Url:
    t = text.strip()
    for prefix in ("git+", "sparse+", "registry+", "hg+", "svn+", "bzr+"):
        if t.startswith(prefix):
            t = t[len(prefix):]
    if t.startswith("git@") and ":" in t:  # git@github.com:owner/repo.git
        t = "ssh://" + t[4:].replace(":", "/", 1)
    u = parse_url(t, default_scheme)
    raw = _raw_host(t)
    return Url(text, u.scheme, u.host, u.path, u.path_ok, raw.isascii(), raw)


def _segments(path: str) -> list[str]:
    return [p for p in path.split("/") if p]


@lru_cache(maxsize=4096)
def owner_key(text: str) -> str | None:
    """``host/owner[/repo]`` for URLs on shared hosts, ``host`` otherwise; None when
    the URL has no valid host."""
    u = split_url(text)
    if u.host is None:
        return None
    host = u.host
    if host in _GITHUB_ALIASES:
        host = "github.com"
    depth = _SHARED.get(u.host)
    if depth is None:
        return host
    segs = _segments(u.path)
    if u.host == "cdn.jsdelivr.net" and segs[:1] == ["npm"]:
        depth = 2
    if len(segs) < depth or not u.path_ok:
        return f"{host}/" + "/".join(segs[:depth]) if segs and u.path_ok else host + "/?"
    key_segs = segs[:depth]
    if depth == 2 and key_segs[1].endswith(".git"):
        key_segs[1] = key_segs[1][:-4]
    return f"{host}/" + "/".join(key_segs)


def code_host_key(text: str) -> str | None:
    """The owner key when the URL is on a shared host, else None."""
    u = split_url(text)
    if u.host is None or u.host not in _SHARED:
        return None
    return owner_key(text)


def display(text: str) -> str:
    """How a message names a URL: its owner key or host, defanged."""
    u = split_url(text)
    if u.host is None:
        shown = "".join(c if c.isprintable() and c not in "\n\r" else " " for c in text)[:40]
        return f"`{shown.replace('://', '[://]')}`"
    key = owner_key(text) or u.host
    if not u.ascii_host:
        return f"{u.raw_host} ({u.host})"
    ip = numeric_ip(u.host) if u.host[:1].isdigit() else None
    if ip is not None and str(ip) != u.host:
        return f"{u.host} (the address {ip})"
    if u.host in _SHARED and key and not key.endswith("?"):
        return key + "/..."
    return key
