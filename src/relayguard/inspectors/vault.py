"""The secret vault as pipeline stages (AC-2): no router ever sees a credential.

On the way out (``on_request``) every secret the detector finds anywhere in the
request (messages, tool results, system prompt, tool definitions) is replaced
by a placeholder such as ``RG_SECRET_GITHUB_PAT_1a2b3c4d``.  On the way back
(``on_tool_call``) placeholders in a complete tool call's arguments are
replaced by the real values, so the agent runs the command it meant to while
the router saw only placeholders.  Findings name the kind and placeholder,
never the value.
"""

from __future__ import annotations

from typing import Any

import orjson

from relayguard.exchange import Exchange, Finding, ToolCall
from relayguard.inspectors.base import Inspector
from relayguard.session import session_of
from relayguard.vault.detect import MAX_SCAN, PLACEHOLDER_RE, SecretDetector
from relayguard.vault.store import VaultStore

MIN_SCAN = 8  # no secret format is shorter
CLEAN_CACHE_CHARS = 64 * 1024 * 1024
FAST_PATH_BYTES = 8 * 1024  # larger bodies go string by string, past the clean cache


class Vault(Inspector):
    name = "vault"

    def __init__(self, store: VaultStore, detector: SecretDetector) -> None:
        self.store = store
        self.detector = detector
        self._clean: dict[str, None] = {}  # strings the detector found nothing in
        self._clean_chars = 0

    def on_request(self, exchange: Exchange) -> list[Finding]:
        request = exchange.request
        # Fast path for a small body: the whole of it, JSON escapes undone, through
        # the prefilter in one C-speed pass (~5 us/KB).  Most requests carry no
        # secret and stop here.  A long conversation skips it: it is mostly strings
        # found clean on earlier turns, and looking those up costs ~10x less than
        # prefiltering the whole body again every turn.
        view = _json_text_view(request.raw) \
            if request.raw and not request.body_changed and len(request.raw) <= FAST_PATH_BYTES else None
        if view is not None and len(view) <= MAX_SCAN and not self.detector.may_contain(view):
            return []
        # Conversation history and tool schemas are resent every turn: strings
        # already found clean are skipped, and the rest go through the detector's
        # prefilter in one pass; only a string that may hold a secret is scanned.
        fresh = [s for s in _strings(request.body) if s not in self._clean]
        if not fresh:
            return []
        joined = "\n".join(fresh)
        if len(joined) <= MAX_SCAN and not self.detector.may_contain(joined):
            self._remember(fresh)
            return []
        session = exchange.session or session_of(exchange)
        exchange.session = session
        findings: list[Finding] = []

        def seal(text: str) -> str:
            if text in self._clean:
                return text
            matches = self.detector.scan(text)
            if not matches:
                self._remember([text])
                return text
            out, last = [], 0
            for m in matches:
                placeholder = self.store.placeholder_for(session, m.kind, m.value)
                out += [text[last:m.start], placeholder]
                last = m.end
                findings.append(Finding("vault:sealed", "info",
                                        f"a {m.kind} was replaced by {placeholder} before leaving this machine"))
            out.append(text[last:])
            return "".join(out)

        body = _walk(request.body, seal)
        if findings:
            request.body = body
            request.body_changed = True
        return findings

    def _remember(self, clean: list[str]) -> None:
        size = sum(map(len, clean))
        if self._clean_chars + size > CLEAN_CACHE_CHARS:  # bounded: start afresh
            self._clean.clear()
            self._clean_chars = 0
        for text in clean:
            self._clean[text] = None
        self._clean_chars += size

    def on_tool_call(self, exchange: Exchange, call: ToolCall) -> list[Finding]:
        raw = call.new_raw_arguments if call.new_raw_arguments is not None else call.raw_arguments
        if "RG_SECRET_" not in raw:
            return []
        session = exchange.session or session_of(exchange)
        findings: list[Finding] = []

        def restore(match: Any) -> str:
            value = self.store.lookup(session, match.group(0))
            if value is None:
                findings.append(Finding("vault:unknown-placeholder", "warn",
                                        f"{match.group(0)} is not a secret of this session; left as it is",
                                        call.id))
                return match.group(0)
            findings.append(Finding("vault:restored", "info",
                                    f"{match.group(0)} was restored to the real {match.group(1).lower()} "
                                    "on this machine", call.id))
            # The placeholder sits inside a JSON string: the value must be escaped as one.
            return orjson.dumps(value).decode()[1:-1]

        restored = PLACEHOLDER_RE.sub(restore, raw)
        if restored != raw:
            call.new_raw_arguments = restored
            findings += _exfiltration(exchange, call, raw, restored)
        return findings


# Where a restored secret may legitimately be sent without the conversation
# naming the host: its own provider (the first word of the kind).
PROVIDER_HOSTS = {
    "github": ("github.com", "githubusercontent.com"), "gitlab": ("gitlab.com",),
    "openai": ("openai.com",), "anthropic": ("anthropic.com",), "aws": ("amazonaws.com",),
    "slack": ("slack.com",), "stripe": ("stripe.com",), "google": ("googleapis.com", "google.com"),
    "huggingface": ("huggingface.co",), "npm": ("npmjs.org", "npmjs.com"), "pypi": ("pypi.org",),
}


# Provider CLIs whose destination is their provider's API, not an argument.
PROGRAM_HOSTS = {"aws": "amazonaws.com", "gsutil": "googleapis.com", "gcloud": "googleapis.com",
                 "gh": "github.com", "glab": "gitlab.com", "stripe": "stripe.com"}


