"""The transparency log through the guard and the `relayguard log` commands."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import orjson
import pytest

from relayguard.testing import procs
from relayguard.testing.client import PATHS, agent_request, headers_for, post_json

DIALECTS = ("openai-chat", "openai-responses", "anthropic-messages")


def log_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "relayguard", "log", *args], capture_output=True, text=True,
                          timeout=120)


@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    root = tmp_path_factory.mktemp("log")
    path = str(root / "guard.sqlite")
    with procs.start("mock-provider") as mock, \
            procs.start("redteam", "--upstream", mock.url, "--attack", "ac1") as router, \
            procs.start("guard", "--upstream", router.url, "--log", path) as guard:
        for dialect in DIALECTS:
            for stream in (False, True):
                reply = post_json(guard.url, PATHS[dialect], agent_request(dialect, "install rust", stream=stream),
                                  headers_for(dialect))
                assert reply.status == 200
        assert guard.stop() == 0  # shutdown waits for pending appends and signs a final head
    return path, router.url


def test_every_exchange_is_logged_and_verifies(logged):
    path, _ = logged
    result = log_cli("verify", "--log", path)
    assert result.returncode == 0, result.stderr
    assert "OK, 6 entries" in result.stdout


def test_query_answers_which_sessions_went_through_a_router(logged):
    path, router = logged
    result = log_cli("query", "--log", path, "--router", router, "--since", "2000-01-01T00:00:00Z")
    entries = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert len(entries) == 6 and {e["dialect"] for e in entries} == set(DIALECTS)
    assert all(e["verdict"] == "block" and e["session"] for e in entries)
    assert all(call["name"] in ("bash", "shell", "Bash") for e in entries for call in e["tool_calls"])
    assert log_cli("query", "--log", path, "--router", "http://198.51.100.7:1").stdout == ""


def test_entries_hold_no_prompt_or_command_text(logged):
    path, _ = logged
    raw = open(path, "rb").read()
    assert b"install rust" not in raw and b"cdn-install.example.net" not in raw


def test_proofs_verify(logged):
    path, _ = logged
    result = log_cli("proof", "--log", path, "--index", "2", "--old-size", "3")
    assert result.returncode == 0, result.stderr
    proof = orjson.loads(result.stdout)
    assert proof["tree_head"]["size"] == 6 and proof["inclusion_proof"] and proof["consistency_proof"]


@pytest.mark.parametrize("tamper", ["change", "delete", "swap"])
def test_verify_names_the_first_bad_entry(logged, tmp_path, tamper):
    path, _ = logged
    copy = tmp_path / "copy.sqlite"
    copy.write_bytes(open(path, "rb").read())
    (tmp_path / "copy.sqlite.key").write_bytes(open(path + ".key", "rb").read())  # the log travels with its key
    (tmp_path / "copy.sqlite.key").chmod(0o600)
    db = sqlite3.connect(copy)
    table = "entries"
    cols = [r[1] for r in db.execute(f"PRAGMA table_info({table})")]
    key = cols[0]
    blob = next(c for c in cols if c not in (key,) and db.execute(
        f"SELECT typeof({c}) FROM {table} LIMIT 1").fetchone()[0] == "blob")
    rows = db.execute(f"SELECT {key}, {blob} FROM {table} ORDER BY {key}").fetchall()
    if tamper == "change":
        data = bytearray(rows[3][1])
        data[-1] ^= 1
        db.execute(f"UPDATE {table} SET {blob}=? WHERE {key}=?", (bytes(data), rows[3][0]))
    elif tamper == "delete":
        db.execute(f"DELETE FROM {table} WHERE {key}=?", (rows[3][0],))
    else:
        db.execute(f"UPDATE {table} SET {blob}=? WHERE {key}=?", (rows[4][1], rows[3][0]))
        db.execute(f"UPDATE {table} SET {blob}=? WHERE {key}=?", (rows[3][1], rows[4][0]))
    db.commit()
    db.close()
    result = log_cli("verify", "--log", str(copy))
    assert result.returncode == 1
    assert "TAMPERED" in result.stderr and "3" in result.stderr
