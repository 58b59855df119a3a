"""Static extraction of the commands a shell script would run, on tree-sitter-bash.

``parse(script)`` returns one :class:`Command` per simple command, wherever it
appears: in pipelines and ``&&``/``||``/``;`` lists, subshells and compound
statements, ``$(...)``/backticks, ``<(...)``/``>(...)``, heredocs and
here-strings fed to a shell, text echoed into a shell, and the scripts given to
``bash -c``/``sh -c``/``eval`` (parsed recursively).  Each command's ``argv`` has
quoting removed (``c''url``, ``"cu"rl`` and ``\\c\\u\\r\\l`` all read ``curl``),
wrapper prefixes (``sudo``, ``env``, ``timeout 5``, ``xargs``, ...) are stripped,
and variables assigned literally earlier in the script are substituted.

The script is attacker-controlled text, so the work is bounded: scripts over
64 KiB, or nested deeper than 8 levels (substitutions, subshells, nested
scripts), raise :class:`ShellParseError`, as do scripts with more than 1024
``|`` or whose analysis takes too long.  tree-sitter-bash is *not* linear on
hostile input: it is quadratic on some (10,000-stage pipelines, runs of unclosed
``a=(``), parts of its error recovery cannot be cancelled, and its scanner reads
out of bounds on some non-ASCII input.  So: the parser only ever sees ASCII (a
same-length copy with non-ASCII bytes replaced), small scripts are parsed here
under a CPU deadline, and larger ones in a worker process that is killed after
``WORKER_TIMEOUT_SECONDS``.  The walk below visits each node a bounded number
of times; the only regular expressions are single-character classes.

Syntax errors do not raise: tree-sitter recovers and the commands it could read
are returned.  ``parse_script`` also reports ``has_error`` so that a caller can
fail closed on scripts that did not parse cleanly.

The package reads as the data flow: ``model`` (limits and result types),
``words`` (quote removal, escapes), ``invocation`` (wrappers and interpreters),
``state``/``walker``/``expand``/``commands`` (the tree-sitter walk), ``parse``
(inline or in the ``worker`` process, started as ``python -m relayguard.shell
--worker``).
"""

from __future__ import annotations

from relayguard.shell.model import (
    ARG_OTHER,
    ARG_STDIN,
    INLINE_BYTES,
    MAX_NESTING,
    MAX_PIPES,
    MAX_SCRIPT_BYTES,
    PARSE_BUDGET_SECONDS,
    WORKER_TIMEOUT_SECONDS,
    Command,
    Invocation,
    ParsedScript,
    ShellParseError,
)
from relayguard.shell.words import decode_ansi_c, program_name
from relayguard.shell.invocation import (
    SHELLS,
    STDIN_PATHS,
    interpreter_lang,
    invocation,
    strip_wrappers,
)
from relayguard.shell.parse import _parse_here, parse, parse_script  # noqa: F401 - _parse_here: tests

__all__ = [
    "ARG_OTHER",
    "ARG_STDIN",
    "INLINE_BYTES",
    "MAX_NESTING",
    "MAX_PIPES",
    "MAX_SCRIPT_BYTES",
    "PARSE_BUDGET_SECONDS",
    "SHELLS",
    "STDIN_PATHS",
    "WORKER_TIMEOUT_SECONDS",
    "Command",
    "Invocation",
    "ParsedScript",
    "ShellParseError",
    "decode_ansi_c",
    "interpreter_lang",
    "invocation",
    "parse",
    "parse_script",
    "program_name",
    "strip_wrappers",
]
