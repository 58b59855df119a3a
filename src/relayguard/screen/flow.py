"""Data flow between the commands of one script.

Given the commands ``relayguard.shell`` found and a set of *source* commands
(a download, a decoder, a credential read), :class:`Flow` computes where their
output goes: the standard input of later pipeline stages, arguments through
``$(...)`` / ``<(...)`` / variables, the output of a nested script, and files
(``curl -o f``, ``> f``, ``tee f``, ``cp f g``) that a later command runs,
sources or makes executable.  Sinks are reported as :class:`Sink` records:

    exec      the data is run: piped into an interpreter that executes its
              input, given as its code or script file, used as a command name,
              or a file holding it is run / sourced / chmod +x'd
    network   the data is sent: piped into or given to a network command

The propagation is the baseline gate's (``policy_gate``), generalised to any
source; "does this interpreter execute its input" is the gate's ``_Flow``.
"""

from __future__ import annotations

from dataclasses import dataclass

from relayguard import shell
from relayguard.inspectors.policy_gate import _Flow

__all__ = ["Flow", "Sink", "NETWORK_SENDERS", "output_files", "sends_stdin"]

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
_RUNS_FILE = frozenset({"source", ".", "exec"})
_COPIES = frozenset({"cp", "mv", "install", "ln", "rsync"})


def sends_stdin(argv: tuple[str, ...]) -> bool:
    """Does this network command send its standard input?"""
    prog = shell.program_name(argv[0])
    if prog in _ALWAYS_STDIN:
        return True
    for a in argv[1:]:
        if a in ("@-", "-") or a.endswith("=@-") or a.endswith("@-") or a.endswith("=/dev/stdin") \
                or a.endswith("@/dev/stdin") or a == "/dev/stdin":
            return True
    return prog in ("gh",) and "gist" in argv


def output_files(cmd: shell.Command) -> list[str]:
    """Files this command writes its output (or a download) to."""
    out = [t for t, op in zip(cmd.redirects, cmd.redirect_ops) if op and op[-1] == ">"
           or op in (">>", "&>", "&>>", ">|", ">&")]
    argv = cmd.argv
    prog = cmd.program
    n = len(argv)
    for i, a in enumerate(argv[1:], 1):
        if prog in ("curl", "curlie") and a in ("-o", "--output") and i + 1 < n:
            out.append(argv[i + 1])
        elif prog in ("curl", "curlie") and a.startswith("-o") and len(a) > 2 and a[1] == "o":
            out.append(a[2:])
        elif prog in ("curl", "curlie") and (a in ("-O", "--remote-name") or
                                             (a.startswith("-") and not a.startswith("--")
                                              and "O" in a)):
            out.extend(_basenames(argv[i + 1:]))
        elif prog in ("wget", "wget2") and a in ("-O", "--output-document") and i + 1 < n:
            out.append(argv[i + 1])
        elif prog in ("wget", "wget2") and a.startswith("--output-document="):
            out.append(a.split("=", 1)[1])
        elif prog in ("wget", "wget2") and a.startswith("-O") and len(a) > 2:
            out.append(a[2:])
        elif prog == "tee" and not a.startswith("-"):
            out.append(a)
        elif prog == "dd" and a.startswith("of="):
            out.append(a[3:])
        elif prog in ("aria2c",) and a in ("-o", "--out") and i + 1 < n:
            out.append(argv[i + 1])
    if prog in ("wget", "wget2", "aria2c") and not any(a.startswith(("-O", "--output-document", "-o"))
                                                       for a in argv[1:]):
        out.extend(_basenames(argv[1:]))
    if prog in _COPIES and n >= 3 and not argv[-1].startswith("-"):
        out.append(argv[-1])
    return [o for o in out if o and o not in ("-", "/dev/null", "/dev/stdout", "/dev/stderr")]


def _basenames(words: tuple[str, ...] | list[str]) -> list[str]:
    names = []
    for w in words:
        if "://" in w:
            tail = w.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
            if tail:
                names.append(tail)
    return names


def _key(path: str) -> str:
    path = path.strip().strip("'\"")
    while path.startswith("./"):
        path = path[2:]
    return path


