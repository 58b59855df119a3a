"""Scripts -> the actions they would take.

:func:`analyse_script` normalises a script (``normalise``), parses it with
``relayguard.shell`` (the original and each variant), and walks the commands:

* installs (``installs``): registry packages, sources (git, URL, archive) and
  index options; requirement files the script writes;
* downloads, decoders (``base64 -d``, ``xxd -r``, rot13 ``tr``), commands whose
  name cannot be resolved, and secret reads are *sources*; ``flow`` says where
  their output goes: run (download-exec, encoded-exec, opaque-exec) or sent over
  the network (exfiltration);
* credential files sent directly (``curl -d @~/.aws/credentials``, ``scp``),
  secret variables sent to other hosts, reverse shells (``network``);
* code given to interpreters, decoded payloads and shell strings inside that
  code, screened recursively (``inline``), with a depth bound;
* file writes (redirects, ``tee``, heredocs, ``curl -o``) and configuration
  commands (``persist``).

The result depends only on the script, so callers may cache it.  A script that
cannot be analysed raises :class:`ScreenError`.
"""

from __future__ import annotations

from relayguard import shell
from relayguard.inspectors.gate_downloads import DOWNLOADERS, download_targets
from relayguard.inspectors.policy_gate import _crude_download_exec
from relayguard.screen import inline
from relayguard.screen.extract import parse_patch
from relayguard.screen.files import output_files
from relayguard.screen.flow import NETWORK_SENDERS, Flow
from relayguard.screen.installs import parse_install, requirement_lines, Install
from relayguard.screen.model import Action, ScreenError, quote
from relayguard.screen.network import all_local, destinations, reverse_shell, secret_source, uploads
from relayguard.screen.normalise import decode_base64, has_homoglyph, shell_variants, skeleton, strip_invisible
from relayguard.screen.payloads import ECHOES, decode, decoder, echo_text, hidden, partial_url
from relayguard.screen.persist import (config_commands, cron_lines, env_overrides, judge_content,
                                       write_actions)
from relayguard.screen.sensitive import SECRET_PROVIDERS, credential_path, is_local_host, secret_var_refs
from relayguard.screen.urls import display, split_url

__all__ = ["analyse_script", "code_actions", "MAX_DEPTH"]

MAX_DEPTH = 4  # payloads inside payloads
_MAX_ACTIONS = 64
_CODE_LANGS = frozenset({"python", "node", "perl", "ruby", "php", "powershell"})
def analyse_script(script: str, depth: int = 0) -> tuple[list[Action], tuple[shell.Command, ...]]:
    """(actions, commands of the script as written).  Raises ScreenError."""
    if depth > MAX_DEPTH:
        raise ScreenError(f"payloads nested more than {MAX_DEPTH} levels deep")
    text, n_hidden = strip_invisible(script)
    actions: list[Action] = hidden(script, n_hidden) if n_hidden else []
    first: tuple[shell.Command, ...] = ()
    for n, variant in enumerate([text] + shell_variants(text)):
        try:
            parsed = shell.parse_script(variant)
        except shell.ShellParseError as exc:
            raise ScreenError(str(exc)) from None
        if n == 0:
            first = parsed.commands
        found = _Script(parsed.commands, depth).run()
        if parsed.has_error and not found:
            risky = _crude_download_exec(variant)
            if risky:
                found.append(Action("unparseable-command", f"has a shell syntax error and mentions "
                                                           f"{risky[0]} and {risky[1]}"))
        actions += found
    actions += env_overrides(text)
    return list(dict.fromkeys(actions))[:_MAX_ACTIONS], first


def _screen(text: str, depth: int) -> tuple[list[Action], tuple[shell.Command, ...]]:
    return analyse_script(text, depth)


