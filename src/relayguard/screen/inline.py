"""Code given to an interpreter: ``python -c``, ``node -e``, ``perl -e``, ``ruby -e``,
``php -r``, PowerShell, a heredoc fed to ``python3 -``, a code tool, or a script
file the tool call writes.

:func:`analyse` reports what the code does, coarsely but in words a rule can use:
the URLs it fetches, whether it runs code or processes (``exec``, ``eval``,
``subprocess``, ``child_process``, ``IEX``), decodes payloads (base64, hex,
rot13, zlib, marshal), opens a socket *and* hands it a shell (a reverse shell),
reads credentials or dumps the environment and sends something, and the shell
command strings it passes to ``os.system`` / ``subprocess`` / ``execSync``, so
the caller can screen those as scripts.  Encoded literals are decoded for the
caller to screen recursively.

All patterns are RE2 (linear time); the text is cut at 64 KiB.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field

import re2

from relayguard.screen.normalise import decode_base64, decode_hex, rot13
from relayguard.screen.sensitive import credential_path

__all__ = ["CodeFacts", "analyse"]

MAX_CODE = 64 * 1024
_MAX_ITEMS = 32

_URL = re2.compile(r"""https?://[^\s'"`<>\\)\]}{$]+""")
_FETCH = re2.compile(
    r"urlopen|urlretrieve|urllib|requests\.(?:get|post|put|request|Session)|httpx\.|http\.client"
    r"|aiohttp|pycurl|wget\.download|https?\.(?:get|request)\(|\bfetch\(|axios|\bgot\(|node-fetch"
    r"|XMLHttpRequest|LWP|HTTP::Tiny|getstore|Net::HTTP|open-uri|URI\.open|HTTParty|RestClient"
    r"|file_get_contents\(|curl_exec|DownloadString|DownloadFile|DownloadData|Invoke-WebRequest"
    r"|Invoke-RestMethod|\biwr\b|\birm\b|Net\.WebClient|Start-BitsTransfer|HttpClient"
    r"|require\(\s*['\"](?:node:)?https?['\"]\s*\)|from\s+['\"](?:node:)?https?['\"]|LWP::|Net::HTTP")
_CODE_EXEC = re2.compile(
    r"(?:^|[^.\w])(?:exec|eval)\s*\(|[(,]\s*eval\s*[),]|\bcompile\s*\(|marshal\.loads|pickle\.loads|new\s+Function"
    r"|\bFunction\(|vm\.run|runInThisContext|\bIEX\b|Invoke-Expression|\bassert\s*\(|create_function"
    r"|instance_eval|class_eval|\beval\s+|\beval\b\s*\$|__import__|runpy|ScriptBlock\]?::Create"
    r"|importlib\.import_module", )
_PROC_EXEC = re2.compile(
    r"os\.system|os\.popen|subprocess|os\.exec[lv]|os\.spawn|pty\.spawn|child_process|execSync"
    r"|spawnSync|\bspawn\s*\(|execFile|\bsystem\s*\(|shell_exec|passthru|proc_open|\bpopen\s*\("
    r"|Kernel\.exec|IO\.popen|Open3|\bqx[{(/]|%x[{(]|Start-Process|\bexec\s*\(\s*['\"]/"
    r"|`[^`\n]+`|Command::new|std::process|exec\.Command|ProcessBuilder|getRuntime\(\)\.exec")
_DECODE = re2.compile(
    r"b64decode|b32decode|b16decode|base64\.|fromhex|unhexlify|a2b_|decode\(\s*['\"](?:hex|rot13|rot_13"
    r"|base64)|codecs\.decode|zlib\.decompress|gzip\.decompress|lzma\.decompress|marshal\.loads|atob\("
    r"|Buffer\.from\([^)]*['\"](?:base64|hex)|decode_base64|unpack\(\s*['\"][mH]|Base64\."
    r"|base64_decode|gzinflate|str_rot13|FromBase64String|\[char\]\s*0x|String\.fromCharCode|chr\(")
_SOCKET = re2.compile(
    r"socket\.socket|create_connection|socket\.connect|\bsocket\s*\(|IO::Socket|TCPSocket|net\.Socket"
    r"|net\.connect|createConnection|fsockopen|stream_socket_client|Sockets\.TCPClient|/dev/tcp/"
    r"|require\(\s*['\"](?:node:)?net['\"]\s*\)|/inet/tcp/|Socket\.new|socket\.create")
_SHELLISH = re2.compile(
    r"/bin/[a-z]*sh\b|cmd\.exe|powershell|dup2|pty\.spawn|['\"](?:ba|z|da)?sh['\"]|\bIEX\b"
    r"|Invoke-Expression|GetStream\(\)|spawn\(\s*['\"](?:/bin/)?(?:ba|z)?sh|proc_open|shell_exec"
    r"|exec\s*\(\s*['\"]/bin|\bsh\s+-i")
_ENV_DUMP = re2.compile(
    r"dict\(\s*os\.environ\s*\)|os\.environ\.copy\(\)|os\.environ\.items\(\)|json\.dumps\(\s*(?:dict\()?"
    r"os\.environ|str\(\s*os\.environ\s*\)|repr\(\s*os\.environ|\{\*\*os\.environ\}|JSON\.stringify\("
    r"\s*process\.env|Object\.(?:entries|keys|values)\(\s*process\.env|%ENV\b|ENV\.to_h|\bgetenv\(\)"
    r"|Get-ChildItem\s+env:|\bgci\s+env:|\bls\s+env:")
