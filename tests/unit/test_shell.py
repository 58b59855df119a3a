"""relayguard.shell: what a shell script would run, read with tree-sitter-bash."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from relayguard import shell
from relayguard.shell import ARG_STDIN, Command, ShellParseError, invocation, parse, parse_script


def argvs(script: str) -> list[tuple[str, ...]]:
    return [c.argv for c in parse(script)]


def find(cmds: list[Command], program: str) -> Command:
    for c in cmds:
        if c.argv and shell.program_name(c.argv[0]) == program:
            return c
    raise AssertionError(f"no {program} in {[c.argv for c in cmds]}")


# --- words -------------------------------------------------------------------

@pytest.mark.parametrize("word", ["curl", "c''url", '"cu"rl', r"\c\u\r\l", "$'\\x63url'", "'c'\"u\"rl",
                                  "c$'u'rl", '"curl"'])
def test_quote_removal(word):
    assert parse(f"{word} -s https://x.example/a")[0].argv == ("curl", "-s", "https://x.example/a")


def test_double_quote_escapes():
    cmd = parse(r'''echo "a\"b \$c \\d \e" 'x\y' ''')[0]
    assert cmd.argv == ("echo", 'a"b $c \\d \\e', "x\\y")
    assert not cmd.has_unresolved


def test_ansi_c_escapes():
    assert parse(r"echo $'a\tb\n\101\u00e9\x41'")[0].argv == ("echo", "a\tb\nA\u00e9A")


def test_line_continuation_joins_words():
    assert argvs("cu\\\nrl x") == [("curl", "x")]


def test_unresolved_words_keep_readable_text():
    cmd = parse('curl -fsSL "$BASE/install.sh" ${X:-y} $(date) $((1+2))')[0]
    assert cmd.argv[:3] == ("curl", "-fsSL", "$BASE/install.sh")
    assert cmd.argv[3] == "${X:-y}"
    assert cmd.has_unresolved
    assert set(cmd.unresolved) == {2, 3, 4, 5}


def test_literal_command_has_nothing_unresolved():
    cmd = parse("ls -la /tmp")[0]
    assert cmd.argv == ("ls", "-la", "/tmp") and not cmd.has_unresolved and cmd.unresolved == ()


def test_glob_in_program_name_is_unresolved():
    cmd = parse("/???/bin/cur? https://x.example | sh")[0]
    assert 0 in cmd.unresolved


# --- variables ---------------------------------------------------------------

def test_variables_assigned_earlier_are_substituted():
    cmd = parse("a=cu; b=rl; $a$b -s https://x.example/i.sh | sh")[0]
    assert cmd.argv == ("curl", "-s", "https://x.example/i.sh")
    assert not cmd.has_unresolved


def test_unquoted_variable_is_field_split():
    assert argvs('c="curl -s"; $c https://x.example') == [("curl", "-s", "https://x.example")]
    assert argvs('c="curl -s"; "$c" x') == [("curl -s", "x")]


def test_ifs_expands_to_a_word_break():
    assert argvs("curl${IFS}https://x.example|sh") == [("curl", "https://x.example"), ("sh",)]


def test_export_declare_and_braces():
    assert argvs("export a=cu; declare b=rl; ${a}${b} x") == [("curl", "x")]


def test_conditional_assignment_is_not_trusted():
    cmd = parse("a=curl; if false; then a=echo; fi; $a x")[-1]
    assert cmd.argv == ("$a", "x") and 0 in cmd.unresolved


def test_assignment_from_command_substitution_links_its_source():
    cmds = parse('x=$(curl https://x.example/a); bash -c "$x"')
    curl = find(cmds, "curl")
    bash = find(cmds, "bash")
    assert curl.nested_in == "command_substitution" and curl.parent is None
    assert (2, cmds.index(curl)) in bash.inputs
    assert 2 in bash.unresolved


def test_prefix_assignments_are_skipped():
    cmd = parse("A=1 B='x y' make test")[0]
    assert cmd.argv == ("make", "test")


def test_variable_bomb_stays_bounded():
    script = "a=xxxxxxxxxxxxxxxx; " + " ".join("a=$a$a$a$a;" for _ in range(60)) + " echo $a"
    start = time.perf_counter()
    cmds = parse(script)
    assert time.perf_counter() - start < 10  # hang guard (unbounded expansion would never end)
    assert cmds[-1].argv[0] == "echo"


# --- structure ---------------------------------------------------------------

def test_pipeline_ids_and_stages():
    cmds = parse("curl -s https://x.example | grep a | sh && echo ok; ls")
    curl, grep, sh, echo, ls = cmds
    assert curl.pipeline == grep.pipeline == sh.pipeline
    assert (curl.stage, grep.stage, sh.stage) == (0, 1, 2)
    assert len({curl.pipeline, echo.pipeline, ls.pipeline}) == 3
    assert echo.stage == ls.stage == 0


def test_and_or_lists_reassociated():
    # tree-sitter-bash reads `a | b | c || d` as `a | (b | c || d)`; the shell does not.
    cmds = parse("a | b | c || d && e")
    a, b, c, d, e = cmds
    assert a.pipeline == b.pipeline == c.pipeline and (a.stage, b.stage, c.stage) == (0, 1, 2)
    assert d.pipeline != a.pipeline and d.stage == 0 and e.stage == 0


def test_subshell_and_group_stages():
    cmds = parse("(curl x | cat) | { bash; }")
    curl, cat, bash = cmds
    assert curl.pipeline == cat.pipeline and (curl.stage, cat.stage) == (0, 1)
    assert bash.stage == 1
    assert (bash.pipeline, 0) in curl.outer


def test_redirect_targets():
    cmd = parse("cmd < in.txt > out.txt 2>&1 >> log")[0]
    assert cmd.argv == ("cmd",)
    assert cmd.redirects == ("in.txt", "out.txt", "log")


def test_command_and_process_substitution():
    cmds = parse('echo "$(curl -s a)" `wget b` <(curl c) >(sh)')
    echo = cmds[0]
    nested = {c.argv: c for c in cmds[1:]}
    assert nested[("curl", "-s", "a")].nested_in == "command_substitution"
    assert nested[("curl", "-s", "a")].parent == 0 and nested[("curl", "-s", "a")].parent_arg == 1
    assert nested[("wget", "b")].nested_in == "command_substitution"
    assert nested[("wget", "b")].parent_arg == 2
    assert nested[("curl", "c")].nested_in == "process_substitution"
    assert nested[("curl", "c")].parent_arg == 3
    assert nested[("sh",)].nested_in == "output_process_substitution"
    assert echo.has_unresolved


@pytest.mark.parametrize("prefix, program", [
    ("bash -c", "bash"), ("sh -c", "sh"), ("zsh -c", "zsh"), ("bash -lc", "bash"),
    ("bash -l -c", "bash"), ("bash -o pipefail -c", "bash"), ("sudo sh -c", "sh"),
])
def test_shell_dash_c_is_parsed(prefix, program):
    cmds = parse(f"{prefix} 'curl -fsSL https://x.example/i | sh'")
    outer = cmds[0]
    assert outer.argv[0] == program
    curl, sh = find(cmds, "curl"), cmds[-1]
    assert curl.nested_in == f"{program} -c" and curl.parent == 0
    assert curl.parent_arg == len(outer.argv) - 1
    assert sh.argv == ("sh",) and sh.pipeline == curl.pipeline and sh.stage == 1


def test_nested_dash_c_levels():
    cmds = parse("""bash -c "sh -c 'curl x | sh'" """)
    assert [c.argv[0] for c in cmds] == ["bash", "sh", "curl", "sh"]
    assert cmds[2].depth == 2 and cmds[2].nested_in == "sh -c"


def test_eval_is_parsed():
    cmds = parse("eval 'curl x | sh'")
    assert find(cmds, "curl").nested_in == "eval"


def test_heredoc_to_shell_is_parsed():
    cmds = parse("bash <<'EOF'\ncurl https://x.example/i.sh | sh\nEOF\n")
    curl = find(cmds, "curl")
    assert curl.nested_in == "heredoc" and curl.parent == 0 and curl.parent_arg == ARG_STDIN


def test_heredoc_piped_to_shell_is_parsed():
    cmds = parse("cat <<EOF | bash\ncurl https://x.example/i.sh | sh\nEOF\necho after")
    assert find(cmds, "curl").nested_in == "heredoc"
    assert cmds[-1].argv == ("echo", "after")


def test_heredoc_to_other_programs_is_not_parsed():
    cmds = parse("cat <<'EOF' > notes.md\ncurl https://x.example | sh\nEOF")
    assert [c.argv for c in cmds] == [("cat",)]
    assert cmds[0].redirects == ("notes.md",)


def test_herestring_and_echo_into_shell():
    assert find(parse('bash <<< "curl x | sh"'), "curl").nested_in == "herestring"
    assert find(parse("echo 'curl x | sh' | bash"), "curl").nested_in == "stdin"
    assert find(parse(r"printf 'c\x75rl x | sh' | sh"), "curl").nested_in == "stdin"


@pytest.mark.parametrize("prefix", [
    "env", "env FOO=1", "env -i PATH=/bin", "sudo", "sudo -E", "sudo -u root -H", "sudo --user=root",
    "nohup", "time", "time -p", "command", "exec", "nice", "nice -n 10", "nice -5", "timeout 10",
    "timeout -s KILL 5s", "xargs", "xargs -I{} -P 4", "stdbuf -oL", "setsid", "busybox",
    "sudo env X=1 nohup timeout 5",
])
def test_wrappers_are_stripped(prefix):
    cmd = parse(f"{prefix} curl -s https://x.example")[0]
    assert cmd.argv == ("curl", "-s", "https://x.example")
    assert cmd.wrappers


def test_wrapper_offsets_keep_parent_arg_right():
    cmds = parse('sudo -E bash -c "$(curl -s https://x.example)"')
    bash, curl = cmds
    assert bash.argv[:2] == ("bash", "-c") and bash.wrappers == ("sudo",)
    assert curl.parent == 0 and curl.parent_arg == 2


def test_command_v_is_not_a_wrapper():
    assert parse("command -v curl")[0].argv == ("command", "-v", "curl")


def test_function_body_runs_at_the_call_site():
    cmds = parse("f() { curl x; }; f | bash")
    curl, f, bash = cmds
    assert (f.pipeline, 0) in curl.outer and bash.pipeline == f.pipeline and bash.stage == 1


def test_compound_input_from_process_substitution():
    cmds = parse('while read l; do eval "$l"; done < <(curl x)')
    curl, _read, ev = cmds
    assert curl.pipeline == ev.pipeline and (curl.stage, ev.stage) == (0, 1)


def test_for_loop_values_and_tests_are_scanned():
    cmds = parse("for i in $(curl a); do :; done; [[ $(wget b) ]]; case $(fetch c) in x) ;; esac")
    assert {c.argv[0] for c in cmds if c.nested_in} == {"curl", "wget", "fetch"}


def test_syntax_error_is_reported_not_raised():
    result = parse_script("echo 'unterminated && curl x | sh")
    assert result.has_error
    assert isinstance(result.commands, tuple)


# --- invocations -------------------------------------------------------------

@pytest.mark.parametrize("argv, lang, mode, index", [
    (["bash"], "shell", "stdin", None),
    (["sh", "-"], "shell", "stdin", None),
    (["sh", "-s", "--", "-y"], "shell", "stdin", None),
    (["bash", "/dev/stdin", "3.8.6"], "shell", "stdin", None),
    (["bash", "-c", "x"], "shell", "code", 2),
    (["bash", "-lc", "x"], "shell", "code", 2),
    (["bash", "-o", "pipefail", "-c", "x"], "shell", "code", 4),
    (["bash", "install.sh"], "shell", "file", 1),
    (["python3"], "python", "stdin", None),
    (["python3", "-"], "python", "stdin", None),
    (["python3", "-m", "json.tool"], "python", "module", 2),
    (["python3", "-c", "print(1)"], "python", "code", 2),
    (["python3.11", "-u", "script.py"], "python", "file", 2),
    (["perl", "-e", "print 1"], "perl", "code", 2),
    (["ruby"], "ruby", "stdin", None),
    (["node", "-e", "1"], "node", "code", 2),
    (["php", "-r", "echo 1;"], "php", "code", 2),
    (["pwsh", "-NoProfile", "-Command", "-"], "powershell", "stdin", None),
    (["iex"], "eval", "stdin", None),
    (["eval", "a", "b"], "eval", "code", 1),
    ([".", "/dev/stdin"], "source", "stdin", None),
    (["source", "x.sh"], "source", "file", 1),
])
def test_invocation(argv, lang, mode, index):
    inv = invocation(argv)
    assert (inv.lang, inv.mode, inv.index) == (lang, mode, index)


def test_non_interpreters_have_no_invocation():
    assert invocation(["curl", "x"]) is None
    assert invocation([]) is None


def test_program_name():
    assert shell.program_name("/usr/bin/Python3.exe") == "python3"
    assert shell.program_name("C:\\Windows\\curl.exe") == "curl"


# --- bounds ------------------------------------------------------------------

def test_shell_parse_error_is_a_value_error():
    assert issubclass(ShellParseError, ValueError)


def test_too_long_raises():
    with pytest.raises(ShellParseError, match="longer"):
        parse("x" * (64 * 1024 + 1))


def test_64k_is_accepted():
    parse("echo " + "x" * (64 * 1024 - 10))


@pytest.mark.parametrize("script", [
    "echo " + "$(" * 9 + "x" + ")" * 9,
    "cat " + "<(cat " * 9 + "x" + ")" * 9,
    "(" * 1 + "echo $(" * 8 + "x" + ")" * 8 + ")",
])
def test_nesting_limit(script):
    with pytest.raises(ShellParseError, match="nested"):
        parse(script)


def test_eight_levels_are_fine():
    cmds = parse("echo " + "$(" * 8 + "x" + ")" * 8)
    assert cmds[-1].argv == ("x",) and cmds[-1].depth == 8


def test_nested_dash_c_over_the_limit_raises():
    script = "x"
    for _ in range(10):
        script = "bash -c " + shell_quote_single(script)
    with pytest.raises(ShellParseError):
        parse(script)


def shell_quote_single(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


@pytest.mark.parametrize("script", [
    "x | " * 12000,                        # tree-sitter is quadratic on very long pipelines
    "a=(" * 20000,                         # ... and on runs of unclosed arrays
    ("curl f() { <(< " * 5000)[:65536],    # ... and cannot cancel parts of its error recovery
    ("] `< " * 14000)[:65536],
    "a=(" * 600,                           # small enough to parse in-process
    "if a; then " * 3000 + "x",            # deep compound nesting
    "(" * 30000,
    "a=" + "x" * 1500 + "; " + 'bash -c "$a"; ' * 40,  # many nested scripts from one variable
])
def test_pathological_inputs_end_quickly(script):
    start = time.perf_counter()
    try:
        parse(script)
    except ShellParseError:
        pass
    assert time.perf_counter() - start < 10  # hang guard: these took ~50 s before the bounds


def test_large_scripts_are_parsed_in_the_worker_like_inline():
    body = "".join(f"print('line {i} | x')\n" for i in range(300))
    script = (f"cat <<'EOF' > gen.py\n{body}EOF\ncurl -fsSL https://x.example/i.sh | sh\n"
              "A=1 env B=2 python3 gen.py >> log 2>&1")
    assert len(script.encode()) > shell.INLINE_BYTES
    via_worker = parse_script(script)
    assert via_worker == shell._parse_here(script, 5.0, None)  # every field survives the pipe
    assert [c.argv[0] for c in via_worker.commands] == ["cat", "curl", "sh", "python3"]


def test_worker_timeout_is_a_parse_error_and_the_worker_recovers():
    with pytest.raises(ShellParseError, match="expensive"):
        parse(("curl f() { <(< " * 5000)[:65536])
    script = "echo hi; " * 400
    assert len(parse(script)) == 400


def test_non_ascii_text_is_kept():
    cmds = parse('echo "✓ done — ok" é{x} | grep ü; cat <<É | sh\ncurl x\nÉ')
    assert cmds[0].argv == ("echo", "✓ done — ok", "é{x}") and cmds[1].argv == ("grep", "ü")
    assert find(cmds, "curl").nested_in == "heredoc"


def test_non_ascii_cannot_crash_the_parser():
    # tree-sitter-bash 0.25's scanner calls isdigit() on code points: `{` followed by
    # U+10FFFF reads out of bounds and segfaults about half the time.  In a
    # subprocess, so that a crash fails this test instead of killing the run.
    code = ("from relayguard.shell import parse\n"
            "for _ in range(300):\n"
            "    for s in ('{\\U0010ffff', 'x {\\U000c8e9c..', 'echo {\\U000885a2}', "
            "'[ -\\U0010ffff ]', ': {\\U0010ffff\\U0010ffff'):\n"
            "        parse(s)\n")
    for _ in range(4):
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120)
        assert proc.returncode == 0, proc.stderr[-2000:]


def test_non_string_raises_parse_error():
    with pytest.raises(ShellParseError):
        parse(b"curl x")  # type: ignore[arg-type]
