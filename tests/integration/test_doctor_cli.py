"""`relayguard doctor` as a user runs it, against throwaway virtual environments.

Each problem is planted in a venv made with ``python -m venv --without-pip``:
a litellm-style ``.pth`` (base64 blob + subprocess), a tampered file of a fake
distribution, a fake ``litellm-1.82.7.dist-info``, a loose key file in a fake
XDG_DATA_HOME and a distribution the given lock does not list.  doctor must
report each with the right kind and exit 1, report a clean venv (and this
project's own .venv against uv.lock) clean with exit 0, and never start the
inspected interpreter: the planted payload, if it ever ran, would write a
marker file (and do nothing else), and so would the fake venv's interpreter.

Also here: relayguard's own wheel contains no .pth file and nothing outside its
package, and an installed copy is checked against its RECORD.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import orjson
import pytest

ROOT = Path(__file__).resolve().parents[2]
PY = f"python{sys.version_info.major}.{sys.version_info.minor}"

PAYLOAD = ("import os, urllib.request\n"
           "targets = ['~/.aws/credentials', '~/.ssh/id_rsa', '~/.kube/config']\n"
           "req = urllib.request.Request('http://127.0.0.1:9/collect')\n"
           "open(os.environ.get('RG_DOCTOR_MARKER', os.devnull), 'w').write('payload ran')\n")
MALICIOUS_PTH = ("import os, subprocess, sys; subprocess.Popen([sys.executable, '-c', 'import base64; exec(base64."
                 f"b64decode(\"{base64.b64encode(PAYLOAD.encode()).decode()}\"))'])\n")


DOCTOR = [sys.executable, "-m", "relayguard", "doctor"]


def doctor(*args: str, env: dict[str, str] | None = None) -> tuple[int, dict]:
    full_env = {**os.environ, **(env or {})}
    r = subprocess.run([*DOCTOR, *args, "--json"], capture_output=True, timeout=120, env=full_env)
    assert r.returncode in (0, 1), r.stderr.decode()
    out = orjson.loads(r.stdout)
    assert set(out) == {"ok", "problems"} and out["ok"] is (r.returncode == 0)
    assert all(set(p) == {"kind", "path", "detail"} for p in out["problems"])
    return r.returncode, out


@pytest.fixture
def venv(tmp_path: Path) -> Path:
    """A fresh venv whose interpreter is replaced by a tripwire: running it writes a marker."""
    path = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True, timeout=120)
    for exe in (path / "bin").glob("python*"):
        exe.unlink()
        exe.write_text(f"#!/bin/sh\necho ran > {tmp_path / 'interpreter-ran'}\n")
        exe.chmod(0o755)
    return path


@pytest.fixture
def data_home(tmp_path: Path) -> Path:
    home = tmp_path / "data-home"
    (home / "relayguard").mkdir(parents=True, mode=0o700)
    return home


def site_of(venv: Path) -> Path:
    return venv / "lib" / PY / "site-packages"


def add_dist(site: Path, name: str, version: str, files: dict[str, str]) -> Path:
    info = site / f"{name}-{version}.dist-info"
    info.mkdir()
    meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    files = {**files, f"{info.name}/METADATA": meta}
    rows = []
    for rel, text in files.items():
        (site / rel).parent.mkdir(parents=True, exist_ok=True)
        (site / rel).write_text(text)
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        rows.append(f"{rel},sha256={digest},{len(text.encode())}")
    (info / "RECORD").write_text("\n".join(rows + [f"{info.name}/RECORD,,"]) + "\n")
    return info


def write_lock(path: Path, packages: dict[str, str]) -> Path:
    path.write_text('version = 1\nrequires-python = ">=3.11"\n\n' + "".join(
        f'[[package]]\nname = "{n}"\nversion = "{v}"\nsource = {{ registry = "https://pypi.org/simple" }}\n\n'
        for n, v in packages.items()))
    return path


def kinds(out: dict) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for p in out["problems"]:
        found.setdefault(p["kind"], []).append(Path(p["path"]).name)
    return found


def test_clean_venv_is_clean(venv, data_home, tmp_path):
    (data_home / "relayguard" / "vault.key").write_bytes(os.urandom(32))
    (data_home / "relayguard" / "vault.key").chmod(0o600)
    code, out = doctor("--python", str(venv / "bin" / "python"), "--all", env={"XDG_DATA_HOME": str(data_home)})
    assert (code, out) == (0, {"ok": True, "problems": []})
    assert not (tmp_path / "interpreter-ran").exists()


def test_standard_startup_files_and_a_locked_distribution_are_clean(venv, data_home, tmp_path):
    site = site_of(venv)
    (site / "distutils-precedence.pth").write_text(
        "import os; var = 'SETUPTOOLS_USE_DISTUTILS'; enabled = os.environ.get(var, 'local') == 'local'; "
        "enabled and __import__('_distutils_hack').add_shim(); \n")
    (site / "_distutils_hack").mkdir()
    (site / "_distutils_hack" / "__init__.py").write_text(
        "import os\nimport sys\n\nclass F:\n    def find_spec(self, name, path, target=None):\n        return None\n\n"
        "def add_shim():\n    sys.meta_path.insert(0, F())\n")
    (site / "__editable__.fakepkg-1.0.pth").write_text(
        "import __editable___fakepkg_1_0_finder; __editable___fakepkg_1_0_finder.install()\n")
    (site / "__editable___fakepkg_1_0_finder.py").write_text(
        "import sys\nfrom importlib.util import spec_from_file_location\nMAPPING = {'fakepkg': '/src/fakepkg'}\n"
        "class _EditableFinder:\n    @classmethod\n    def find_spec(cls, fullname, path=None, target=None):\n"
        "        return None\n\ndef install():\n    sys.meta_path.append(_EditableFinder)\n")
    (site / "_virtualenv.pth").write_text("import _virtualenv")
    (site / "_virtualenv.py").write_text("import os\nimport sys\nVIRTUALENV_PATCH_FILE = os.path.abspath(__file__)\n")
    (site / "paths.pth").write_text(f"# extra source trees\n{tmp_path}\n")
    add_dist(site, "fakepkg", "1.0", {"fakepkg/__init__.py": "X = 1\n"})
    lock = write_lock(tmp_path / "uv.lock", {"fakepkg": "1.0"})
    code, out = doctor("--python", str(venv / "bin" / "python"), "--all", "--lock", str(lock),
                       env={"XDG_DATA_HOME": str(data_home)})
    assert (code, out) == (0, {"ok": True, "problems": []})


def test_every_planted_problem_is_reported(venv, data_home, tmp_path):
    site = site_of(venv)
    marker = tmp_path / "payload-ran"
    (site / "litellm_init.pth").write_text(MALICIOUS_PTH)
    add_dist(site, "litellm", "1.82.7", {"litellm/__init__.py": "__version__ = '1.82.7'\n"})
    add_dist(site, "fakepkg", "1.0", {"fakepkg/__init__.py": "X = 1\n", "fakepkg/core.py": "def f():\n    return 1\n"})
    (site / "fakepkg" / "core.py").write_text("def f():\n    __import__('os').system('id')\n")
    add_dist(site, "extra", "0.1", {"extra/__init__.py": ""})
    key = data_home / "relayguard" / "vault.key"
    key.write_bytes(os.urandom(32))
    key.chmod(0o644)
    lock = write_lock(tmp_path / "uv.lock", {"fakepkg": "1.0", "litellm": "1.82.7"})
    code, out = doctor("--python", str(venv / "bin" / "python"), "--all", "--lock", str(lock),
                       env={"XDG_DATA_HOME": str(data_home), "RG_DOCTOR_MARKER": str(marker)})
    assert code == 1 and out["ok"] is False
    found = kinds(out)
    assert found["pth"] == ["litellm_init.pth"]
    assert sorted(found["advisory"]) == ["litellm-1.82.7.dist-info", "litellm_init.pth"]
    assert found["record"] == ["core.py"]
    assert found["lock"] == ["extra-0.1.dist-info"]
    assert found["permissions"] == ["vault.key"]
    assert set(found) == {"pth", "advisory", "record", "lock", "permissions"}
    pth_detail = next(p["detail"] for p in out["problems"] if p["kind"] == "pth")
    assert "subprocess.Popen" in pth_detail and "encoded blob" in pth_detail and "touches credentials" in pth_detail
    assert not marker.exists() and not (tmp_path / "interpreter-ran").exists()


def test_each_problem_alone(venv, data_home, tmp_path):
    """Each planted problem on its own gives exactly its kind (no false alarms from the others)."""
    python = str(venv / "bin" / "python")
    site = site_of(venv)
    env = {"XDG_DATA_HOME": str(data_home)}

    evil = site / "distutils-precedence.pth"  # a harmless tool's name, reused
    evil.write_text(MALICIOUS_PTH)
    assert kinds(doctor("--python", python, env=env)[1]) == {"pth": ["distutils-precedence.pth"]}
    evil.unlink()

    info = add_dist(site, "litellm", "1.82.8", {"litellm/__init__.py": ""})
    assert kinds(doctor("--python", python, env=env)[1]) == {"advisory": ["litellm-1.82.8.dist-info"]}
    shutil.rmtree(info)
    shutil.rmtree(site / "litellm")

    add_dist(site, "fakepkg", "1.0", {"fakepkg/__init__.py": "X = 1\n"})
    assert doctor("--python", python, "--all", env=env) == (0, {"ok": True, "problems": []})
    (site / "fakepkg" / "__init__.py").write_text("X = 2\n")
    assert doctor("--python", python, env=env)[0] == 0  # without --all only relayguard's own files are hashed
    assert kinds(doctor("--python", python, "--all", env=env)[1]) == {"record": ["__init__.py"]}
    (site / "fakepkg" / "__init__.py").write_text("X = 1\n")

    lock = write_lock(tmp_path / "uv.lock", {"other": "1.0"})
    assert kinds(doctor("--python", python, "--lock", str(lock), env=env)[1]) == {"lock": ["fakepkg-1.0.dist-info"]}

    signing = data_home / "relayguard" / "keys" / "signing.key"
    signing.parent.mkdir()
    signing.write_text("-----BEGIN PRIVATE KEY-----\n")
    signing.chmod(0o640)
    assert kinds(doctor("--python", python, env=env)[1]) == {"permissions": ["signing.key"]}
    signing.chmod(0o600)

    gateway = tmp_path / "gateway.toml"
    gateway.write_text('[egress]\nallow = ["api.openai.com", "paste.example.net"]\n'
                       '[[provider]]\nname = "openai"\nbase_url = "https://api.openai.com/v1"\n')
    assert kinds(doctor("--python", python, "--gateway-config", str(gateway), env=env)[1]) == \
        {"egress": ["gateway.toml"]}
    assert not (tmp_path / "interpreter-ran").exists()


def test_advisory_file_update(venv, data_home, tmp_path):
    add_dist(site_of(venv), "fakepkg", "1.0", {"fakepkg/__init__.py": ""})
    adv = tmp_path / "advisories.json"
    adv.write_text(orjson.dumps({"updated": "2099-01-01", "advisories": [
        {"id": "LOCAL-2099-1", "package": "fakepkg", "versions": ["1.0"], "published": "2099-01-01",
         "summary": "a release found compromised after this relayguard shipped"}]}).decode())
    code, out = doctor("--python", str(venv / "bin" / "python"), "--advisories", str(adv),
                       env={"XDG_DATA_HOME": str(data_home)})
    assert code == 1 and kinds(out) == {"advisory": ["fakepkg-1.0.dist-info"]}
    assert "LOCAL-2099-1" in out["problems"][0]["detail"]


def test_usage_errors_exit_2(tmp_path):
    r = subprocess.run([*DOCTOR, "--python", str(tmp_path / "no-such-python")], capture_output=True, timeout=60)
    assert r.returncode == 2 and b"no such file" in r.stderr
    r = subprocess.run([*DOCTOR, "--no-such-flag"], capture_output=True, timeout=60)
    assert r.returncode == 2


def test_readable_table(venv, data_home):
    (site_of(venv) / "zz_evil.pth").write_text(MALICIOUS_PTH)
    r = subprocess.run([*DOCTOR, "--python", str(venv / "bin" / "python")], capture_output=True, timeout=60,
                       env={**os.environ, "XDG_DATA_HOME": str(data_home)})
    text = r.stdout.decode()
    assert r.returncode == 1
    assert "KIND" in text and "zz_evil.pth" in text and "1 problem found." in text and "site-packages:" in text


def test_project_venv_is_clean():
    """This project's own environment, against its lock, with every RECORD checked.  A failure
    here is a real finding about the development environment: read the problems it lists."""
    python = ROOT / ".venv" / "bin" / "python"
    if not python.exists():
        pytest.skip("no project .venv (run `uv sync --frozen`)")
    code, out = doctor("--python", str(python), "--all", "--lock", str(ROOT / "uv.lock"))
    assert (code, out) == (0, {"ok": True, "problems": []}), out
    code, out = doctor("--all")  # the environment the tests run in (the same .venv under `make test`)
    assert (code, out) == (0, {"ok": True, "problems": []}), out


def _uv() -> str | None:
    local = ROOT / ".tools" / "bin" / "uv"
    return shutil.which("uv") or (str(local) if local.is_file() else None)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    uv = _uv()
    if uv is None:
        pytest.skip("uv is not installed (`make test` installs the pinned one)")
    out = tmp_path_factory.mktemp("wheel")
    r = subprocess.run([uv, "build", "--wheel", "--out-dir", str(out), str(ROOT)], capture_output=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr.decode()[-3000:]
    wheels = list(out.glob("relayguard-*.whl"))
    assert len(wheels) == 1
    return wheels[0]


def test_wheel_holds_only_the_package(wheel):
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        version = wheel.name.split("-")[1]
        info = f"relayguard-{version}.dist-info/"
        assert not [n for n in names if n.endswith(".pth")], names
        outside = [n for n in names if not n.startswith(("relayguard/", info))]
        assert outside == [], outside
        assert not [n for n in names if "__pycache__" in n or n.endswith((".pyc", ".so"))]
        assert "relayguard/doctor/advisories.json" in names and "relayguard/__init__.py" in names
        # RECORD lists every file with its hash, so an installed copy can be checked
        rows = [line.split(",") for line in zf.read(info + "RECORD").decode().splitlines() if line]
        listed = {r[0]: r[1] for r in rows}
        assert set(listed) == set(names)
        for name in names:
            if name != info + "RECORD":
                digest = base64.urlsafe_b64encode(hashlib.sha256(zf.read(name)).digest()).rstrip(b"=").decode()
                assert listed[name] == f"sha256={digest}", name
        entry_points = zf.read(info + "entry_points.txt").decode()
        assert "relayguard = relayguard.cli:main" in entry_points


def test_installed_wheel_is_verified_against_its_record(wheel, tmp_path, data_home):
    uv = _uv()
    assert uv is not None
    venv = tmp_path / "installed"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    # uv asks this (clean, nothing planted) interpreter where it installs; doctor never runs it
    r = subprocess.run([uv, "pip", "install", "--python", str(python), "--no-deps", "--offline", str(wheel)],
                       capture_output=True, timeout=300)
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    env = {"XDG_DATA_HOME": str(data_home)}
    assert doctor("--python", str(python), env=env) == (0, {"ok": True, "problems": []})
    installed = site_of(venv) / "relayguard" / "cli.py"
    installed.write_text(installed.read_text() + "\n__import__('os').system('id')\n")
    code, out = doctor("--python", str(python), env=env)  # relayguard's own files, without --all
    assert code == 1 and kinds(out) == {"record": ["cli.py"]}
    (site_of(venv) / "relayguard" / "backdoor.py").write_text("")
    code, out = doctor("--python", str(python), env=env)
    assert kinds(out) == {"record": ["cli.py", "backdoor.py"]}


def _requirements(text: str) -> dict[str, tuple[str, frozenset[str]]]:
    pins: dict[str, tuple[str, frozenset[str]]] = {}
    for entry in text.replace("\\\n", " ").splitlines():
        entry = entry.split("#", 1)[0].strip()
        if entry:
            spec, *hashes = entry.split("--hash=")
            name, version = spec.split(";")[0].strip().split("==")
            pins[name] = (version, frozenset(h.strip() for h in hashes))
    return pins


def test_committed_exports_match_the_lock(tmp_path):
    """requirements.lock.txt and sbom.cdx.json are regenerated from uv.lock and compared: same
    packages, versions and hashes; runtime only (no dev tools, not relayguard itself)."""
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "export_supply_chain.py"), "--no-uv", "--out",
                        str(tmp_path)], capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr.decode()
    fresh = _requirements((tmp_path / "requirements.lock.txt").read_text())
    committed = _requirements((ROOT / "requirements.lock.txt").read_text())
    assert committed == fresh, "run: python tools/export_supply_chain.py"
    assert {"aiohttp", "cryptography", "orjson", "rfc8785"} <= set(committed)
    assert not {"pytest", "hypothesis", "relayguard"} & set(committed)
    assert all(hashes and all(h.startswith("sha256:") for h in hashes) for _, hashes in committed.values())

    sbom = orjson.loads((ROOT / "sbom.cdx.json").read_bytes())
    assert (sbom["bomFormat"], sbom["specVersion"]) == ("CycloneDX", "1.5")
    assert sbom["metadata"]["component"]["purl"].startswith("pkg:pypi/relayguard@")
    components = {c["name"]: c for c in sbom["components"]}
    assert set(components) == set(committed)
    for name, (version, hashes) in committed.items():
        c = components[name]
        assert c["purl"] == f"pkg:pypi/{name}@{version}" and c["version"] == version
        assert {f"sha256:{h['content']}" for h in c["hashes"]} == hashes
    assert orjson.loads((tmp_path / "sbom.cdx.json").read_bytes())["components"] == sbom["components"]
