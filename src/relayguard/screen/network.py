"""Per-command facts about secrets and the network.

* :func:`secret_source`: the command reads credentials or the environment
  (``cat ~/.aws/credentials``, ``env``, ``printenv``, ``gh auth token``, cloud
  metadata, ...): what, in words.
* :func:`uploads`: credential files a network command sends by itself
  (``curl -d @~/.aws/credentials``, ``-F f=@~/.ssh/id_rsa``, ``-T``, ``wget
  --post-file``, ``scp``/``rsync`` to a remote, ``nc host < file``).
* :func:`destinations`: where a network command connects (as URLs).
* :func:`reverse_shell`: ``nc -e``, ``ncat --exec``, ``socat ... exec:``, a shell
  redirected to ``/dev/tcp/host``, a pipeline joining a shell and a socket.
"""

from __future__ import annotations

from relayguard import shell
from relayguard.inspectors.gate_downloads import DOWNLOADERS, download_targets
from relayguard.screen.flow import NETWORK_SENDERS
from relayguard.screen.sensitive import credential_path, is_local_host, is_metadata_host, secret_var_refs
from relayguard.screen.urls import split_url

__all__ = ["destinations", "remote_host", "reverse_shell", "secret_source", "uploads"]

# Commands that only look at a path (or use a key locally) without printing it.
_NOT_READERS = frozenset({
    "ls", "rm", "chmod", "chown", "chgrp", "mkdir", "touch", "stat", "test", "[", "[[", "file",
    "ssh-keygen", "ssh-add", "ssh", "git", "cd", "export", "find", "du", "wc", "rmdir", "realpath",
    "readlink", "basename", "dirname", "echo", "printf", "shred", "unlink", "sha256sum", "md5sum",
    "diff", "docker", "kubectl", "helm", "aws", "gcloud", "az", "terraform", "python", "python3",
    "node", "npm", "pip", "pip3", "source", ".", "ansible", "ansible-playbook", "openssl",
})
_ENV_DUMPS = {"env": "the environment variables", "printenv": "the environment variables",
              "set": "the shell variables", "export": "the environment variables",
              "declare": "the shell variables", "compgen": "the variable names"}


def secret_source(cmd: shell.Command) -> str | None:
    """What secret this command outputs, or None."""
    argv = cmd.argv
    prog = cmd.program
    args = argv[1:]
    if prog in ("echo", "printf"):
        refs = secret_var_refs(" ".join(args))
        return f"the secret ${refs[0]}" if refs else None
    if prog in ("env", "printenv") and not [a for a in args if not a.startswith("-")]:
        return _ENV_DUMPS[prog]
    if prog == "printenv" and any(("KEY" in a or "TOKEN" in a or "SECRET" in a or "PASS" in a)
                                  for a in args):
        return "secret environment variables"
    if prog in ("set", "compgen") and (not args or args == ("-v",)):
        return _ENV_DUMPS[prog]
    if prog in ("export", "declare", "typeset") and args and args[0] in ("-p", "-x", "-px"):
        return _ENV_DUMPS.get(prog, "the shell variables")
    if prog == "gh" and args[:2] in (("auth", "token"),) or prog == "gh" and "--show-token" in args:
        return "the GitHub CLI token"
    if prog == "aws" and args[:2] in (("configure", "get"), ("configure", "export-credentials"),
                                      ("sts", "get-session-token")):
        return "AWS credentials"
    if prog == "gcloud" and "auth" in args and any(a.startswith("print-") for a in args):
        return "a Google Cloud access token"
    if prog == "az" and "get-access-token" in args:
        return "an Azure access token"
    if prog == "kubectl" and "config" in args and "--raw" in args:
        return "Kubernetes credentials"
    if prog == "git" and args[:2] == ("credential", "fill"):
        return "git credentials"
    if prog == "security" and args and args[0] in ("find-generic-password", "find-internet-password",
                                                  "dump-keychain"):
        return "the macOS keychain"
    if prog in DOWNLOADERS:
        urls, _ = download_targets(cmd)
        if any(is_metadata_host(split_url(u).host or "") for u in urls):
            return "cloud instance credentials (the metadata service)"
        return None
    if prog in _NOT_READERS or 0 in cmd.unresolved:
        return None
    for a in args:
        if not a.startswith("-") and credential_path(a):
            return a
    for target, op in zip(cmd.redirects, cmd.redirect_ops):
        if op == "<" and credential_path(target):
            return target
    return None


def _data_path(value: str) -> str | None:
    """The file a curl/httpie data value reads: ``@path``, ``name=@path``, ``name@path``."""
    if value.startswith("@"):
        return value[1:]
    if "=@" in value:
        return value.split("=@", 1)[1].split(";", 1)[0]
    if "@" in value and value.split("@", 1)[0].isidentifier():
        return value.split("@", 1)[1]
    return None