def _base(path: str) -> str:
    return _key(path).rstrip("/").rsplit("/", 1)[-1]


@dataclass(frozen=True, slots=True)
class Sink:
    source: int  # index of the source command
    sink: int  # index of the command that runs or sends it
    kind: str  # exec | network
    how: str  # "pipes it into bash", "runs it with python3", "makes it executable"


class Flow:
    def __init__(self, cmds: tuple[shell.Command, ...], sources: set[int]) -> None:
        self.cmds = cmds
        self.sources = sources
        self.exec_flow = _Flow(cmds)
        n = len(cmds)
        self.taint: list[set[int]] = [set() for _ in range(n)]
        self.stdin: list[set[int]] = [set() for _ in range(n)]
        self.args: list[dict[int, set[int]]] = [{} for _ in range(n)]
        self.files: dict[str, set[int]] = {}
        if sources:
            self._propagate()

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

    def _file_taint(self, i: int) -> set[int]:
        """Sources that reach command i through files written earlier."""
        if not self.files:
            return set()
        c = self.cmds[i]
        found: set[int] = set()
        words = list(c.argv[1:]) + [t for t, op in zip(c.redirects, c.redirect_ops) if op == "<"]
        for w in words:
            for key in (_key(w), _base(w)):
                found |= self.files.get(key, set())
        return found

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
            # files, in script order
            for i, c in enumerate(cmds):
                from_files = self._file_taint(i)
                if from_files and not from_files <= stdin[i] and c.program not in _COPIES:
                    stdin[i] |= from_files  # cat f, python f, ...: reads the file
                    changed |= self._refresh(i)
                elif from_files and c.program in _COPIES:
                    taint[i] |= from_files
                if taint[i]:
                    for f in output_files(c):
                        for key in (_key(f), _base(f)):
                            if not taint[i] <= self.files.get(key, set()):
                                self.files.setdefault(key, set()).update(taint[i])
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
            if flow.inv(i) is not None:
                positions = flow.script_args(i)
                for arg, srcs in self.args[i].items():
                    if arg == shell.ARG_STDIN and flow.runs_stdin(i):
                        out += [Sink(s, i, "exec", f"feeds it to {name}") for s in srcs if s != i]
                    elif arg >= 1 and (positions is None or arg in positions):
                        out += [Sink(s, i, "exec", f"runs it with {name}") for s in srcs if s != i]
            out += self._file_sinks(i)
            if c.program in NETWORK_SENDERS:
                if self.stdin[i] and sends_stdin(c.argv):
                    out += [Sink(s, i, "network", f"sends it with {c.program}")
                            for s in self.stdin[i] if s != i]
                for arg, srcs in self.args[i].items():
                    if arg >= 1 or arg == shell.ARG_OTHER:
                        out += [Sink(s, i, "network", f"sends it with {c.program}")
                                for s in srcs if s != i]
        return list(dict.fromkeys(out))

    def _file_sinks(self, i: int) -> list[Sink]:
        if not self.files:
            return []
        c = self.cmds[i]
        argv = c.argv
        prog = c.program
        hits: list[tuple[str, str]] = []
        inv = self.exec_flow.inv(i)
        if 0 not in c.unresolved and (argv[0].startswith(("/", "./", "~")) or "/" in argv[0]):
            hits.append((argv[0], "runs the file"))
        elif inv is not None and inv.mode == "file" and inv.text is not None:
            hits.append((inv.text, f"runs it with {prog}"))
        elif prog in _RUNS_FILE and len(argv) > 1:
            hits.append((argv[1], f"runs it with {prog}"))
        elif prog == "chmod":
            words = [a for a in argv[1:] if not a.startswith("-")]
            mode = words[0] if words else ""
            if "x" in mode or (mode.isdigit() and any(int(d) & 1 for d in mode[-3:])):
                hits += [(a, "makes it executable") for a in words[1:]]
        elif inv is not None and inv.mode == "module":
            return []
        out = []
        for path, how in hits:
            srcs = self.files.get(_key(path), set()) | self.files.get(_base(path), set())
            out += [Sink(s, i, "exec", how) for s in srcs if s != i]
        return out
