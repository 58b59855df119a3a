"""Virtual keys: issued once, stored hashed, revoked at once, scoped and validated; usage and
cost per key and model, written in batches and kept across restarts."""

from __future__ import annotations

import re
import sqlite3
import stat
import threading
from pathlib import Path

import orjson
import pytest

from relayguard.errors import BadRequest
from relayguard.gateway.keys import KeyStore

MODELS = {"mock-large", "mock-small"}


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "data" / "gateway.sqlite"


@pytest.fixture
def store(db: Path):
    s = KeyStore(db)
    yield s
    s.close()


def test_a_new_key_is_shown_once_and_only_its_hash_is_stored(store: KeyStore, db: Path) -> None:
    info, secret = store.create(["mock-large"], 60, 10_000, 5.0, "ci bot", known_models=MODELS)
    assert re.fullmatch(r"rg-[A-Za-z0-9_-]{43}", secret)
    assert (info.models, info.rpm, info.tpm, info.budget_usd, info.name) == (("mock-large",), 60, 10_000, 5.0,
                                                                             "ci bot")
    assert info.prefix == secret[:7] and not info.revoked
    assert store.lookup(secret) == info
    # the secret appears nowhere the gateway keeps or lists
    assert secret not in repr(store.list()) and secret not in orjson.dumps(store.usage()).decode()
    store.flush()
    on_disk = b"".join(p.read_bytes() for p in db.parent.iterdir())
    assert secret.encode() not in on_disk and secret[7:].encode() not in on_disk
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in db.parent.iterdir()}
    assert modes["gateway.sqlite"] == 0o600 and set(modes.values()) == {0o600}  # -wal and -shm too


def test_keys_are_distinct(store: KeyStore) -> None:
    secrets = {store.create(None, None, None, None)[1] for _ in range(50)}
    ids = {k.id for k in store.list()}
    assert len(secrets) == 50 and len(ids) == 50


def test_unknown_malformed_and_revoked_keys_are_refused(store: KeyStore) -> None:
    info, secret = store.create(None, None, None, None)
    for bad in ["", "rg-", secret[:-1] + ("A" if secret[-1] != "A" else "B"), secret + "x", "sk-" + secret[3:],
                "rg-" + "a" * 10_000, secret.upper()]:
        assert store.lookup(bad) is None
    assert store.revoke(info.id) is True
    assert store.lookup(secret) is None  # at once, no restart
    assert store.revoke(info.id) is True  # idempotent
    assert store.revoke("key_nope") is False
    assert [k.revoked for k in store.list()] == [True]


def test_keys_and_revocations_survive_a_restart(db: Path) -> None:
    first = KeyStore(db)
    kept, kept_secret = first.create(["mock-small"], 5, None, 1.5, "kept", known_models=MODELS)
    gone, gone_secret = first.create(None, None, None, None, "gone")
    first.revoke(gone.id)
    first.close()
    second = KeyStore(db)
    try:
        assert second.lookup(kept_secret) == kept
        assert second.lookup(gone_secret) is None
        assert {k.name: k.revoked for k in second.list()} == {"kept": False, "gone": True}
    finally:
        second.close()


@pytest.mark.parametrize("args, message", [
    ((["gpt-9"], None, None, None), "unknown model 'gpt-9': this gateway serves mock-large, mock-small"),
    (([], None, None, None), "models is empty"),
    (("mock-large", None, None, None), "models must be a list of model names, or null"),
    (([1], None, None, None), "models must be a list"),
    ((None, 0, None, None), "rpm must be a whole number of requests per minute from 1"),
    ((None, True, None, None), "rpm must be a whole number"),
    ((None, 2.5, None, None), "rpm must be a whole number"),
    ((None, None, "100", None), "tpm must be a whole number of tokens per minute"),
    ((None, None, None, -1), "budget_usd must be a number of US dollars from 0"),
    ((None, None, None, float("nan")), "budget_usd must be a number"),
    ((None, None, None, "5"), "budget_usd must be a number"),
])
def test_bad_arguments_are_a_bad_request_that_says_what_is_wrong(store: KeyStore, args: tuple, message: str) -> None:
    with pytest.raises(BadRequest) as info:
        store.create(*args, known_models=MODELS)
    assert message in str(info.value)
    assert store.list() == []


