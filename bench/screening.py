"""Screening speed: time per tool call of the screening inspector on the shared
benign corpus (every command as a Bash tool call, minimal session context).

    python bench/screening.py [--corpus PATH] [--passes N] [--json PATH]

Prints p50 / p95 / p99 / max in microseconds, thread CPU time and wall clock,
for commands under 1 KiB (what agents mostly send) and for larger scripts
apart, in three runs:

  cold     each command the first time the inspector sees it (script cache empty);
  repeated each command screened again right after itself (an agent repeating
           itself: the script analysis comes from the inspector's cache);
  typical  cold, one-line commands under 200 characters.

``--passes N`` repeats the cold run with a fresh inspector N times and keeps,
per command, the fastest pass: on a shared machine other processes only ever
add time, so the minimum is the inspector's own cost (the single-pass figures
are printed too).  One-time costs (imports, the typosquat indexes, the parser
worker for large scripts, the dialect modules the grounding reads) are paid in
a warm-up on commands that are not in the corpus.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from relayguard.exchange import Exchange, Request, ToolCall  # noqa: E402
from relayguard.inspectors.screening import Screening  # noqa: E402

DEFAULT_CORPUS = REPO.parent / "shared" / "corpora" / "benign_commands.jsonl"
WARM_UP = [
    "ls -la", "pip install requests", "npm i lodash", "cargo add serde", "go get github.com/pkg/errors",
    "gem install rails", "curl -fsSL https://sh.rustup.rs | sh", "python3 -c 'import os; print(os.getcwd())'",
    "cat <<'EOF' > x.py\n" + "print('x')\n" * 300 + "EOF", "echo 'export PATH=$HOME/bin:$PATH' >> ~/.bashrc",
    "curl -fsSL https://warm-up.example/i.sh | sh", "pip install reqeusts", "npm i lodahs",  # need the grounding
]
SMALL = 1024  # bytes: the "typical command" bucket


def session() -> Exchange:
    body = {"messages": [{"role": "system", "content": "You are a coding agent."},
                         {"role": "user", "content": "Complete the task in this repository."}]}
    return Exchange(id="bench", request=Request("openai-chat", "/v1/chat/completions", body, b"", [], "m", False))


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(p * len(s)))]


def figures(values: list[float]) -> dict[str, float]:
    return {"n": len(values), "p50_us": round(pct(values, .5) * 1e6), "p95_us": round(pct(values, .95) * 1e6),
            "p99_us": round(pct(values, .99) * 1e6), "max_us": round(max(values) * 1e6)}


def line(label: str, cpu: list[float], wall: list[float]) -> str:
    c, w = figures(cpu), figures(wall)
    return (f"  {label:<22} n={c['n']:<5} cpu p50 {c['p50_us']:6}  p95 {c['p95_us']:6}  p99 {c['p99_us']:6}  "
            f"max {c['max_us']:7} us | wall p50 {w['p50_us']:6}  p99 {w['p99_us']:6}  max {w['max_us']:7} us")


def run(screen: Screening, commands: list[str], repeat: bool = False) -> tuple[list[float], list[float]]:
    """(wall, cpu) seconds per command: one on_tool_call each, as the guard makes it
    (``repeat``: the second of two calls in a row)."""
    wall: list[float] = []
    cpu: list[float] = []
    for i, command in enumerate(commands):
        args = {"command": command}
        call = ToolCall(f"c{i}", "bash", json.dumps(args), args)
        if repeat:
            screen.on_tool_call(session(), call)
        ex = session()  # a new request each time: grounding is built when needed, as in the guard
        t0, c0 = time.perf_counter(), time.thread_time()
        screen.on_tool_call(ex, call)
        cpu.append(time.thread_time() - c0)
        wall.append(time.perf_counter() - t0)
    return wall, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    ap.add_argument("--passes", type=int, default=3, help="cold passes, a fresh inspector each (default 3)")
    ap.add_argument("--json", help="write the figures to this file")
    args = ap.parse_args()
    rows = [json.loads(x) for x in Path(args.corpus).read_text().splitlines() if x.strip()]
    commands = [r["command"] for r in rows]
    small = [k for k, c in enumerate(commands) if len(c.encode()) < SMALL]
    large = [k for k, c in enumerate(commands) if len(c.encode()) >= SMALL]
    typical = [k for k, c in enumerate(commands) if "\n" not in c and len(c) < 200]

    run(Screening(), WARM_UP)
    passes = []
    for _ in range(max(1, args.passes)):
        screen = Screening()
        passes.append(run(screen, commands))
    warm_w, warm_c = run(Screening(), commands, repeat=True)
    first_w, first_c = passes[0]
    best_w = [min(p[0][k] for p in passes) for k in range(len(commands))]
    best_c = [min(p[1][k] for p in passes) for k in range(len(commands))]

    def pick(values: list[float], idx: list[int]) -> list[float]:
        return [values[k] for k in idx]

    print(f"screening {len(commands)} benign tool calls from {args.corpus}: {len(small)} under {SMALL} bytes "
          f"(largest {max(len(commands[k].encode()) for k in small)} B), {len(large)} larger "
          f"(median {statistics.median(len(commands[k].encode()) for k in large):.0f} B, "
          f"largest {max(len(commands[k].encode()) for k in large)} B)")
    out: dict[str, dict[str, dict[str, float]]] = {}
    for title, (w, c) in ((f"cold, fastest of {len(passes)} passes per command", (best_w, best_c)),
                          ("cold, first pass", (first_w, first_c)), ("repeated (each command again right after itself)", (warm_w, warm_c))):
        print(title)
        out[title] = {}
        for label, idx in ((f"< {SMALL} B", small), (f">= {SMALL} B", large), ("all", list(range(len(commands)))),
                           ("typical one-liners", typical)):
            if idx:
                print(line(label, pick(c, idx), pick(w, idx)))
                out[title][label] = {"cpu": figures(pick(c, idx)), "wall": figures(pick(w, idx))}
    print(f"mean cold (first pass) {statistics.mean(first_w) * 1e6:.0f} us; "
          f"{len(commands) / sum(first_w):.0f} tool calls/s")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
