"""Detection benchmark: how much of each attack class `relayguard check` blocks,
and how many realistic agent commands it blocks by mistake.

    python bench/detection.py [--seed 1] [--out DIR] [--misses 5] [--json PATH]

1. builds the labelled set (bench/detection/: every command of
   shared/corpora/benign_commands.jsonl wrapped as an agent session, plus the
   attack classes AC-1, AC-1.a, AC-1.b and ten adaptive variants, in the three
   API dialects), deterministic per --seed;
2. writes it to a directory (a temporary one unless --out) twice: with labels
   (attackset.jsonl) and without (input.jsonl, what the checker sees: ids are
   opaque, lines shuffled, no `meta`);
3. runs `relayguard check input.jsonl` through the CLI (the venv's
   `relayguard`, else `python -m relayguard`) with the default policy (or
   --policy) and joins the verdicts by id;
4. prints per class the share blocked (only `block` counts as detected; `warn`
   is shown apart) against the targets (>= 99% for AC-1/AC-1.a/AC-1.b, >= 95%
   for each adaptive class), the false-block rate on benign sessions (overall,
   per category, on real rows only), throughput, and, timed in-process with
   the same code path the CLI uses, p50/p99 per exchange; then the misses and
   the false blocks.
"""

from __future__ import annotations

import argparse
import collections
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(HERE) not in sys.path:
    sys.path.append(str(HERE))

from detection.attackset import (  # noqa: E402
    ADAPTIVE_CLASSES, ATTACK_CLASSES, MAX_FALSE_BLOCK, PAPER_CLASSES, TARGETS, dump, generate,
)


def checker_command(explicit: str | None) -> list[str]:
    if explicit:
        return explicit.split()
    venv = REPO / ".venv" / "bin" / "relayguard"
    if venv.exists():
        return [str(venv)]
    return [sys.executable, "-m", "relayguard"]


def run_check(cmd: list[str], path: Path, out: Path, policy: str | None) -> tuple[float, str]:
    args = cmd + ["check", str(path), "-o", str(out)] + (["--policy", policy] if policy else [])
    t0 = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, text=True, cwd=REPO)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"relayguard check failed ({proc.returncode}): {' '.join(args)}\n{proc.stderr[-4000:]}")
    return elapsed, proc.stderr.strip()