_SEND = re2.compile(
    r"requests\.(?:post|put|patch)|\.post\(|\.put\(|urlopen\([^)]*data|method\s*[:=]\s*['\"]"
    r"(?:POST|PUT)|\.send\(|sendall|\.write\(|http\.request|UploadString|UploadFile|UploadData"
    r"|-Method\s+(?:Post|Put)|\bfetch\(|smtplib|ftplib|paramiko|\.sendto\(|Net::HTTP\.post")
# string literals handed to a shell: os.system("..."), subprocess.run([...]), execSync("..."), `...`
_CALL_STR = re2.compile(
    r"""(?:system|popen|getoutput|getstatusoutput|check_output|check_call|call|run|Popen|execSync|exec"""
    r"""|spawnSync|spawn|execFile|shell_exec|passthru|proc_open|Start-Process|arg|Command)\s*\(\s*[frbu]?"""
    r"""(?:'([^'\n]+)'|"([^"\n]+)")""")
_CALL_LIST = re2.compile(
    r"""(?:check_output|check_call|call|run|Popen|spawn|spawnSync|execFile|execvp?|execlp?)\s*\(\s*\[\s*"""
    r"""((?:['"][^'"\n]*['"]\s*,\s*)*['"][^'"\n]*['"])\s*[,\]]""")
_BACKTICK = re2.compile(r"`([^`\n]+)`")
_ITEM = re2.compile(r"""['"]([^'"\n]*)['"]""")
_B64_LITERAL = re2.compile(r"[A-Za-z0-9+/]{16,}={0,2}|[A-Za-z0-9_-]{24,}={0,2}")
_HEX_LITERAL = re2.compile(r"(?:\\x[0-9a-fA-F]{2}){4,}|(?:[0-9a-fA-F]{2}){8,}")
_PATHISH = re2.compile(r"""['"]((?:~|/|\$HOME|\.)[^'"\s]+)['"]|expanduser\(\s*['"]([^'"]+)['"]""")


@dataclass
class CodeFacts:
    urls: list[str] = field(default_factory=list)  # URLs named in the code
    fetches: bool = False
    code_exec: bool = False  # runs code it builds (exec, eval, IEX)
    proc_exec: bool = False  # starts processes
    decodes: bool = False
    reverse_shell: bool = False
    credentials: list[str] = field(default_factory=list)  # credential paths it names
    env_dump: bool = False
    sends: bool = False
    shell_strings: list[str] = field(default_factory=list)  # commands for os.system & co
    decoded: list[str] = field(default_factory=list)  # decoded literals
    paths: list[str] = field(default_factory=list)  # path literals (where a download may be saved)


_ESCAPES = {"'": "'", '"': '"', "\\": "\\", "n": "\n", "t": "\t", "$": "$", "`": "`"}


def _unescape(text: str) -> str:
    """A string literal's value: ``\\'`` is ``'``, ``\\n`` a newline (other escapes stay)."""
    if "\\" not in text:
        return text
    out: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text) and text[i + 1] in _ESCAPES:
            out.append(_ESCAPES[text[i + 1]])
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def _looks_like_command(text: str) -> bool:
    t = text.strip()
    return " " in t and not t.startswith(("http", "#", "%", "{")) and 4 <= len(t) <= 4096


# The yes/no facts in one pass over the code (an RE2 set), in this order.
_FACTS = (_FETCH, _CODE_EXEC, _PROC_EXEC, _DECODE, _SOCKET, _SHELLISH, _ENV_DUMP, _SEND)
_FACT_SET = re2.Set.SearchSet(re2.Options())
for _rx in _FACTS:
    _FACT_SET.Add(_rx.pattern)
_FACT_SET.Compile()
del _rx


def analyse(code: str) -> CodeFacts:
    code = code[:MAX_CODE]
    f = CodeFacts()
    f.urls = [m.group(0).rstrip(".,;:'\"") for m in _URL.finditer(code)][:_MAX_ITEMS]
    hits = set(_FACT_SET.Match(code) or ())
    f.fetches, f.code_exec, f.proc_exec, f.decodes = 0 in hits, 1 in hits, 2 in hits, 3 in hits
    f.reverse_shell = 4 in hits and 5 in hits
    f.env_dump, f.sends = 6 in hits, 7 in hits
    for m in _PATHISH.finditer(code):
        path = m.group(1) or m.group(2) or ""
        if len(f.paths) < _MAX_ITEMS:
            f.paths.append(path)
        if credential_path(path) and len(f.credentials) < _MAX_ITEMS:
            f.credentials.append(path)
    if f.proc_exec:
        for m in _CALL_LIST.finditer(code):
            items = [_unescape(i.group(1)) for i in _ITEM.finditer(m.group(1))]
            if items:
                f.shell_strings.append(shlex.join(items))
        for rx in (_CALL_STR, _BACKTICK):
            for m in rx.finditer(code):
                text = _unescape(m.group(1) or (m.group(2) if rx is _CALL_STR else "") or "")
                if _looks_like_command(text):
                    f.shell_strings.append(text)
        del f.shell_strings[_MAX_ITEMS:]
    if ("rot13" in code or "rot_13" in code) and (f.code_exec or f.proc_exec):
        for m in _ITEM.finditer(code):
            text = rot13(m.group(1))
            if _looks_like_command(text) and len(f.decoded) < 8:
                f.decoded.append(text)
    if f.decodes or f.code_exec or f.proc_exec:
        for m in _B64_LITERAL.finditer(code):
            text = decode_base64(m.group(0))
            if text and len(f.decoded) < 8:
                f.decoded.append(text)
        for m in _HEX_LITERAL.finditer(code):
            text = decode_hex(m.group(0))
            if text and len(f.decoded) < 8:
                f.decoded.append(text)
    return f