def code_actions(code: str, lang: str, depth: int, how: str = "runs",
                 running: bool = True) -> tuple[list[Action], list[str]]:
    """(actions, URLs it fetches without running) for interpreter code; ``running``
    False for code that is only written (then fetching plus starting processes is
    ordinary program code; fetching plus exec/eval is not)."""
    if depth > MAX_DEPTH:
        raise ScreenError(f"payloads nested more than {MAX_DEPTH} levels deep")
    f = inline.analyse(code)
    out: list[Action] = []
    remote = [u for u in f.urls if split_url(u).host is not None and not is_local_host(split_url(u).host)]
    shown = ", ".join(dict.fromkeys(display(u) for u in remote[:3]))
    if f.reverse_shell:
        out.append(Action("reverse-shell", f"{how} {lang} code that connects a shell to a remote host",
                          strict=True))
    if f.fetches and f.code_exec and not remote and not f.urls:
        out.append(Action("download-exec", f"{how} {lang} code that downloads from a URL that cannot be "
                                           "determined and executes code"))
    elif f.fetches and (f.code_exec or f.proc_exec and running) and remote:
        out.append(Action("download-exec", f"{how} {lang} code that downloads from {shown} and runs "
                                           "code or commands", urls=tuple(remote)))
    if f.decodes and (f.code_exec or f.proc_exec and f.decoded):
        out.append(Action("encoded-exec", f"{how} {lang} code that decodes a payload and executes it"))
    if (f.credentials or f.env_dump) and (f.sends or f.fetches) and (remote or not f.urls):
        what = f.credentials[0] if f.credentials else "the environment variables"
        out.append(Action("exfiltration", f"{how} {lang} code that reads {what} and sends data to "
                                          f"{shown or 'the network'}", urls=tuple(remote), strict=True))
    for s in f.shell_strings + f.decoded:
        try:
            nested, _ = analyse_script(s, depth + 1)
        except ScreenError:
            continue
        out += nested
    for d in f.decoded:
        out += code_actions(d, lang, depth + 1, how)[0]
    fetched = remote if f.fetches and not f.code_exec else []
    return out, fetched