_CURL_DATA = frozenset({"-d", "--data", "--data-binary", "--data-urlencode", "--data-ascii", "-F",
                        "--form", "--json"})
_CURL_UPLOAD = frozenset({"-T", "--upload-file"})


def uploads(cmd: shell.Command) -> list[str]:
    """Credential files a network command sends as data."""
    argv = cmd.argv
    prog = cmd.program
    found: list[str] = []
    n = len(argv)
    if prog in ("curl", "curlie"):
        for i, a in enumerate(argv[1:], 1):
            key, eq, val = a.partition("=") if a.startswith("--") else (a, "", "")
            value = val if eq else (argv[i + 1] if i + 1 < n else "")
            if key in _CURL_DATA:
                path = _data_path(value)
                if path and credential_path(path):
                    found.append(path)
            elif key in _CURL_UPLOAD and credential_path(value):
                found.append(value)
            elif len(a) > 2 and a[:2] in ("-d", "-F", "-T") and not a.startswith("--"):
                path = _data_path(a[2:]) if a[:2] != "-T" else a[2:]
                if path and credential_path(path):
                    found.append(path)
    elif prog in ("wget", "wget2"):
        for i, a in enumerate(argv[1:], 1):
            for opt in ("--post-file", "--body-file"):
                if a.startswith(opt + "=") and credential_path(a.split("=", 1)[1]):
                    found.append(a.split("=", 1)[1])
                elif a == opt and i + 1 < n and credential_path(argv[i + 1]):
                    found.append(argv[i + 1])
    elif prog in ("http", "https", "xh", "xhs"):
        found += [p for a in argv[1:] if (p := _data_path(a)) and credential_path(p)]
    elif prog in ("scp", "rsync", "sftp", "rclone", "gsutil", "s3cmd") or \
            prog == "aws" and "s3" in argv:
        if any(remote_host(a) for a in _positionals(argv, _SSH_VALUE)) or prog in ("rclone", "gsutil", "aws", "s3cmd"):
            found += [a for a in argv[1:] if not a.startswith("-") and credential_path(a)]
    elif prog == "gh" and "gist" in argv:
        found += [a for a in argv[1:] if credential_path(a)]
    if prog in NETWORK_SENDERS:
        found += [t for t, op in zip(cmd.redirects, cmd.redirect_ops) if op == "<" and credential_path(t)]
    return found


def remote_host(word: str) -> str | None:
    """``user@host:path`` / ``host:path`` (scp, rsync) -> host."""
    if "://" in word:
        return split_url(word).host
    head, colon, _ = word.partition(":")
    if not colon or "/" in head or not head:
        return None
    host = head.rsplit("@", 1)[-1]
    return host if host and all(c.isalnum() or c in "-._[]" for c in host) else None


_NC_VALUE = frozenset("-p -w -s -q -i -x -X -e -c -I -O -T -V -W -g -G -m".split())


def _first_positional(argv: tuple[str, ...], value_opts: frozenset[str]) -> str | None:
    i = 1
    while i < len(argv):
        a = argv[i]
        if a.startswith("-") and len(a) > 1:
            i += 2 if a in value_opts or a.startswith("--") and "=" not in a and a in (
                "--exec", "--sh-exec", "--lua-exec", "--source-port", "--wait") else 1
            continue
        return a
    return None


_SSH_VALUE = frozenset("-i -p -l -o -F -J -L -R -D -b -c -E -m -S -w -W -O -Q -B -e".split())


def _positionals(argv: tuple[str, ...], value_opts: frozenset[str]) -> list[str]:
    out = []
    i = 1
    while i < len(argv):
        a = argv[i]
        if a.startswith("-") and len(a) > 1:
            i += 2 if a in value_opts else 1
            continue
        out.append(a)
        i += 1
    return out