def _exfiltration(exchange: Exchange, call: ToolCall, raw: str, restored: str) -> list[Finding]:
    """A router that saw a placeholder can write a tool call that sends it to its
    own host; restoring would hand it the secret.  A call carrying a restored
    secret may only reach URLs the conversation names, local hosts, or the
    secret's own provider."""
    from relayguard.screen.grounding import _urls, grounding_for
    from relayguard.screen.sensitive import is_local_host
    from relayguard.screen.urls import split_url

    kinds = {m.group(1).lower().split("_")[0] for m in PLACEHOLDER_RE.finditer(raw)}
    allowed = tuple(h for k in kinds for h in PROVIDER_HOSTS.get(k, ()))
    try:
        value = orjson.loads(restored)
    except orjson.JSONDecodeError:
        return [Finding("vault:exfiltration", "block", "a restored secret went into arguments that are not "
                        "valid JSON; not releasing it", call.id)]
    grounding = None

    def refused(host: str) -> bool:
        nonlocal grounding
        if is_local_host(host) or any(host == h or host.endswith("." + h) for h in allowed):
            return False
        grounding = grounding or grounding_for(exchange.request)
        return host not in grounding.hosts

    for text in _strings_all(value):
        for url in _urls(text):
            host = (split_url(url).host or "").lower()
            if is_local_host(host) or any(host == h or host.endswith("." + h) for h in allowed):
                continue
            grounding = grounding or grounding_for(exchange.request)
            if not grounding.url(url):
                return [_exfiltration_finding(host or "an unreadable host", call)]
    # Not only URLs: nc, ssh, scp, rsync, socat, telnet, dig (a secret in a DNS name) ...
    for prog, host in _network_destinations(ToolCall(call.id, call.name, restored, value, call.kind)):
        if host is None:
            return [Finding("vault:exfiltration", "block", f"the call would run `{prog}` with a restored secret "
                            "and a destination that cannot be read before it runs; not releasing it", call.id)]
        if refused(host):
            return [_exfiltration_finding(host, call, prog)]
    return []


def _exfiltration_finding(host: str, call: ToolCall, prog: str | None = None) -> Finding:
    via = f" with `{prog}`" if prog else ""
    return Finding("vault:exfiltration", "block",
                   f"the call would send a restored secret to {host}{via}, which the conversation never "
                   "names and which is not the secret's provider", call.id)


def _network_destinations(call: ToolCall) -> list[tuple[str, str | None]]:
    """(program, host or None when unknown) of every network command the call runs."""
    from relayguard import shell
    from relayguard.screen.extract import ExtractError, extract
    from relayguard.screen.network import NETWORK_SENDERS, destinations
    from relayguard.screen.urls import split_url

    try:
        scripts = extract(call).scripts
    except ExtractError:
        return [(call.name or "the tool", None)]
    out: list[tuple[str, str | None]] = []
    for script in scripts:
        try:
            commands = shell.parse(script)
        except shell.ShellParseError:
            return [("a shell script", None)]
        for cmd in commands:
            urls, unknown = destinations(cmd)
            if unknown and cmd.program in PROGRAM_HOSTS:  # a provider's own CLI talks to its provider
                out.append((cmd.program, PROGRAM_HOSTS[cmd.program]))
            elif unknown and (urls or cmd.program in NETWORK_SENDERS):
                out.append((cmd.program, None))
            for url in urls:
                host = split_url(url).host
                out.append((cmd.program, host.lower() if host else None))
    return out


def _strings_all(value: Any) -> list[str]:
    out: list[str] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return out


def _json_text_view(raw: bytes) -> bytes | None:
    """The bytes of a JSON document with its string escapes undone, so every
    string's content appears as it decodes (plus the JSON punctuation around it,
    which can only add prefilter hits).  None when it cannot be built."""
    if b"\\" not in raw:
        return raw
    try:
        return raw.replace(b"\\/", b"/").decode("unicode_escape").encode("ascii", "replace")
    except (UnicodeDecodeError, ValueError):
        return None


def _scannable(text: str) -> bool:
    return len(text) >= MIN_SCAN and not text.startswith("data:image/")


def _skip(key: str, parent: dict[str, Any]) -> bool:
    return key == "data" and "media_type" in parent  # base64 image or document


def _strings(value: Any) -> list[str]:
    """Every string of a JSON value the vault scans (in no particular order)."""
    out: list[str] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _scannable(item):
                out.append(item)
        elif isinstance(item, dict):
            stack.extend(v for k, v in item.items() if not _skip(k, item))
        elif isinstance(item, list):
            stack.extend(item)
    return out


def _walk(value: Any, seal: Any) -> Any:
    """A copy of a JSON value with every string passed through ``seal``;
    unchanged sub-trees are returned as they are (no copy when nothing changed)."""
    if isinstance(value, str):
        return seal(value) if _scannable(value) else value
    if isinstance(value, dict):
        out = None
        for key, item in value.items():
            if _skip(key, value):
                continue
            new = _walk(item, seal)
            if new is not item:
                if out is None:
                    out = dict(value)
                out[key] = new
        return value if out is None else out
    if isinstance(value, list):
        new_items = [_walk(item, seal) for item in value]
        return value if all(a is b for a, b in zip(new_items, value)) else new_items
    return value
