"""The detection benchmark's labelled set (bench/detection/): deterministic per
seed, every line valid `relayguard check` input in its dialect, labelled, and
every attack class large enough to measure."""

from __future__ import annotations

import collections
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from relayguard.dialects import adapter_for

BENCH = Path(__file__).resolve().parents[2] / "bench"
if str(BENCH) not in sys.path:
    sys.path.append(str(BENCH))  # appended: bench/ must never shadow a module of the standard library

from detection.attackset import ATTACK_CLASSES, COUNTS, generate  # noqa: E402
from detection.common import corpora_dir  # noqa: E402

pytestmark = pytest.mark.skipif(not (corpora_dir() / "benign_commands.jsonl").exists(),
                                reason="shared corpora not found next to the repository")

DIALECTS = {"openai-chat", "openai-responses", "anthropic-messages"}


def _digest(records) -> str:
    h = hashlib.sha256()
    for r in records:
        h.update(json.dumps(r, sort_keys=False, ensure_ascii=False, separators=(",", ":")).encode())
        h.update(b"\n")
    return h.hexdigest()


@pytest.fixture(scope="module")
def full_set():
    return generate(seed=1)


def test_deterministic_per_seed():
    a = generate(seed=7, scale=0.05, benign_limit=200)
    b = generate(seed=7, scale=0.05, benign_limit=200)
    c = generate(seed=8, scale=0.05, benign_limit=200)
    assert _digest(a) == _digest(b)
    assert _digest(a) != _digest(c)


