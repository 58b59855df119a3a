"""The screening inspector: understand what a tool call will do, and block what the
conversation did not ask for.

For each tool call: ``screen.extract`` finds the scripts and file writes,
``screen.actions`` / ``screen.persist`` turn them into actions, and each action
is decided here against the policy (``screen.policy``) and the conversation
(``screen.grounding``):

* high-risk actions (download-and-run, installs from git/URL/archives, index
  and registry overrides, package-manager configuration, encoded payloads that
  run, persistence of risky content, opaque commands whose output runs) are
  blocked unless every URL they depend on is local, trusted by the policy, or
  grounded (named by the conversation, by owner and repository on code hosts);
  payloads without URLs are blocked unless the conversation holds them verbatim;
* reverse shells and credential theft are blocked even when "grounded": only
  the policy (``[rules]``) can relax them;
* installs: a name the typosquat check flags is blocked unless the conversation
  names that exact name; an unpopular, unnamed name one typo away from a name the
  conversation uses is blocked too; npm aliases that hide an unknown package
  are blocked; any other install is allowed (most installs are of things the
  model knows);
* fail closed: unreadable arguments of a shell-like tool, and scripts that
  cannot be analysed, are blocked.

Each finding names its rule and says, in a sentence, what the call does and why
it is blocked; it names hosts and packages but never repeats a full URL.
Decisions that only depend on the script are cached per script text (a bounded
LRU); the grounding is built once per request, and only when a decision needs it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Callable

from relayguard.exchange import Exchange, Finding, ToolCall
from relayguard.inspectors.base import Inspector
from relayguard.screen import typosquat
from relayguard.screen.actions import analyse_script
from relayguard.screen.extract import ExtractError, extract
from relayguard.screen.grounding import Grounding, grounding_for
from relayguard.screen.lookalike import go_owner_confusion, near_popular
from relayguard.screen.model import Action, ScreenError, quote
from relayguard.screen.persist import write_actions
from relayguard.screen.policy import ScreenPolicy
from relayguard.screen.sensitive import is_local_host
from relayguard.screen.urls import display, split_url

__all__ = ["Screening"]

_MAX_FINDINGS = 8
_CACHE_SIZE = 4096
_MAX_CACHED = 8 * 1024  # scripts longer than this are screened every time
_ECO_NAMES = {"pypi": "PyPI", "npm": "npm", "crates": "crates.io", "go": "Go", "gem": "RubyGems",
              "conda": "conda"}
_KIND_WORDS = {
    "transposition": "letters swapped", "edit": "a letter changed, added or dropped",
    "separator": "a separator changed", "homoglyph": "lookalike characters",
    "affix": "a prefix or suffix added or removed", "scope": "npm scope confusion",
    "combo": "the popular name plus an extra word",
}
_WHY = {
    "download-exec": "the source of what runs cannot be checked",
    "encoded-exec": "what the payload does is hidden from review, and the conversation never shows it",
    "opaque-exec": "what runs cannot be determined before it runs",
    "persistence": "it would keep running after this session",
    "pm-config": "later installs would come from a source nobody chose",
    "index-override": "packages would come from an index nobody chose",
    "unparseable-command": "blocked because it cannot be checked reliably",
    "hidden-characters": "what runs differs from what a reviewer reads",
    "homoglyph": "it imitates a trusted name",
    "credential-read": "the contents go back to the model through the router",
    "reverse-shell": "it would give a remote host control of this machine",
    "exfiltration": "it would send secrets off this machine",
}


def _screen(text: str, depth: int):  # noqa: ANN202 - the persist.Screen callback
    return analyse_script(text, depth)


class Screening(Inspector):
    name = "screening"

    def __init__(self, policy: ScreenPolicy | None = None) -> None:
        self.policy = policy if policy is not None else ScreenPolicy.default()
        self._cache: OrderedDict[str, tuple[Action, ...]] = OrderedDict()
        self._lock = threading.Lock()  # the guard screens from several threads

    # -- the hook ---------------------------------------------------------------------------
    def on_tool_call(self, exchange: Exchange, call: ToolCall) -> list[Finding]:
        try:
            found = extract(call)
        except ExtractError as exc:
            return self._emit([("unparseable-arguments", "block", str(exc))], call)
        actions: list[Action] = []
        for script in found.scripts:
            actions += self.script_actions(script)
        for w in found.writes:
            actions += self.write_actions(w.path, w.content, w.append)
        if not actions:
            return []
        lazy = _Lazy(lambda: grounding_for(exchange.request))
        results: list[tuple[str, str, str]] = []
        for action in dict.fromkeys(actions):
            results += self.decide(action, lazy)
        return self._emit(results, call)

    def _emit(self, results: list[tuple[str, str, str]], call: ToolCall) -> list[Finding]:
        out: list[Finding] = []
        for rule, severity, message in dict.fromkeys(results):
            if len(out) < _MAX_FINDINGS:
                out.append(Finding(rule, severity, message, call.id))  # type: ignore[arg-type]
        return out

    # -- analysis (cached: depends only on the text) ----------------------------------------
    def script_actions(self, script: str) -> tuple[Action, ...]:
        with self._lock:
            hit = self._cache.get(script)
            if hit is not None:
                self._cache.move_to_end(script)
                return hit
        try:
            result = tuple(analyse_script(script)[0])
        except ScreenError as exc:
            result = (Action("unparseable-command", f"runs a command that cannot be analysed ({exc})"),)
        if len(script) <= _MAX_CACHED:
            with self._lock:  # a bounded LRU: the least recently screened script goes first
                self._cache[script] = result
                while len(self._cache) > _CACHE_SIZE:
                    self._cache.popitem(last=False)
        return result

    def write_actions(self, path: str, content: str | None, append: bool) -> list[Action]:
        try:
            return write_actions(path, content, append, _screen, 0)
        except ScreenError as exc:
            return [Action("unparseable-command", f"writes {path}, which cannot be analysed ({exc})")]

    # -- decisions --------------------------------------------------------------------------
    def _severity(self, rule: str, mild: bool = False) -> str | None:
        setting = self.policy.action(rule)
        if setting == "allow":
            return None
        return "warn" if (mild or setting == "warn") else "block"

    def _trusted(self, url: str, trust: str) -> bool:
        p = self.policy
        if trust == "none":
            return False
        if trust == "index":
            return p.trusted_index(url)
        if trust == "owner":
            return p.trusted_owner(url) or p.trusted_index(url) or p.trusted_installer(url)
        return p.trusted_installer(url)

    def decide(self, action: Action, lazy: _Lazy) -> list[tuple[str, str, str]]:
        if action.rule == "install":
            return self.decide_install(action, lazy)
        out: list[tuple[str, str, str]] = []
        for url in action.urls:
            u = split_url(url)
            if u.host is not None and not u.ascii_host and (sev := self._severity("homoglyph")):
                out.append(("homoglyph", sev, f"{action.what}: the host {u.raw_host} is written with "
                                              f"non-ASCII characters (it is really {u.host}); blocked "
                                              "because it imitates another host"))
        severity = self._severity(action.rule, action.mild)
        if severity is None:
            return out
        why = action.why or _WHY.get(action.rule, "")
        if action.strict:
            return out + [(action.rule, severity, f"{action.what}; {why}")]
        if action.urls:
            open_ = [u for u in action.urls if not self._trusted(u, action.trust)
                     and (_channel(u, action.trust) or not is_local_host(split_url(u).host))]
            if not open_:
                return out
            g = lazy.get()
            ungrounded = [u for u in open_ if not (g.tokens.__contains__(u.lower()) if _channel(u, action.trust)
                                                   else g.url(u))]
            if not ungrounded:
                return out
            names = ", ".join(dict.fromkeys(display(u) for u in ungrounded[:3]))
            if action.trust == "none":
                return out + [(action.rule, severity, f"{action.what}; the conversation never names {names}")]
            trust = {"index": "trusted package index", "owner": "trusted source",
                     "installer": "trusted installer"}[action.trust]
            return out + [(action.rule, severity,
                           f"{action.what}; {names} is neither a {trust} in {self.policy.source} "
                           "nor named in the conversation")]
        if action.literal and lazy.get().literal(action.literal):
            return out
        return out + [(action.rule, severity, f"{action.what}; {why}" if why else action.what)]

    def decide_install(self, action: Action, lazy: _Lazy) -> list[tuple[str, str, str]]:
        inst = action.install
        if inst is None:
            return []
        out: list[tuple[str, str, str]] = []
        eco = inst.ecosystem
        label = _ECO_NAMES.get(eco, eco)
        for pkg in inst.packages[:64]:
            name = pkg.name
            if not name:
                continue
            if self.policy.package_denied(eco, name) and (sev := self._severity("denied-package")):
                out.append(("denied-package", sev, f"installs {quote(name)} ({label}), which "
                                                   f"{self.policy.source} denies"))
                continue
            if self.policy.package_allowed(eco, name):
                continue
            if pkg.alias and pkg.alias.lower() != name.lower():
                if not typosquat.popular(eco, name) and not lazy.get().package(eco, name) \
                        and (sev := self._severity("package-alias")):
                    out.append(("package-alias", sev, f"installs {quote(name)} under the name "
                                                      f"{quote(pkg.alias)} (an npm alias); {quote(name)} is "
                                                      "neither a popular package nor named in the conversation"))
                    continue
            if not name.isascii() and (sev := self._severity("homoglyph")):
                out.append(("homoglyph", sev, f"installs {quote(name)} ({label}), a name written with "
                                              "non-ASCII lookalike characters"))
                continue
            check_eco = "pypi" if eco == "conda" else eco
            squat = typosquat.check(check_eco, name) if check_eco in typosquat.ECOSYSTEMS \
                and not (eco == "conda" and _conda_native(name)) else None
            if squat is None and eco == "go" and not typosquat.popular(eco, name):
                target = go_owner_confusion(name, lazy.get().tokens) if not lazy.get().package(eco, name) else None
                if target is not None and (sev := self._severity("typosquat")):
                    out.append(("typosquat", sev, f"installs {quote(name)}, which copies the repository name of "
                                                  f"the Go module {quote(target)} under another owner; the "
                                                  f"conversation never mentions {quote(name)}"))
                    continue
            if squat is not None:
                if lazy.get().package(eco, name):
                    continue
                if sev := self._severity("typosquat"):
                    kind = _KIND_WORDS.get(squat.kind, squat.kind)
                    out.append(("typosquat", sev, f"installs {quote(name)}, which looks like the popular "
                                                  f"{label} package {quote(squat.target)} ({kind}); the "
                                                  f"conversation never mentions {quote(name)}"))
                continue
            if check_eco in typosquat.ECOSYSTEMS and typosquat.popular(check_eco, name):
                if eco != "go" or name.count("/") < 3:
                    continue
                # a package inside a popular Go module: only a typo of a named path is suspect
                near = lazy.get().near_package(eco, name, True) if not lazy.get().package(eco, name) else None
                if near is not None and (sev := self._severity("typosquat")):
                    out.append(("typosquat", sev, f"installs {quote(name)}, a lookalike of {quote(near)}, which "
                                                  f"the conversation names; {quote(name)} itself is never "
                                                  "mentioned"))
                continue
            g = lazy.get()
            if g.package(eco, name):
                continue
            near = g.near_package(eco, name)
            if near is not None and (sev := self._severity("typosquat")):
                out.append(("typosquat", sev, f"installs {quote(name)}, a lookalike of {quote(near)}, which "
                                              f"the conversation names; {quote(name)} itself is never "
                                              "mentioned"))
                continue
            dressed = near_popular(check_eco, name)
            if dressed is not None and (sev := self._severity("typosquat")):
                out.append(("typosquat", sev, f"installs {quote(name)}, which looks like the popular {label} "
                                              f"package {quote(dressed[0])} ({dressed[1]}); the conversation "
                                              f"never mentions {quote(name)}"))
        return out


def _channel(value: str, trust: str) -> bool:
    """A conda channel name (``-c bioconda``), not a host."""
    return trust == "index" and "://" not in value and "." not in value and "/" not in value


_CONDA_NATIVE = frozenset("""
python openssl cudatoolkit cuda-toolkit cudnn nccl nodejs openjdk gcc gxx gfortran cmake make ninja git
curl zlib bzip2 xz ffmpeg blas openblas mkl ca-certificates compilers cxx-compiler c-compiler
pytorch-cuda pytorch-mutex cpuonly mamba conda conda-build anaconda-client pkg-config
""".split())


def _conda_native(name: str) -> bool:
    """Names conda distributes that are not PyPI packages (so not PyPI typosquats)."""
    n = name.lower()
    return n in _CONDA_NATIVE or n.startswith(("lib", "r-", "cuda-", "conda-", "mkl", "gxx_", "gcc_"))


class _Lazy:
    """The request's grounding, built on first use."""

    __slots__ = ("_make", "_value")

    def __init__(self, make: Callable[[], Grounding]) -> None:
        self._make = make
        self._value: Grounding | None = None

    def get(self) -> Grounding:
        if self._value is None:
            self._value = self._make()
        return self._value
