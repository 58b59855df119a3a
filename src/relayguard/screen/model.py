"""The one record every analysis produces: an :class:`Action` a tool call would take.

An action carries the rule that judges it, a phrase saying what it does (for the
finding: "downloads from evil.example and pipes it into bash"), and what decides
it: the URLs that must be trusted or grounded, the packages of an install, a
literal (an encoded payload, a key) that grounds it when the conversation holds
it verbatim, and whether grounding can excuse it at all.
"""

from __future__ import annotations

from dataclasses import dataclass

from relayguard.screen.installs import Install

__all__ = ["Action", "ScreenError", "clip", "quote"]


class ScreenError(ValueError):
    """A script or payload that cannot be analysed: the caller blocks (fail closed)."""


@dataclass(frozen=True, slots=True)
class Action:
    rule: str
    what: str
    urls: tuple[str, ...] = ()  # each must be local, trusted or grounded
    trust: str = "installer"  # which trust list judges the URLs: installer | index | owner
    install: Install | None = None  # rule "install": judged package by package
    literal: str | None = None  # grounded when the conversation contains it verbatim
    strict: bool = False  # grounding never excuses it (reverse shells, credential theft)
    why: str = ""  # an extra reason, appended to the message
    mild: bool = False  # only ever a warning (e.g. invisible characters in a message text)


def clip(text: str, limit: int = 48) -> str:
    """Command text for a message: one line, defanged (no clickable URL), short."""
    text = "".join(c if c.isprintable() else " " for c in text).replace("://", "[://]")
    return text if len(text) <= limit else text[:limit - 3] + "..."


def quote(text: str, limit: int = 48) -> str:
    return f"`{clip(text, limit)}`"