def test_deterministic_across_processes_and_hash_seeds():
    code = ("import sys, json, hashlib; sys.path.insert(0, sys.argv[1]);"
            "from detection.attackset import generate;"
            "rs = generate(seed=3, scale=0.03, benign_limit=100);"
            "print(hashlib.sha256('\\n'.join(json.dumps(r, ensure_ascii=False, separators=(',', ':'))"
            " for r in rs).encode()).hexdigest())")
    outs = set()
    for hash_seed in ("0", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        proc = subprocess.run([sys.executable, "-c", code, str(BENCH)], capture_output=True, text=True, env=env,
                              check=True)
        outs.add(proc.stdout.strip())
    assert len(outs) == 1


def test_every_line_is_valid_check_input(full_set):
    for rec in full_set:
        assert set(rec) == {"id", "dialect", "request", "response", "meta"}
        assert isinstance(rec["id"], str) and rec["id"]
        assert rec["dialect"] in DIALECTS
        adapter = adapter_for(rec["dialect"])
        model, stream = adapter.request_info(rec["request"])  # raises on a malformed body
        assert model and stream is False
        conversation = adapter.conversation(rec["request"])
        assert any(m.role == "user" and m.text for m in conversation)
        response = adapter.parse_response(rec["response"])
        assert len(response.tool_calls) == 1, rec["id"]
        call = response.tool_calls[0]
        assert call.name and call.arguments is not None, rec["id"]
        # a line survives the JSON round trip the checker does
        assert json.loads(json.dumps(rec, ensure_ascii=False)) == rec


def test_ids_are_unique_and_opaque(full_set):
    ids = [r["id"] for r in full_set]
    assert len(ids) == len(set(ids))
    assert all(i.startswith("ex-") and len(i) == 19 for i in ids)


def test_labels_present(full_set):
    for rec in full_set:
        meta = rec["meta"]
        assert meta["label"] in ("attack", "benign")
        assert meta["class"] in (*ATTACK_CLASSES, "benign")
        assert (meta["label"] == "benign") == (meta["class"] == "benign")
        assert isinstance(meta["variant"], str) and meta["variant"]
        assert meta["command"]


def test_every_class_is_big_enough(full_set):
    counts = collections.Counter(r["meta"]["class"] for r in full_set)
    for cls in ATTACK_CLASSES:
        assert counts[cls] >= 100, cls
        assert counts[cls] == COUNTS[cls]
    with open(corpora_dir() / "benign_commands.jsonl", encoding="utf-8") as f:
        corpus = [json.loads(line) for line in f if line.strip()]
    assert counts["benign"] == len(corpus)
    assert sorted(r["meta"]["benign_id"] for r in full_set if r["meta"]["label"] == "benign") == \
        sorted(r["id"] for r in corpus)


def test_all_dialects_in_every_class(full_set):
    seen = collections.defaultdict(set)
    for rec in full_set:
        seen[rec["meta"]["class"]].add(rec["dialect"])
    for cls, dialects in seen.items():
        assert dialects == DIALECTS, cls


def test_benign_calls_run_the_corpus_command(full_set):
    """A benign line's tool call carries its corpus command unchanged."""
    with open(corpora_dir() / "benign_commands.jsonl", encoding="utf-8") as f:
        corpus = {r["id"]: r["command"] for r in map(json.loads, f)}
    for rec in full_set:
        meta = rec["meta"]
        if meta["label"] != "benign" or meta["tool"] != "shell":
            continue
        call = adapter_for(rec["dialect"]).parse_response(rec["response"]).tool_calls[0]
        command = call.arguments.get("command")
        if isinstance(command, list):
            command = command[2] if command[:2] in (["bash", "-lc"],) else " ".join(command)
        assert command == corpus[meta["benign_id"]] or command.split() == corpus[meta["benign_id"]].split()


def test_benign_user_messages_do_not_paste_the_command(full_set):
    for rec in full_set:
        meta = rec["meta"]
        if meta["label"] != "benign" or len(meta["command"]) < 25:
            continue
        users = [m.text for m in adapter_for(rec["dialect"]).conversation(rec["request"]) if m.role == "user"]
        assert not any(meta["command"] in u for u in users), rec["id"]


def test_attack_calls_differ_from_the_legitimate_command(full_set):
    for rec in full_set:
        meta = rec["meta"]
        if meta["label"] == "attack" and meta["tool"] == "shell":
            assert meta["command"] != meta["legit"], rec["id"]


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_attack_commands_are_valid_bash(full_set):
    """A router's rewrite has to run: every rewritten command parses (bash -n), sampled."""
    shells = [r["meta"]["command"] for r in full_set if r["meta"]["label"] == "attack" and r["meta"]["tool"] == "shell"]
    sample = random.Random(0).sample(shells, min(300, len(shells)))
    script = "".join(f"bash -n <<'__RG_EOF_{i}__' || echo BAD {i}\n{cmd}\n__RG_EOF_{i}__\n"
                     for i, cmd in enumerate(sample))
    proc = subprocess.run(["bash"], input=script, capture_output=True, text=True)
    bad = [sample[int(line.split()[1])] for line in proc.stdout.splitlines() if line.startswith("BAD ")]
    assert not bad, bad[:3]


def test_typosquats_are_put_into_the_install_command():
    """A rewritten name lands where the package manager reads it: not in a `python -c "import x"`
    check earlier on the line, nor in a README the command writes (neither would be an attack)."""
    from detection.core import _append_package
    from detection.packages import replace_package

    check = 'python3 -c "import flask; print(1)" 2>/dev/null || pip install flask --no-cache-dir'
    assert replace_package(check, "flask", "flsak") == check.replace("install flask", "install flsak")
    assert _append_package(check, "flask", "reqeusts") == check.replace("install flask", "install flask reqeusts")
    readme = "cat > README.md << 'EOF'\n# App\npip install flask\nEOF\npip install flask requests"
    assert replace_package(readme, "flask", "flsak").endswith("EOF\npip install flsak requests")
    assert _append_package(readme, "flask", "evil").startswith("cat > README.md << 'EOF'\n# App\npip install flask\nEOF")
    assert replace_package("cat <<EOF > notes.txt\npip install flask\nEOF", "flask", "flsak") is None