def test_a_bad_name_is_refused(store: KeyStore) -> None:
    for name in ["", "x" * 129, "line\nbreak", 7]:
        with pytest.raises(BadRequest, match="name must be a string"):
            store.create(None, None, None, None, name)


def test_usage_per_key_and_model(store: KeyStore) -> None:
    a, _ = store.create(["mock-large", "mock-small"], 60, None, 10.0, "a", known_models=MODELS)
    b, _ = store.create(None, None, None, None, "b")
    store.record(a.id, "mock-large", 100, 20, 0.25)
    store.record(a.id, "mock-large", 50, 10, 0.125)
    store.record(a.id, "mock-small", 7, 3, 0.0)
    store.record(b.id, "mock-small", 1, 1, 0.5)
    usage = store.usage()  # visible before any flush
    by_id = {k["id"]: k for k in usage["keys"]}
    assert by_id[a.id]["by_model"] == {
        "mock-large": {"requests": 2, "input_tokens": 150, "output_tokens": 30, "cost_usd": 0.375},
        "mock-small": {"requests": 1, "input_tokens": 7, "output_tokens": 3, "cost_usd": 0.0},
    }
    assert by_id[a.id]["spent_usd"] == 0.375 and by_id[a.id]["budget_usd"] == 10.0
    assert by_id[a.id]["models"] == ["mock-large", "mock-small"] and by_id[a.id]["rpm"] == 60
    assert by_id[b.id]["models"] is None and by_id[b.id]["revoked"] is False
    assert usage["totals"] == {"requests": 4, "input_tokens": 158, "output_tokens": 34, "cost_usd": 0.875}
    assert store.spent_usd(a.id) == 0.375 and store.spent_usd(b.id) == 0.5
    orjson.dumps(usage)  # JSON-ready


def test_usage_is_written_in_batches_and_survives_a_restart(db: Path) -> None:
    first = KeyStore(db)
    info, _ = first.create(None, None, None, 1.0)
    for _ in range(10):
        first.record(info.id, "mock-large", 10, 5, 0.01)
    with sqlite3.connect(db) as peek:
        assert peek.execute("SELECT COUNT(*) FROM usage").fetchone()[0] == 0  # queued, not yet written
    assert first.flush() == 10
    assert first.flush() == 0
    with sqlite3.connect(db) as peek:
        assert peek.execute("SELECT COUNT(*), SUM(input_tokens) FROM usage").fetchone() == (10, 100)
    first.record(info.id, "mock-small", 1, 1, 0.02)
    first.close()  # close flushes what is queued
    second = KeyStore(db)
    try:
        assert second.spent_usd(info.id) == pytest.approx(0.12)
        key = second.usage()["keys"][0]
        assert key["by_model"]["mock-large"]["requests"] == 10
        assert key["by_model"]["mock-small"] == {"requests": 1, "input_tokens": 1, "output_tokens": 1,
                                                 "cost_usd": 0.02}
    finally:
        second.close()


def test_recording_for_an_unknown_key_is_a_bug_not_silence(store: KeyStore) -> None:
    with pytest.raises(ValueError, match="no virtual key"):
        store.record("key_missing", "m", 1, 1, 0.0)


def test_concurrent_recording_and_flushing_loses_nothing(db: Path) -> None:
    store = KeyStore(db)
    keys = [store.create(None, None, None, None)[0] for _ in range(4)]
    stop = threading.Event()

    def writer_thread() -> None:
        while not stop.is_set():
            store.flush()

    def worker(n: int) -> None:
        for i in range(500):
            store.record(keys[(n + i) % 4].id, f"m{i % 3}", 2, 1, 0.001)

    flusher = threading.Thread(target=writer_thread)
    flusher.start()
    workers = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in workers:
        t.start()
    for t in workers:
        t.join(timeout=120)
    stop.set()
    flusher.join(timeout=120)
    store.close()
    reopened = KeyStore(db)
    try:
        totals = reopened.usage()["totals"]
        assert totals["requests"] == 3000 and totals["input_tokens"] == 6000 and totals["output_tokens"] == 3000
        assert totals["cost_usd"] == pytest.approx(3.0)
        with sqlite3.connect(db) as peek:
            assert peek.execute("SELECT COUNT(*) FROM usage").fetchone()[0] == 3000
    finally:
        reopened.close()
