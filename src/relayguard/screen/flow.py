"""Data flow between the commands of one script.

Given the commands ``relayguard.shell`` found and a set of *source* commands
(a download, a decoder, a credential read), :class:`Flow` computes where their
output goes: the standard input of later pipeline stages, arguments through
``$(...)`` / ``<(...)`` / variables, the output of a nested script, and files
(``curl -o f``, ``> f``, ``tee f``, ``cp f g``, archives and what they unpack;
see ``files``) that a later command runs, sources, installs, makes executable
or uploads.  Sinks are reported as :class:`Sink` records:

    exec      the data is run: piped into an interpreter that executes its
              input, given as its code or script file, used as a command name,
              or a file holding it is run / sourced / installed / chmod +x'd
    network   the data is sent: piped into or given to a network command, or
              written to ``/dev/tcp/host/port``

The propagation is the baseline gate's (``policy_gate``), generalised to any
source; "does this interpreter execute its input" is the gate's ``_Flow``.
"""

from __future__ import annotations

from dataclasses import dataclass

from relayguard import shell
from relayguard.inspectors.policy_gate import _Flow
from relayguard.screen import files as fs

__all__ = ["Flow", "Sink", "NETWORK_SENDERS", "sends_stdin"]

_MAX_PASSES = 10

# Commands that send what they read on stdin (or are given) over the network.
NETWORK_SENDERS = frozenset({
    "curl", "curlie", "wget", "wget2", "http", "https", "xh", "xhs", "nc", "ncat", "netcat", "socat",
    "telnet", "openssl", "ssh", "scp", "sftp", "rsync", "ftp", "tftp", "dig", "nslookup", "host",
    "drill", "ping", "invoke-webrequest", "iwr", "invoke-restmethod", "irm", "gh", "aws", "gsutil",
    "rclone", "s3cmd", "smbclient", "mail", "sendmail", "mutt", "whois", "websocat", "wscat",
})
_ALWAYS_STDIN = frozenset({"nc", "ncat", "netcat", "socat", "telnet", "openssl", "ssh", "ftp",
                           "tftp", "websocat", "wscat", "mail", "sendmail", "mutt", "smbclient"})
_COPIES = frozenset({"cp", "mv", "install", "ln", "rsync"})


def sends_stdin(argv: tuple[str, ...]) -> bool:
    """Does this network command send its standard input?"""
    prog = shell.program_name(argv[0])
    if prog in _ALWAYS_STDIN:
        return True
    for a in argv[1:]:
        if a in ("@-", "-", "/dev/stdin") or a.endswith(("=@-", "@-", "=/dev/stdin", "@/dev/stdin")):
            return True
    return prog == "gh" and "gist" in argv


def _tcp_target(cmd: shell.Command) -> str | None:
    for target, op in zip(cmd.redirects, cmd.redirect_ops):
        if op != "<" and target.startswith(("/dev/tcp/", "/dev/udp/")):
            return target
    return None


@dataclass(frozen=True, slots=True)
class Sink:
    source: int  # index of the source command
    sink: int  # index of the command that runs or sends it
    kind: str  # exec | network
    how: str  # "pipes it into bash", "runs it with python3", "makes it executable"
    dest: str | None = None  # for /dev/tcp sinks: the tcp:// URL


