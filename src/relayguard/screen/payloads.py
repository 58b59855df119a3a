"""Small readers the action walk uses: invisible characters in a script, decoder
commands and their payloads (base64, hex, rot13, reversed), what echo/printf
print, and URLs whose tail is only known at run time."""

from __future__ import annotations

from relayguard import shell
from relayguard.inspectors.gate_downloads import DOWNLOADERS
from relayguard.screen.flow import NETWORK_SENDERS
from relayguard.screen.model import Action, quote
from relayguard.screen.normalise import decode_base64, decode_hex, rot13, strip_invisible

__all__ = ["ECHOES", "decode", "decoder", "echo_text", "hidden", "partial_url"]

_SENSITIVE_WORDS = frozenset(DOWNLOADERS | NETWORK_SENDERS | shell.SHELLS | {
    "python", "python3", "perl", "ruby", "node", "php", "pip", "pip3", "npm", "npx", "yarn", "pnpm",
    "uv", "uvx", "cargo", "go", "gem", "eval", "exec", "source", "sudo", "chmod", "crontab", "base64"})


def hidden(original: str, count: int) -> list[Action]:
    """Invisible characters: in a command name, URL or package they hide what runs."""
    for token in original.split():
        clean, n = strip_invisible(token)
        if n and (clean.lower() in _SENSITIVE_WORDS or "://" in clean or "." in clean or "/" in clean):
            return [Action("hidden-characters", f"hides {n} invisible character(s) inside "
                                                f"{quote(clean, 40)}, which reads differently from "
                                                "what runs")]
    return [Action("hidden-characters", f"contains {count} invisible character(s) (zero-width or "
                                        "bidirectional controls)", mild=True)]


# decoders: program -> how to tell it decodes, and the payload kind
def decoder(c: shell.Command) -> str | None:
    prog = c.program
    args = c.argv[1:]
    if prog in ("base64", "base32", "basenc", "gbase64") and any(
            a in ("-d", "--decode", "-D") or (a.startswith("-") and not a.startswith("--") and "d" in a)
            for a in args):
        return "base64"
    if prog == "openssl" and ("base64" in args or "-base64" in args or "-a" in args) and "-d" in args:
        return "base64"
    if prog == "xxd" and any(a.startswith("-r") or a == "-revert" for a in args):
        return "hex"
    if prog == "uudecode":
        return "uuencoded"
    if prog == "tr" and len(args) >= 2 and any("n-z" in a.lower() or "n-za-m" in a.lower() for a in args):
        return "rot13"
    if prog == "rev":
        return "reversed"
    return None


def decode(kind: str, text: str) -> str | None:
    if kind == "base64":
        return decode_base64(text)
    if kind == "hex":
        return decode_hex(text)
    if kind == "rot13":
        return rot13(text)
    if kind == "reversed":
        return text.strip()[::-1]
    return None


ECHOES = frozenset({"echo", "printf"})


def partial_url(text: str) -> str | None:
    """``https://host/path-$ARCH.tgz`` -> the URL up to the first expansion, when the
    scheme and host are literal (trust then only by host: the path is not known)."""
    cut = min((k for k in (text.find("$"), text.find("`")) if k >= 0), default=-1)
    head = text[:cut] if cut >= 0 else text
    if "://" not in head:
        return None
    rest = head.split("://", 1)[1]
    if "/" not in rest:
        return None
    return head + "$"


def echo_text(c: shell.Command, partial: bool = False) -> str | None:
    """What echo/printf prints; with ``partial``, unresolved words are kept as written
    (``$(lsb_release -cs)``), which is enough to see hosts and commands."""
    if c.program not in ECHOES or len(c.argv) < 2:
        return None
    if not partial and any(k in c.unresolved for k in range(1, len(c.argv))):
        return None
    args = list(c.argv[1:])
    if c.program == "echo":
        while args and args[0] in ("-n", "-e", "-E", "-ne", "-en"):
            args.pop(0)
        return shell.decode_ansi_c(" ".join(args)) if "\\" in " ".join(args) else " ".join(args)
    return shell.decode_ansi_c("\n".join(args))
