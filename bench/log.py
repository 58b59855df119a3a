"""Transparency log benchmark: size on disk, durable append rate, proofs at 10^6 entries.

    python bench/log.py [--entries 1000000] [--no-verify] [--json OUT]

Measures, in one run (temp dirs, removed afterwards; progress on stderr):

* bytes per entry on disk: the SQLite file after a WAL checkpoint, divided by the entry count,
  with the split by table/index (SQLite's dbstat); everything counted: entries, leaf hashes,
  the query index, stored subtree hashes, signed heads.  Target < 600 B (the paper: 1.26 KB);
* appends per second with durability on (WAL + synchronous=FULL: an fsync per commit):
  one entry per commit, ``append_many`` batches, and ``append_async`` from 64 concurrent tasks
  (group commit);
* at 10^6 entries: inclusion and consistency proof sizes, generation and verification times
  (random indexes and sizes, so most reads miss the in-memory caches), a historical root, and
  a full ``verify()`` (recompute the tree from every entry, check every node and head).

Entries are realistic records built with ``encode_entry`` (random ids and digests, 0-2 tool
calls, an occasional finding); one built by ``entry_from_exchange`` is shown for comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from relayguard.exchange import Exchange, Finding, Request, Response, ToolCall  # noqa: E402
from relayguard.translog import (TransparencyLog, entry_from_exchange, verify_consistency,  # noqa: E402
                                 verify_inclusion)
from relayguard.translog.entry import TC_BLOCKED, TC_SHELL, encode_entry  # noqa: E402

PAPER_BYTES = 1260
T0 = 1_776_000_000_000
ROUTERS = ["https://openrouter.example.com/api/v1", "https://router-a.example.net/v1",
           "https://relay.example.org/v1", "http://10.0.0.7:4000"]
MODELS = [("claude-sonnet-4-5", "claude-sonnet-4-5-20250929"), ("gpt-4.1", "gpt-4.1-2025-04-14"),
          ("qwen3-coder", "qwen3-coder-480b-a35b")]
TOOLS = ["bash", "read_file", "apply_patch", "str_replace_based_edit_tool", "grep"]


def log_progress(msg: str) -> None:
    print(f"[bench/log] {msg}", file=sys.stderr, flush=True)


def make_entries(n: int, seed: int = 1) -> list[bytes]:
    rnd = random.Random(seed)
    rb = rnd.randbytes
    sessions = [f"{rnd.getrandbits(128):032x}" for _ in range(2000)]
    out = []
    for i in range(n):
        k = rnd.random()
        ncalls = 0 if k < 0.3 else 1 if k < 0.8 else 2
        calls = [(f"call_{rnd.getrandbits(120):030x}", TOOLS[rnd.randrange(5)],
                  TC_SHELL if rnd.random() < 0.05 else 0, rb(32)) for _ in range(ncalls)]
        findings = [("policy.pipe_to_shell", "block", calls[0][0])] if calls and rnd.random() < 0.05 else []
        if calls:
            calls[0] = (calls[0][0], calls[0][1], calls[0][2] | (TC_BLOCKED if findings else 0), calls[0][3])
        model, served = MODELS[i % 3]
        out.append(encode_entry(
            time_ms=T0 + i * 50 + rnd.randrange(50), exchange=f"chatcmpl-{rnd.getrandbits(144):036x}",
            router=ROUTERS[i % 4], session=sessions[rnd.randrange(2000)], dialect="openai-chat",
            model=model, served_model=served, status=200, verdict="block" if findings else "allow",
            stream=True, request_changed=False, request_sha256=rb(32), response_sha256=rb(32),
            tool_calls=calls, findings=findings))
    return out


def exchange_entry() -> bytes:
    args = '{"command": "cargo build --release && ./target/release/app --port 8080"}'
    req = Request(dialect="openai-chat", path="/v1/chat/completions", body={}, raw=b"{...}" * 400,
                  headers=[], model="gpt-4.1", stream=True)
    resp = Response(status=200, model="gpt-4.1-2025-04-14",
                    tool_calls=[ToolCall("call_Xq3b8cN2mZp4Rt6vW1yA9sD", "bash", args)], raw=b"data: ..." * 300)
    ex = Exchange(id="chatcmpl-BzT8kLmN4pQ7rS2vX9yZ1aB3cD5eF", request=req, response=resp,
                  findings=[Finding("anomaly.new_host", "warn", "first time this host", "call_Xq3b8cN2mZp4Rt6vW1yA9sD")],
                  upstream="https://openrouter.example.com/api/v1", session="6f1c2a9e-3b7d-4e21-9a55-0c8d7e6f5a41")
    return entry_from_exchange(ex)


def disk_size(path: Path) -> tuple[int, dict[str, int]]:
    db = sqlite3.connect(path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    parts: dict[str, int] = {}
    try:
        for name, size in db.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name"):
            parts[name] = size
    except sqlite3.OperationalError:
        pass
    db.close()
    total = path.stat().st_size + sum(p.stat().st_size for p in path.parent.glob(path.name + "-*"))
    return total, parts


def rate_single(tmp: Path, count: int) -> float:
    entries = make_entries(count, seed=2)
    with TransparencyLog.open(tmp / "single.db") as log:
        t = time.perf_counter()
        for e in entries:
            log.append(e)
        return count / (time.perf_counter() - t)


def rate_batched(tmp: Path, batch: int, total: int) -> float:
    entries = make_entries(total, seed=3)
    with TransparencyLog.open(tmp / f"batch{batch}.db") as log:
        t = time.perf_counter()
        for i in range(0, total, batch):
            log.append_many(entries[i:i + batch])
        return total / (time.perf_counter() - t)


def rate_async(tmp: Path, tasks: int, total: int) -> tuple[float, float]:
    entries = make_entries(total, seed=4)
    latencies: list[float] = []

    async def main(log: TransparencyLog) -> None:
        per = total // tasks

        async def worker(w: int) -> None:
            for k in range(per):
                t = time.perf_counter()
                await log.append_async(entries[w * per + k])
                latencies.append(time.perf_counter() - t)

        await asyncio.gather(*(worker(w) for w in range(tasks)))

    with TransparencyLog.open(tmp / "async.db") as log:
        t = time.perf_counter()
        asyncio.run(main(log))
        rate = len(latencies) / (time.perf_counter() - t)
    return rate, statistics.median(latencies) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--entries", type=int, default=1_000_000)
    ap.add_argument("--samples", type=int, default=2000, help="proofs generated and verified per kind")
    ap.add_argument("--no-verify", action="store_true", help="skip the full verify() at the end")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()
    n = args.entries
    tmp = Path(tempfile.mkdtemp(prefix="relayguard-log-bench-"))
    rows: list[tuple[str, str, str]] = []
    results: dict[str, object] = {"entries": n}
    started = time.perf_counter()
    try:
        # -- durable append rates (synchronous=FULL) ------------------------------------------------
        log_progress("appends/s, one entry per commit (fsync each)")
        single = rate_single(tmp, 400)
        log_progress("appends/s, append_many")
        b100 = rate_batched(tmp, 100, 20_000)
        b1000 = rate_batched(tmp, 1000, 50_000)
        log_progress("appends/s, append_async from 64 tasks (group commit)")
        arate, alat = rate_async(tmp, 64, 20_000)
        results.update(append_single=single, append_batch100=b100, append_batch1000=b1000,
                       append_async64=arate, append_async64_p50_ms=alat)

        # -- build the big log -----------------------------------------------------------------------
        path = tmp / "big.db"
        t_gen = 0.0
        t_app = 0.0
        total_entry_bytes = 0
        chunk = 20_000
        with TransparencyLog.open(path) as log:
            for start in range(0, n, chunk):
                t = time.perf_counter()
                entries = make_entries(min(chunk, n - start), seed=100 + start)
                t_gen += time.perf_counter() - t
                total_entry_bytes += sum(map(len, entries))
                t = time.perf_counter()
                log.append_many(entries)
                t_app += time.perf_counter() - t
                if (start // chunk) % 5 == 4 or start + chunk >= n:
                    log_progress(f"built {min(n, start + chunk):,}/{n:,} entries "
                                 f"({(start + chunk) / t_app:,.0f} appends/s)")
            build_rate = n / t_app
            results.update(build_appends_per_s=build_rate, entry_bytes=total_entry_bytes / n)

            # -- proofs at n ------------------------------------------------------------------------
            rnd = random.Random(9)
            head = log.signed_head()
            size, root = head.size, head.root
            log_progress(f"{args.samples} inclusion proofs at size {size:,}")
            inc_gen, inc_ver, inc_len = [], [], []
            for _ in range(args.samples):
                i = rnd.randrange(size)
                t = time.perf_counter()
                proof = log.inclusion_proof(i, size)
                inc_gen.append(time.perf_counter() - t)
                leaf = log.leaf_hash(i)
                t = time.perf_counter()
                verify_inclusion(leaf, i, size, proof, root)
                inc_ver.append(time.perf_counter() - t)
                inc_len.append(len(proof))
            log_progress(f"{args.samples} consistency proofs to size {size:,}")
            con_gen, con_ver, con_len, roots = [], [], [], []
            for _ in range(args.samples):
                old = rnd.randrange(1, size)
                t = time.perf_counter()
                old_root = log.root(old)
                roots.append(time.perf_counter() - t)
                t = time.perf_counter()
                proof = log.consistency_proof(old, size)
                con_gen.append(time.perf_counter() - t)
                t = time.perf_counter()
                verify_consistency(old, size, old_root, root, proof)
                con_ver.append(time.perf_counter() - t)
                con_len.append(len(proof))
            results.update(
                inclusion_hashes_mean=statistics.mean(inc_len), inclusion_hashes_max=max(inc_len),
                inclusion_gen_us=statistics.median(inc_gen) * 1e6, inclusion_verify_us=statistics.median(inc_ver) * 1e6,
                consistency_hashes_mean=statistics.mean(con_len), consistency_hashes_max=max(con_len),
                consistency_gen_us=statistics.median(con_gen) * 1e6,
                consistency_verify_us=statistics.median(con_ver) * 1e6,
                historical_root_us=statistics.median(roots) * 1e6)
            if not args.no_verify:
                log_progress(f"verify(): recomputing the tree over {size:,} entries")
                t = time.perf_counter()
                report = log.verify()
                results["verify_s"] = time.perf_counter() - t
                results["verify_heads"] = report.heads
                assert report.root == root
        total, parts = disk_size(path)
        results.update(bytes_per_entry=total / n, parts={k: v / n for k, v in parts.items()})
        results["exchange_entry_bytes"] = len(exchange_entry())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    results["bench_seconds"] = time.perf_counter() - started

    r = results
    fmt_us = lambda v: f"{v:,.0f} µs" if v >= 100 else f"{v:,.1f} µs"  # noqa: E731
    rows += [
        ("bytes per entry on disk (all tables, indexes, nodes, heads)", f"{r['bytes_per_entry']:.0f} B",
         f"< 600 B (paper {PAPER_BYTES} B)"),
        ("  of which: entry record (mean)", f"{r['entry_bytes']:.0f} B", "entry_from_exchange example: "
         f"{r['exchange_entry_bytes']} B"),
    ]
    for name, per in sorted(r["parts"].items(), key=lambda kv: -kv[1]):  # type: ignore[union-attr]
        if per >= 0.05:
            rows.append((f"  table/index {name}", f"{per:.1f} B", ""))
    rows += [
        ("appends/s, 1 per commit (fsync each)", f"{r['append_single']:,.0f}", "synchronous=FULL"),
        ("appends/s, append_many x100", f"{r['append_batch100']:,.0f}", ""),
        ("appends/s, append_many x1000", f"{r['append_batch1000']:,.0f}", ""),
        ("appends/s, append_async 64 tasks", f"{r['append_async64']:,.0f}",
         f"p50 ack {r['append_async64_p50_ms']:.1f} ms"),
        (f"appends/s building {n:,} (x20000)", f"{r['build_appends_per_s']:,.0f}", ""),
        (f"inclusion proof at {n:,}: hashes", f"{r['inclusion_hashes_mean']:.1f} (max {r['inclusion_hashes_max']})",
         f"{r['inclusion_hashes_max'] * 32} B max"),
        ("  generate (median)", fmt_us(r["inclusion_gen_us"]), ""),
        ("  verify (median)", fmt_us(r["inclusion_verify_us"]), ""),
        (f"consistency proof to {n:,}: hashes",
         f"{r['consistency_hashes_mean']:.1f} (max {r['consistency_hashes_max']})",
         f"{r['consistency_hashes_max'] * 32} B max"),
        ("  generate (median)", fmt_us(r["consistency_gen_us"]), ""),
        ("  verify (median)", fmt_us(r["consistency_verify_us"]), ""),
        ("historical root(size) (median)", fmt_us(r["historical_root_us"]), ""),
    ]
    if "verify_s" in r:
        rows.append((f"verify() over {n:,} entries", f"{r['verify_s']:.1f} s", f"{r['verify_heads']} signed heads"))
    rows.append(("bench wall time", f"{r['bench_seconds']:.0f} s", ""))
    w0 = max(len(a) for a, _, _ in rows)
    w1 = max(len(b) for _, b, _ in rows)
    print(f"{'measure':<{w0}}  {'value':>{w1}}  note")
    print(f"{'-' * w0}  {'-' * w1}  ----")
    for a, b, c in rows:
        print(f"{a:<{w0}}  {b:>{w1}}  {c}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