class _Script:
    def __init__(self, cmds: tuple[shell.Command, ...], depth: int) -> None:
        self.cmds = cmds
        self.depth = depth
        self.out: list[Action] = []
        self.sources: dict[int, tuple[str, str, tuple[str, ...], str | None]] = {}
        self.written: dict[str, str | None] = {}
        self.outputs: dict[int, list[str]] = {}
        self.remotes: dict[str, str] = {}

    def add(self, action: Action) -> None:
        if len(self.out) < _MAX_ACTIONS:
            self.out.append(action)

    # -- inputs ----------------------------------------------------------------------------
    def literal_input(self, i: int, partial: bool = False) -> str | None:
        """Text fed to command i: a heredoc, a here-string, or earlier echo/printf stages."""
        c = self.cmds[i]
        if c.stdin_text is not None:
            return c.stdin_text[1]
        texts = []
        for d in self.cmds:
            if d.pipeline == c.pipeline and d.stage < c.stage and d.argv:
                t = echo_text(d, partial)
                if t is not None:
                    texts.append(t)
                elif d.program == "cat" and d.stdin_text is not None:
                    texts.append(d.stdin_text[1])
        for target, op in zip(c.redirects, c.redirect_ops):
            if op == "<" and self.written.get(target):
                texts.append(self.written[target] or "")
        return "\n".join(texts) if texts else None

    # -- the walk ----------------------------------------------------------------------------
    def run(self) -> list[Action]:
        for i, c in enumerate(self.cmds):
            if c.argv:
                self.command(i, c)
        self.sinks()
        return self.out

    def command(self, i: int, c: shell.Command) -> None:
        prog = c.program
        if 0 in c.unresolved:
            self.sources[i] = ("opaque", f"`{c.argv[0][:40]}`", (), None)
            return
        if not c.argv[0].isascii() and has_homoglyph(prog):
            self.add(Action("homoglyph", f"runs {quote(c.argv[0])}, whose name imitates "
                                         f"{quote(skeleton(prog))} with lookalike characters"))
        if prog in DOWNLOADERS:
            urls, unknown = download_targets(c)
            label = secret_source(c)
            if label:
                self.sources[i] = ("secret", label, (), None)
            else:
                self.sources[i] = ("download", "", tuple(urls), unknown[0] if unknown else None)
        kind = decoder(c)
        if kind:
            payload = self.literal_input(i)
            self.sources[i] = ("decode", kind, (), payload)
            decoded = decode(kind, payload) if payload else None
            if decoded:
                self.nested(decoded)
        label = secret_source(c) if prog not in DOWNLOADERS else None
        if label:
            self.sources.setdefault(i, ("secret", label, (), None))
            if credential_path(label):
                self.add(Action("credential-read", f"reads {label}"))
        self.installs(c)
        self.network(i, c)
        for a in config_commands(c, _screen, self.depth):
            self.add(a)
        self.code(i, c)
        self.writes(i, c)

    def nested(self, text: str) -> None:
        try:
            nested, _ = analyse_script(text, self.depth + 1)
        except ScreenError as exc:
            self.add(Action("unparseable-command", f"carries a payload that cannot be analysed ({exc})"))
            return
        for a in nested:
            self.add(a)

    def installs(self, c: shell.Command) -> None:
        if c.program == "go" and c.argv[1:3] == ("mod", "edit"):
            self.go_replace(c)
        inst = parse_install(c.argv)
        if inst is None:
            return
        where = f"with {inst.manager}"
        registry = tuple(p for p in inst.packages if p.source == "registry")
        if registry:
            self.add(Action("install", f"installs {where}", install=Install(
                inst.manager, inst.ecosystem, registry, (), (), inst.runs)))
        for p in inst.packages:
            if p.source in ("vcs", "url") and p.url:
                verb = "runs" if inst.runs else "installs"
                self.add(Action("install-source", f"{verb} a package from {display(p.url)} {where}",
                                urls=(p.url,), trust="owner"))
        for opt, value in inst.indexes:
            what = (f"installs from the conda channel {quote(value)}" if inst.ecosystem == "conda" and
                    "://" not in value and "." not in value else
                    f"points {inst.manager} at the package index {display(value)} ({opt})")
            self.add(Action("index-override", what, urls=(value,), trust="index"))
        for f in inst.requirement_files:
            content = self.written.get(f)
            if content:
                pkgs = requirement_lines(content)
                self.add(Action("install", f"installs {where} from {f}",
                                install=Install(inst.manager, "pypi", tuple(p for p in pkgs if p.name))))

    def go_replace(self, c: shell.Command) -> None:
        """``go mod edit -replace A=B``: the build takes B's code wherever it imports A."""
        args = list(c.argv[3:])
        for k, a in enumerate(args):
            value = a.split("=", 1)[1] if a.startswith("-replace=") else (
                args[k + 1] if a == "-replace" and k + 1 < len(args) else None)
            if value is None or "=" not in value:
                continue
            old, new = (v.split("@", 1)[0].strip() for v in value.split("=", 1))
            if new.startswith((".", "/")) or old.split("/")[:2] == new.split("/")[:2]:
                continue  # a local checkout, or the same owner
            self.add(Action("install-source", f"replaces the Go module {quote(old)} with {display('https://' + new)}",
                            urls=("https://" + new,), trust="owner"))

    def network(self, i: int, c: shell.Command) -> None:
        rs = reverse_shell(self.cmds, i)
        if rs:
            self.add(Action("reverse-shell", f"connects a shell to a remote host ({rs})", strict=True))
        if c.program == "git":
            self.git_push(c)
        if c.program not in NETWORK_SENDERS:
            return
        if c.program in ("dig", "nslookup", "host", "drill"):
            self.dns_data(c)
        sent = uploads(c)
        dests, unknown = destinations(c)
        if sent and not all_local(dests, unknown):
            self.add(Action("exfiltration", f"sends {sent[0]} to {self.where(dests)} with {c.program}",
                            urls=tuple(dests), strict=True))
        refs = secret_var_refs(" ".join(c.argv[1:]))
        for ref in refs:
            if all_local(dests, unknown):
                break
            hosts = [split_url(u).host or "" for u in dests]
            owners = [d for k, ds in SECRET_PROVIDERS.items() if ref.upper().startswith(k) for d in ds]
            if hosts and owners and all(any(h == d or h.endswith("." + d) for d in owners) for h in hosts):
                continue
            self.add(Action("exfiltration", f"sends ${ref} to {self.where(dests)} with {c.program}",
                            urls=tuple(dests) if not unknown else (), trust="none"))
            break

    def git_push(self, c: shell.Command) -> None:
        """``git remote add x URL`` then ``git push x``: the repository leaves for URL."""
        words = [a for a in c.argv[1:] if not a.startswith("-")]
        if words[:2] in (["remote", "add"], ["remote", "set-url"]) and len(words) >= 4:
            self.remotes[words[2]] = words[3]
        elif words[:1] == ["push"] and len(words) >= 2:
            url = self.remotes.get(words[1]) or (words[1] if "://" in words[1] or "@" in words[1] else None)
            if url:
                self.add(Action("exfiltration", f"pushes the repository to {display(url)}, a remote "
                                                "this command sets up", urls=(url,), trust="none"))

    def dns_data(self, c: shell.Command) -> None:
        """``nslookup $(whoami).x.example``: data leaves in the name of a DNS query."""
        for k, name in enumerate(c.argv[1:], 1):
            if name.startswith(("-", "+", "@")) or k not in c.unresolved:
                continue
            tail = name.replace("}", ")").rsplit(")", 1)[-1].rsplit("$", 1)[-1]
            domain = tail.split(".", 1)[1] if "." in tail else ""
            if domain.count(".") >= 1 and not is_local_host(domain):
                self.add(Action("exfiltration", f"puts command output into a DNS query for {domain}",
                                urls=(f"dns://{domain}",), trust="none"))
                return

    @staticmethod
    def where(urls: list[str] | tuple[str, ...]) -> str:
        return ", ".join(dict.fromkeys(display(u) for u in urls[:3])) or "a destination that cannot be determined"

    def code(self, i: int, c: shell.Command) -> None:
        inv = shell.invocation(c.argv)
        if inv is None or inv.lang not in _CODE_LANGS:
            if c.program in ("apply_patch", "applypatch"):
                text = c.stdin_text[1] if c.stdin_text else " ".join(c.argv[1:])
                for w in parse_patch(text):
                    self.file_write(w.path, w.content, False)
            elif c.program in ("crontab", "at", "batch"):
                self.schedule(i, c)
            return
        code: str | None = None
        if inv.mode == "code" and inv.text is not None and inv.index not in c.unresolved:
            code = inv.text
            if inv.index is not None and inv.index > 1:  # perl -MLWP::Simple, ruby -ropen-uri
                code = " ".join(c.argv[1:inv.index]) + "\n" + code
            if inv.lang == "powershell" and inv.index is not None and inv.index > 0 and \
                    c.argv[inv.index - 1].lower().lstrip("-/") in ("e", "ec", "enc", "encodedcommand"):
                decoded = decode_base64(code)
                self.add(Action("encoded-exec", "runs a base64-encoded PowerShell command"
                                + ("" if decoded else " that cannot be decoded"), literal=code))
                code = decoded
        elif inv.mode == "stdin" and c.stdin_text is not None:
            code = c.stdin_text[1]
        elif inv.mode == "file" and inv.text is not None and self.written.get(inv.text):
            code = self.written[inv.text]
        if not code:
            return
        try:
            actions, fetched = code_actions(code, inv.lang, self.depth + 1)
        except ScreenError as exc:
            self.add(Action("unparseable-command", f"carries {inv.lang} code that cannot be analysed ({exc})"))
            return
        for a in actions:
            self.add(a)
        if fetched and i not in self.sources:
            self.sources[i] = ("download", "", tuple(fetched), None)
            self.outputs[i] = inline.analyse(code).paths

    def schedule(self, i: int, c: shell.Command) -> None:
        """crontab / at / batch: the jobs they install run later."""
        args = c.argv[1:]
        if c.program == "crontab" and any(a in ("-l", "-r", "-e", "-ir") for a in args):
            return
        content = self.literal_input(i)
        files = [a for a in args if not a.startswith("-")]
        if content is None and c.program == "crontab" and files and files[-1] != "-":
            content = self.written.get(files[-1])
        if content is None and c.program != "crontab" and "-f" in args:
            k = args.index("-f")
            content = self.written.get(args[k + 1]) if k + 1 < len(args) else None
        what = "a cron job" if c.program == "crontab" else "a scheduled job (at)"
        text = cron_lines(content) if content is not None and c.program == "crontab" else content
        for a in judge_content(text, what, c.program, _screen, self.depth):
            self.add(a)

    def writes(self, i: int, c: shell.Command) -> None:
        files = [f for f in output_files(c) if f]
        if not files:
            if c.program in ("sed", "perl") and any(a.startswith("-i") or a.startswith("-pi") for a in c.argv[1:]):
                files = [a for a in c.argv[2:] if not a.startswith("-")][-1:]
                for f in files:
                    self.file_write(f, None, True)
            return
        append = any(op == ">>" for op in c.redirect_ops) or (c.program == "tee" and "-a" in c.argv)
        content: str | None = None
        urls: tuple[str, ...] = ()
        if c.program in ECHOES:
            content = echo_text(c, partial=True)
        elif c.program in ("cat", "tee"):
            content = self.literal_input(i, partial=True)
            if content is None and c.program == "cat" and len(c.argv) > 1:
                content = self.written.get(c.argv[1])
            if content is None:  # curl URL | tee file: the file holds the download
                for d in self.cmds:
                    if d.pipeline == c.pipeline and d.stage < c.stage and d.program in DOWNLOADERS:
                        urls += tuple(download_targets(d)[0])
        elif c.program in ("cp", "mv", "install", "ln") and len(c.argv) >= 3:
            content = self.written.get(c.argv[-2])
        elif c.program in DOWNLOADERS:
            urls = tuple(download_targets(c)[0])
        for f in files:
            self.file_write(f, content, append, urls)

    def file_write(self, path: str, content: str | None, append: bool, urls: tuple[str, ...] = ()) -> None:
        self.written[path] = content
        for a in write_actions(path, content, append, _screen, self.depth, urls):
            self.add(a)

    # -- sources -> sinks ----------------------------------------------------------------------
    def sinks(self) -> None:
        if not self.sources:
            return
        seen: set[tuple[int, str]] = set()
        for sink in Flow(self.cmds, set(self.sources), self.outputs).sinks():
            if (sink.source, sink.kind) in seen:
                continue  # one finding per source and kind: the first place it runs or leaves
            seen.add((sink.source, sink.kind))
            kind, label, urls, extra = self.sources[sink.source]
            if sink.kind == "exec":
                if kind == "download":
                    partial = partial_url(extra) if extra is not None else None
                    if partial is not None:
                        self.add(Action("download-exec", f"downloads from {self.where([partial])} (part of the "
                                                         f"URL is only known at run time) and {sink.how}",
                                        urls=(partial,)))
                    elif extra is not None:
                        self.add(Action("download-exec", f"downloads from a URL that cannot be determined "
                                                         f"statically ({quote(extra, 30)}) and {sink.how}"))
                    elif urls:
                        self.add(Action("download-exec", f"downloads from {self.where(urls)} and {sink.how}",
                                        urls=urls))
                elif kind == "decode":
                    self.add(Action("encoded-exec", f"decodes a {label} payload and {sink.how}",
                                    literal=extra))
                elif kind == "opaque":
                    self.add(Action("opaque-exec", f"runs the output of {label}, a command that cannot be "
                                                   f"resolved statically, and {sink.how}"))
            elif sink.kind == "network" and kind == "secret":
                dests, unknown = ([sink.dest], False) if sink.dest else destinations(self.cmds[sink.sink])
                if not all_local(dests, unknown):
                    self.add(Action("exfiltration", f"reads {label} and {sink.how} to {self.where(dests)}",
                                    urls=tuple(dests), strict=True))