class Flow:
    def __init__(self, cmds: tuple[shell.Command, ...], sources: set[int],
                 extra_outputs: dict[int, list[str]] | None = None) -> None:
        self.cmds = cmds
        self.sources = sources
        self.extra_outputs = extra_outputs or {}
        self.exec_flow = _Flow(cmds)
        n = len(cmds)
        self.taint: list[set[int]] = [set() for _ in range(n)]
        self.stdin: list[set[int]] = [set() for _ in range(n)]
        self.args: list[dict[int, set[int]]] = [{} for _ in range(n)]
        self.files: dict[str, set[int]] = {}
        self.dirs: dict[str, set[int]] = {}
        self.written_at: dict[str, int] = {}
        if sources:
            self._propagate()

    # -- files --------------------------------------------------------------------------
    def file_sources(self, path: str, before: int | None = None, exact: bool = False) -> set[int]:
        """Sources in the file at ``path`` (written by a command before index ``before``);
        ``exact``: only that very path, or an archive unpacked right into its directory."""
        found: set[int] = set()
        if not self.files and not self.dirs:
            return found
        k = fs.key(path)
        # (a name without "/" is its own base name)
        if k in self.files and (before is None or self.written_at[k] < before):
            found |= self.files[k]
        if self.dirs:
            parent = k.rsplit("/", 1)[0] if "/" in k else "."
            relative = not k.startswith(("/", "~", "$"))
            for d, srcs in self.dirs.items():  # keys already (fs.key)
                if exact:
                    inside = d == parent
                else:  # fs.in_dir on keys
                    inside = relative if d in (".", "") else k.startswith(d + "/")
                if inside and (before is None or self.written_at["dir:" + d] < before):
                    found |= srcs
        return found

    def _reads(self, i: int) -> set[int]:
        """Sources reaching command i through files it names."""
        if not self.files and not self.dirs:
            return set()
        c = self.cmds[i]
        found: set[int] = set()
        words = list(c.argv[1:]) + [t for t, op in zip(c.redirects, c.redirect_ops) if op == "<"]
        for w in words:
            if "=@" in w:
                w = w.split("=@", 1)[1]
            elif w.startswith("@"):
                w = w[1:]
            found |= self.file_sources(w, i)
        return found

    def _record(self, path: str, srcs: set[int], at: int) -> bool:
        k = fs.key(path)
        if not k or srcs <= self.files.get(k, set()):
            return False
        for name in ((k, fs.base(k)) if "/" in k else (k,)):
            self.files.setdefault(name, set()).update(srcs)
            self.written_at[name] = min(self.written_at.get(name, at), at)
        return True

    # -- propagation (as in policy_gate._download_exec, for any source) -------------
    def _refresh(self, i: int) -> bool:
        new = set(self.taint[i]) | self.stdin[i]
        for srcs in self.args[i].values():
            new |= srcs
        if i in self.sources:
            new.add(i)
        if new != self.taint[i]:
            self.taint[i] = new
            return True
        return False

    def _propagate(self) -> None:
        cmds = self.cmds
        n = len(cmds)
        taint, stdin, args = self.taint, self.stdin, self.args
        for s in self.sources:
            taint[s].add(s)
        groups: dict[int, list[tuple[int, int]]] = {}
        for i, c in enumerate(cmds):
            groups.setdefault(c.pipeline, []).append((c.stage, i))
            for p, st in c.outer:
                groups.setdefault(p, []).append((st, i))
        pipes = [sorted(set(m)) for m in groups.values() if len({st for st, _ in m}) > 1]
        for _ in range(_MAX_PASSES):
            changed = False
            for j in range(n - 1, -1, -1):
                c = cmds[j]
                for arg, src in c.inputs:
                    if taint[src] and not taint[src] <= args[j].get(arg, set()):
                        args[j].setdefault(arg, set()).update(taint[src])
                        changed = True
                if c.parent is not None:
                    p = c.parent
                    kind = c.nested_in or ""
                    if kind in ("command_substitution", "process_substitution"):
                        if taint[j] and not taint[j] <= args[p].get(c.parent_arg, set()):
                            args[p].setdefault(c.parent_arg, set()).update(taint[j])
                            changed = True
                    elif kind == "output_process_substitution":
                        if taint[p] and not taint[p] <= stdin[j]:
                            stdin[j] |= taint[p]
                            changed = True
                    elif taint[j] and not taint[j] <= taint[p]:
                        taint[p] |= taint[j]
                        changed = True
                changed |= self._refresh(j)
            for members in pipes:
                acc: set[int] = set()
                stage = members[0][0]
                pending: set[int] = set()
                for st, i in members:
                    if st != stage:
                        acc |= pending
                        pending = set()
                        stage = st
                    if acc and not acc <= stdin[i]:
                        stdin[i] |= acc
                        changed = True
                        self._refresh(i)
                    pending |= taint[i]
            for i, c in enumerate(cmds):  # files, in script order
                if not c.argv:
                    continue
                read = self._reads(i)
                if read and not read <= stdin[i]:
                    stdin[i] |= read
                    changed |= self._refresh(i)
                if taint[i]:
                    for f in fs.output_files(c) + self.extra_outputs.get(i, []):
                        changed |= self._record(f, taint[i], i)
                    d = fs.extract_dir(c)
                    if d is not None and not taint[i] <= self.dirs.get(fs.key(d), set()):
                        self.dirs.setdefault(fs.key(d), set()).update(taint[i])
                        self.written_at["dir:" + fs.key(d)] = min(self.written_at.get("dir:" + fs.key(d), i), i)
                        changed = True
            if not changed:
                break

    # -- sinks --------------------------------------------------------------------
    def sinks(self) -> list[Sink]:
        out: list[Sink] = []
        if not self.sources:
            return out
        flow = self.exec_flow
        for i, c in enumerate(self.cmds):
            if not c.argv:
                continue
            name = c.program if 0 not in c.unresolved else "a command that cannot be resolved"
            if self.stdin[i] and flow.runs_stdin(i):
                out += [Sink(s, i, "exec", f"pipes it into {name}") for s in self.stdin[i] if s != i]
            for s in self.args[i].get(0, ()):
                if s != i:
                    out.append(Sink(s, i, "exec", "runs its output as a command"))
            inv = flow.inv(i)
            if inv is not None:
                positions = flow.script_args(i)
                for arg, srcs in self.args[i].items():
                    if arg == shell.ARG_STDIN and flow.runs_stdin(i):
                        out += [Sink(s, i, "exec", f"feeds it to {name}") for s in srcs if s != i]
                    elif arg >= 1 and (positions is None or arg in positions):
                        out += [Sink(s, i, "exec", f"runs it with {name}") for s in srcs if s != i]
            if self.files or self.dirs:
                for path, how in fs.runs_files(c, inv):
                    exact = how.startswith("runs it as")  # a bare name found on PATH
                    out += [Sink(s, i, "exec", how) for s in self.file_sources(path, i, exact) if s != i]
                d = fs.extract_dir(c)
                if d is not None and self.taint[i] and any(fs.key(d) == fs.key(b) for b in fs.BIN_DIRS):
                    out += [Sink(s, i, "exec", f"unpacks it into {d}") for s in self.taint[i] if s != i]
            tcp = _tcp_target(c)
            if tcp is not None and self.taint[i]:
                dest = "tcp://" + tcp.split("/", 3)[3] if tcp.count("/") >= 3 else None
                out += [Sink(s, i, "network", f"writes it to {tcp[:8]}", dest) for s in self.taint[i]]
            if c.program in NETWORK_SENDERS:
                if self.stdin[i] and sends_stdin(c.argv):
                    out += [Sink(s, i, "network", f"sends it with {c.program}") for s in self.stdin[i] if s != i]
                for arg, srcs in self.args[i].items():
                    if arg >= 1 or arg == shell.ARG_OTHER:
                        out += [Sink(s, i, "network", f"sends it with {c.program}") for s in srcs if s != i]
                if self.files or self.dirs:
                    for path in fs.data_files(c):
                        out += [Sink(s, i, "network", f"uploads it with {c.program}")
                                for s in self.file_sources(path, i) if s != i]
        return list(dict.fromkeys(out))