def destinations(cmd: shell.Command) -> tuple[list[str], bool]:
    """(URLs the network command talks to, whether some destination is unknown)."""
    prog = cmd.program
    argv = cmd.argv
    if prog in DOWNLOADERS:
        urls, unknown = download_targets(cmd)
        return urls, bool(unknown)
    if prog in ("nc", "ncat", "netcat", "telnet", "ping", "whois"):
        host = _first_positional(argv, _NC_VALUE)
        return ([f"tcp://{host}"] if host else []), host is None or "$" in (host or "")
    if prog == "socat":
        out = []
        for a in argv[1:]:
            parts = a.split(":")
            if len(parts) >= 3 and parts[0].lower().startswith(("tcp", "udp", "openssl", "ssl")):
                out.append(f"tcp://{parts[1]}")
        return out, not out
    if prog in ("dig", "nslookup", "host", "drill"):
        names = [a for a in argv[1:] if not a.startswith(("-", "+", "@"))]
        return [f"dns://{n}" for n in names[:1]], bool(names) and "$" in names[0]
    if prog == "ssh":
        target = _first_positional(argv, _SSH_VALUE)
        hosts = [target.rsplit("@", 1)[-1]] if target else []
        return [f"ssh://{h}" for h in hosts], not hosts
    if prog in ("scp", "sftp", "rsync"):
        hosts = [h for a in _positionals(argv, _SSH_VALUE | {"-e", "--rsh", "-P"}) if (h := remote_host(a))]
        return [f"ssh://{h}" for h in hosts], not hosts
    if prog == "gh":
        return ["https://github.com"], False
    if prog == "openssl" and "-connect" in argv:
        k = argv.index("-connect")
        return ([f"tcp://{argv[k + 1]}"] if k + 1 < len(argv) else []), k + 1 >= len(argv)
    return ([], True) if prog in NETWORK_SENDERS else ([], False)


def all_local(urls: list[str], unknown: bool) -> bool:
    return not unknown and bool(urls) and all(is_local_host(split_url(u).host) for u in urls)


def _tcp_host(path: str) -> str | None:
    for dev in ("/dev/tcp/", "/dev/udp/"):
        k = path.find(dev)
        if k >= 0:
            return path[k + len(dev):].split("/", 1)[0]
    return None


_SOCKET_PROGS = frozenset({"nc", "ncat", "netcat", "nc.traditional", "nc.openbsd", "socat", "telnet",
                           "openssl", "awk", "gawk", "ssh"})


def reverse_shell(cmds: tuple[shell.Command, ...], i: int) -> str | None:
    """How command ``i`` connects a shell to a remote host, or None."""
    c = cmds[i]
    argv = c.argv
    prog = c.program
    if prog not in _SOCKET_PROGS and not any("/dev/tcp/" in w or "/dev/udp/" in w
                                             for w in c.redirects + argv):
        return None
    if prog in ("nc", "ncat", "netcat", "nc.traditional", "nc.openbsd"):
        for a in argv[1:]:
            if a in ("-e", "-c", "--exec", "--sh-exec", "--lua-exec") or a.startswith(("--exec=", "--sh-exec=")) \
                    or (a.startswith("-") and not a.startswith("--") and ("e" in a[1:] or "c" in a[1:])
                        and len(a) <= 6):
                return f"{prog} {a.split('=')[0]} (runs a program for whoever connects)"
    if prog == "socat" and any(a.lower().startswith(("exec:", "system:")) or ",exec:" in a.lower()
                               for a in argv[1:]):
        return "socat with exec: (runs a program over the connection)"
    if prog in ("awk", "gawk") and any("/inet/tcp/" in a or "/inet/udp/" in a for a in argv[1:]):
        parts = next(a.split("/inet/", 1)[1].split("/") for a in argv[1:] if "/inet/" in a)
        if len(parts) < 3 or not is_local_host(parts[2]):
            return f"{prog} with a /inet/tcp connection (a shell over the network)"
    if prog == "ssh" and any(a == "-R" or a.startswith("-R") or (a.startswith("-") and "R" in a[1:]
                             and not a.startswith("--")) for a in argv[1:]):
        dests = destinations(c)[0]
        if not all_local(dests, False):
            return "ssh -R (opens a way back into this machine for the remote host)"
    inv = shell.invocation(argv) if argv and 0 not in c.unresolved else None
    for target in list(c.redirects) + list(argv):
        host = _tcp_host(target)
        if host is None or is_local_host(host):
            continue
        if (inv is not None and inv.lang in ("shell", "python", "perl", "ruby", "php")) or prog == "exec" \
                or "exec" in c.wrappers or argv[0].startswith("/dev/"):
            # `exec 5<>/dev/tcp/h/p`: a descriptor on a socket, for a shell to read commands from
            return f"{'exec' if 'exec' in c.wrappers or prog == 'exec' else prog} connected to /dev/tcp/{host}"
    if prog in ("nc", "ncat", "netcat", "telnet", "socat", "openssl") and c.stage >= 0:
        peers = [d for d in cmds if d.pipeline == c.pipeline and d is not c and d.argv]
        for d in peers:
            dinv = shell.invocation(d.argv) if 0 not in d.unresolved else None
            if dinv is not None and dinv.lang == "shell" and dinv.mode == "stdin":
                host = destinations(c)[0]
                if not host or not all_local(host, False):
                    return f"a pipeline joining {d.program} and {prog}"
    return None