def read_results(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def time_in_process(path: Path, policy: str | None, sample: int) -> tuple[list[float], dict[str, str], list[str]] | None:
    """Per-exchange wall time of the code `relayguard check` runs for each line (every k-th line
    when ``sample`` is smaller than the set, so a slow checker still finishes in time)."""
    try:
        from relayguard.check import judge_line
        from relayguard.presets import check_pipeline
    except Exception as exc:  # the package under test may be mid-edit
        print(f"(in-process timing unavailable: {exc})")
        return None
    pipeline = check_pipeline(policy)
    times: list[float] = []
    verdicts: dict[str, str] = {}
    with open(path, "rb") as f:
        lines = [line for line in f if line.strip()]
    if sample and sample < len(lines):
        step = len(lines) / sample
        lines = [lines[int(i * step)] for i in range(sample)]
    for number, line in enumerate(lines[:100], 1):  # warm-up
        judge_line(pipeline, line, number)
    ids: list[str] = []
    for number, line in enumerate(lines, 1):
        t0 = time.perf_counter_ns()
        result = judge_line(pipeline, line, number)
        times.append((time.perf_counter_ns() - t0) / 1e6)
        verdicts[str(result.get("id"))] = result.get("verdict", "")
        ids.append(str(result.get("id")))
    return times, verdicts, ids


def pct(a: int, b: int) -> float:
    return 100.0 * a / b if b else 0.0


def quantile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def short(text: str, n: int = 220) -> str:
    text = text.replace("\n", "\\n")
    return text if len(text) <= n else text[: n - 1] + "…"


def rules_of(result: dict[str, Any]) -> str:
    fs = result.get("findings") or []
    return ", ".join(sorted({f"{f.get('rule')}:{f.get('severity')}" for f in fs})) or "-"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", help="directory for the set and the verdicts (default: a temporary one, removed)")
    ap.add_argument("--misses", type=int, default=5, help="misses to list per class (default 5)")
    ap.add_argument("--false-blocks", type=int, default=50, help="false blocks to list (default 50)")
    ap.add_argument("--json", help="write the figures to this file")
    ap.add_argument("--policy", help="policy file for `relayguard check` (default: the built-in one)")
    ap.add_argument("--relayguard", help="checker command (default: .venv/bin/relayguard, else python -m relayguard)")
    ap.add_argument("--no-timing", action="store_true", help="skip the in-process per-exchange timing pass")
    ap.add_argument("--timing-sample", type=int, default=3000,
                    help="exchanges to time in-process, spread over the set (0: all; default 3000)")
    ap.add_argument("--classes", help="comma-separated attack classes (default: all)")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply the number of attacks per class")
    args = ap.parse_args(argv)

    t_start = time.perf_counter()
    classes = tuple(args.classes.split(",")) if args.classes else ATTACK_CLASSES
    records = generate(args.seed, classes, args.scale)
    t_gen = time.perf_counter() - t_start

    tmp = None
    out_dir = Path(args.out) if args.out else Path(tmp := tempfile.mkdtemp(prefix="rg-detection-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    labelled, blind, verdict_path = out_dir / "attackset.jsonl", out_dir / "input.jsonl", out_dir / "verdicts.jsonl"
    dump(records, labelled, meta=True)
    dump(records, blind, meta=False)
    empty = out_dir / "empty.jsonl"
    empty.write_text("")

    cmd = checker_command(args.relayguard)
    startup, _ = run_check(cmd, empty, out_dir / "empty.out", args.policy)
    wall, summary = run_check(cmd, blind, verdict_path, args.policy)
    results = read_results(verdict_path)
    by_id = {r.get("id"): r for r in results}
    timing = None if args.no_timing else time_in_process(blind, args.policy, args.timing_sample)

    n_total = len(records)
    missing = [r["id"] for r in records if r["id"] not in by_id]
    figures: dict[str, Any] = {"seed": args.seed, "exchanges": n_total, "checker": " ".join(cmd),
                               "policy": args.policy or "default", "missing_verdicts": len(missing),
                               "checker_summary": summary, "classes": {}, "benign": {}}

    # --- attacks ---
    per_class: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = collections.defaultdict(list)
    benign: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for rec in records:
        res = by_id.get(rec["id"], {"verdict": "missing", "findings": []})
        (benign if rec["meta"]["label"] == "benign" else per_class[rec["meta"]["class"]]).append((rec, res))

    print(f"relayguard check: {' '.join(cmd)} (policy: {args.policy or 'built-in default'})")
    print(f"set: {n_total} exchanges (seed {args.seed}), {len(benign)} benign, "
          f"{n_total - len(benign)} attacks; written to {out_dir if not tmp else '(temporary dir)'}")
    if missing:
        print(f"WARNING: {len(missing)} exchanges got no verdict")
    print()
    header = f"{'class':<18} {'n':>5} {'block':>6} {'warn':>6} {'allow':>6} {'error':>6} {'detected':>9} {'target':>7}  result"
    print(header)
    print("-" * len(header))
    all_pass = True
    for cls in classes:
        rows = per_class.get(cls, [])
        counts = collections.Counter(res.get("verdict") for _, res in rows)
        n = len(rows)
        rate = counts["block"] / n if n else 0.0
        target = TARGETS[cls]
        ok = rate >= target
        all_pass &= ok
        print(f"{cls:<18} {n:>5} {counts['block']:>6} {counts['warn']:>6} {counts['allow']:>6} "
              f"{counts['error'] + counts['missing']:>6} {100 * rate:>8.1f}% {100 * target:>6.0f}%  "
              f"{'PASS' if ok else 'MISS'}")
        by_dialect = {}
        for d in ("openai-chat", "openai-responses", "anthropic-messages"):
            sub = [res for rec, res in rows if rec["dialect"] == d]
            by_dialect[d] = round(pct(sum(r.get("verdict") == "block" for r in sub), len(sub)), 2)
        figures["classes"][cls] = {"n": n, "block": counts["block"], "warn": counts["warn"],
                                   "allow": counts["allow"], "error": counts["error"] + counts["missing"],
                                   "detection": round(rate, 4), "target": target, "pass": ok,
                                   "detection_by_dialect_pct": by_dialect}
    for name, group in (("paper classes", PAPER_CLASSES), ("adaptive classes", ADAPTIVE_CLASSES)):
        rows = [x for c in group if c in classes for x in per_class.get(c, [])]
        if rows:
            b = sum(res.get("verdict") == "block" for _, res in rows)
            w = sum(res.get("verdict") == "warn" for _, res in rows)
            print(f"{'(' + name + ')':<18} {len(rows):>5} {b:>6} {w:>6} {'':>6} {'':>6} {pct(b, len(rows)):>8.1f}%")
            figures[name.replace(" ", "_")] = {"n": len(rows), "block": b, "warn": w,
                                               "detection": round(b / len(rows), 4)}

    # --- benign ---
    def fb_line(label: str, rows: list[tuple[dict[str, Any], dict[str, Any]]], width: int = 18) -> dict[str, Any]:
        c = collections.Counter(res.get("verdict") for _, res in rows)
        n = len(rows)
        print(f"{label:<{width}} {n:>5} {c['block']:>6} {c['warn']:>6} {c['allow']:>6} "
              f"{c['error'] + c['missing']:>6} {pct(c['block'], n):>8.2f}%")
        return {"n": n, "block": c["block"], "warn": c["warn"], "error": c["error"] + c["missing"],
                "false_block_rate": round(c["block"] / n, 5) if n else 0.0,
                "warn_rate": round(c["warn"] / n, 5) if n else 0.0}

    print()
    print(f"{'benign':<18} {'n':>5} {'block':>6} {'warn':>6} {'allow':>6} {'error':>6} {'false-blk':>9}")
    print("-" * 68)
    overall = fb_line("all", benign)
    real = fb_line("real rows only", [x for x in benign if x[0]["meta"]["real"]])
    fb_rate = overall["false_block_rate"]
    fb_ok = fb_rate <= MAX_FALSE_BLOCK
    all_pass &= fb_ok
    print(f"{'target':<18} false blocks <= {100 * MAX_FALSE_BLOCK:.1f}%: {'PASS' if fb_ok else 'MISS'} "
          f"(real rows only: {'PASS' if real['false_block_rate'] <= MAX_FALSE_BLOCK else 'MISS'})")
    figures["benign"] = {"all": overall, "real_only": real, "target": MAX_FALSE_BLOCK, "pass": fb_ok,
                         "by_category": {}, "by_tool": {}, "by_context": {}}
    print()
    print("per category:")
    cats = sorted({rec["meta"]["category"] for rec, _ in benign})
    for cat in cats:
        figures["benign"]["by_category"][cat] = fb_line(
            "  " + cat, [x for x in benign if x[0]["meta"]["category"] == cat])
    print("per tool / context:")
    for tool in sorted({rec["meta"]["tool"] for rec, _ in benign}):
        figures["benign"]["by_tool"][tool] = fb_line(
            "  tool:" + tool, [x for x in benign if x[0]["meta"]["tool"] == tool])
    for ctx in sorted({rec["meta"]["variant"] for rec, _ in benign}):
        figures["benign"]["by_context"][ctx] = fb_line(
            "  " + ctx, [x for x in benign if x[0]["meta"]["variant"] == ctx])

    # --- speed ---
    print()
    screened = max(wall - startup, 1e-9)
    figures["speed"] = {"cli_wall_s": round(wall, 3), "cli_startup_s": round(startup, 3),
                        "exchanges_per_s": round(n_total / screened, 1),
                        "exchanges_per_s_including_startup": round(n_total / wall, 1), "generation_s": round(t_gen, 2)}
    print(f"throughput: {n_total} exchanges in {wall:.2f}s through the CLI (startup {startup:.2f}s): "
          f"{n_total / screened:,.0f} exchanges/s ({n_total / wall:,.0f}/s including startup)")
    if timing:
        times, in_proc, timed_ids = timing
        diff = sum(1 for k, v in in_proc.items() if by_id.get(k, {}).get("verdict") != v)
        b_ids = {rec["id"] for rec, _ in benign}
        bt = [t for (rid, t) in zip(timed_ids, times) if rid in b_ids]
        figures["speed"].update({"p50_ms": round(quantile(times, 0.5), 3), "p99_ms": round(quantile(times, 0.99), 3),
                                 "max_ms": round(max(times), 3), "mean_ms": round(statistics.fmean(times), 3),
                                 "benign_p50_ms": round(quantile(bt, 0.5), 3),
                                 "benign_p99_ms": round(quantile(bt, 0.99), 3),
                                 "in_process_verdicts_differing_from_cli": diff})
        print(f"per exchange (in-process: parse + inspect, {len(times)} of {n_total} lines): p50 {quantile(times, 0.5):.3f} ms, "
              f"p99 {quantile(times, 0.99):.3f} ms, max {max(times):.1f} ms; benign only: p50 "
              f"{quantile(bt, 0.5):.3f} ms, p99 {quantile(bt, 0.99):.3f} ms")
        if diff:
            print(f"WARNING: {diff} in-process verdicts differ from the CLI's (the code changed between the two passes, or a verdict depends on other lines)")
    print(f"generation {t_gen:.1f}s, total {time.perf_counter() - t_start:.1f}s")

    # --- misses ---
    print()
    figures["misses"] = {}
    for cls in classes:
        rows = [(rec, res) for rec, res in per_class.get(cls, []) if res.get("verdict") != "block"]
        if not rows:
            continue
        kinds = collections.Counter(rec["meta"]["variant"].split("/")[0] for rec, _ in rows)
        figures["misses"][cls] = {"count": len(rows), "by_variant": dict(kinds.most_common())}
        print(f"misses {cls}: {len(rows)} (by variant: "
              f"{', '.join(f'{k} {v}' for k, v in kinds.most_common(8))})")
        for rec, res in rows[: args.misses]:
            m = rec["meta"]
            print(f"  {rec['id']} [{res.get('verdict')}] {m['variant']} ({rec['dialect']}, {m['tool']}) "
                  f"rules: {rules_of(res)}")
            print(f"      {short(m['command'])}")
    fbs = [(rec, res) for rec, res in benign if res.get("verdict") == "block"]
    print()
    print(f"false blocks: {len(fbs)}")
    figures["false_blocks"] = []
    for rec, res in fbs:
        m = rec["meta"]
        figures["false_blocks"].append({"id": rec["id"], "benign_id": m["benign_id"], "category": m["category"],
                                        "source": m["source"], "rules": rules_of(res)})
    for rec, res in fbs[: args.false_blocks]:
        m = rec["meta"]
        msgs = "; ".join(short(f.get("message", ""), 120) for f in res.get("findings") or []
                         if f.get("severity") == "block")
        print(f"  {m['benign_id']} [{m['category']}] {m['source'][:50]}")
        print(f"      {short(m['command'])}")
        print(f"      -> {msgs}")
    errors = [(rec, res) for rec, res in benign + [x for v in per_class.values() for x in v]
              if res.get("verdict") in ("error", "missing")]
    if errors:
        print(f"\nerrors: {len(errors)} (first: {rules_of(errors[0][1])} "
              f"{short(str((errors[0][1].get('findings') or [{}])[0].get('message', '')))})")

    print()
    print("overall:", "all targets met" if all_pass else "targets missed")
    figures["all_targets_met"] = all_pass
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    if tmp:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
