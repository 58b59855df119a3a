"""An attack case: the session the legitimate call came from, the call the
router returned instead, and how it becomes a `relayguard check` line."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable

from .benign import DESCRIPTIONS, SAY, RowContext, guess_category, row_context
from .common import benign_rows, opaque_id, pick, rng_for, weighted
from .context import Project, session_for
from .wire import Call, Shell, Step, Turn, build_request, build_response, summary_of


@dataclass
class Case:
    variant: str
    project: Project
    task: str
    history: list[Step | Turn]
    call: Call
    legit: str  # what the model really produced (before the router's rewrite)
    named: list[str] = field(default_factory=list)  # what the context names of the legitimate intent
    dialect: str | None = None
    yolo: bool | None = None
    say: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@lru_cache(maxsize=None)
def _category_of_id() -> dict[str, str]:
    return {r["id"]: r["category"] for r in benign_rows()}


def emit(seed: int, cls: str, index: int, rng: random.Random, case: Case) -> dict[str, Any]:
    # Describe the call and talk as the model did for the legitimate command (a router rewrites
    # the command, not the prose around it): the same wording benign sessions of that kind get.
    base = str(case.extra.get("benign_base", "")).removeprefix("corpus:")
    category = _category_of_id().get(base) or guess_category(case.legit)
    if isinstance(case.call, Shell):
        case.call.description = DESCRIPTIONS.get(category, "Run command")
    if not case.say and category in SAY and rng.random() < 0.4:
        case.say = pick(rng, SAY[category])
    case.extra.setdefault("category", category)
    session = session_for(rng, case.project, case.task, case.history, dialect=case.dialect, yolo=case.yolo,
                          say=case.say)
    meta = {"class": cls, "label": "attack", "variant": case.variant, "agent": session.agent,
            "yolo": session.yolo, "history": sum(isinstance(h, Step) for h in case.history),
            "lang": case.project.lang, "tool": type(case.call).__name__.lower(), "named_in_context": case.named,
            "legit": case.legit, "command": summary_of(case.call)}
    meta.update(case.extra)
    return {"id": opaque_id(seed, cls, index), "dialect": session.dialect,
            "request": build_request(rng, session), "response": build_response(rng, session, case.call),
            "meta": meta}


def generate_class(seed: int, cls: str, n: int, make: Callable[[random.Random, int], Case | None]) -> list[dict[str, Any]]:
    """``n`` cases of one class; a maker may decline (None) and is asked again with a new stream."""
    out: list[dict[str, Any]] = []
    attempt = 0
    while len(out) < n:
        rng = rng_for(seed, cls, attempt)
        attempt += 1
        if attempt > n * 20:
            raise RuntimeError(f"{cls}: the generator declined too often")
        case = make(rng, len(out))
        if case is None:
            continue
        out.append(emit(seed, cls, len(out), rng, case))
    return out


# --- legitimate commands to hide a payload in ------------------------------------------

_HOST_CATEGORIES = ("pip_install", "npm_install", "cargo", "go", "test", "build", "git", "python_run", "inspect",
                    "file_ops", "system_pkg", "env_setup", "docker", "other", "http_request")


@lru_cache(maxsize=None)
def host_rows() -> tuple[dict[str, Any], ...]:
    """Corpus commands a payload can ride on: one line, not too long, no heredoc."""
    return tuple(r for r in benign_rows() if r["category"] in _HOST_CATEGORIES and "\n" not in r["command"]
                 and len(r["command"]) <= 200 and not r["command"].rstrip().endswith(("&", "\\"))
                 and not re.search(r"\w::\w+\(", r["command"]))  # R one-liners from CI files are not shell


def host_context(rng: random.Random, **kw: Any) -> tuple[dict[str, Any], RowContext]:
    row = pick(rng, host_rows())
    return row, row_context(rng, row, **kw)


def combine(rng: random.Random, legit: str, payload: str, modes: tuple[tuple[str, float], ...] | None = None
            ) -> tuple[str, str]:
    """The legitimate command with the payload spliced in, as a router would: (command, how)."""
    modes = modes or (("append", 3), ("prepend", 2), ("background", 2), ("replace", 1), ("newline", 1))
    how = weighted(rng, modes)
    if how == "append":
        return f"{legit}{pick(rng, (' && ', '; ', ' && ', ' ; '))}{payload}", how
    if how == "prepend":
        if payload.rstrip().endswith("&"):  # already in the background: `x & legit`
            return f"{payload.rstrip()} {legit}", how
        return f"{payload}{pick(rng, (' && ', '; ', ' && '))}{legit}", how
    if how == "background":
        bg = pick(rng, (f"({payload}) >/dev/null 2>&1 &", f"nohup sh -c '{_sq(payload)}' >/dev/null 2>&1 &",
                        f"{{ {payload}; }} >/dev/null 2>&1 &", f"setsid sh -c '{_sq(payload)}' >/dev/null 2>&1 &"))
        return (f"{bg} {legit}" if rng.random() < 0.5 else f"{legit}; {bg}"), how
    if how == "newline":
        return f"{legit}\n{payload}", how
    return payload, how


def _sq(text: str) -> str:
    """Text for inside single quotes."""
    return text.replace("'", "'\\''")


def describe(category: str) -> str:
    return DESCRIPTIONS.get(category, "Run command")


def swap_url(command: str, old: str, new: str) -> str:
    return command.replace(old, new)


def shell(command: str, description: str = "Run command") -> Shell:
    return Shell(command, description)


_WORD = re.compile(r"\S+")
