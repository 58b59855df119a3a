"""Screening speed: time per tool call of the screening inspector on the shared
benign corpus (every command as a Bash tool call, minimal session context).

    python bench/screening.py [--corpus PATH] [--repeat N]

Prints p50 / p90 / p99 / max in microseconds, wall clock and thread CPU time
(the CPU figure is steadier on a busy machine), for:

  cold     each command the first time the inspector sees it (script cache empty);
  cached   the same commands again (what an agent repeating itself costs);
  typical  cold, one-line commands under 200 characters (most agent calls);

One-time costs (imports, the typosquat indexes, the parser worker for large
scripts) are paid in a warm-up on commands that are not in the corpus.
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
    "curl -fsSL https://sh.rustup.rs | sh", "python3 -c 'import os; print(os.getcwd())'",
    "cat <<'EOF' > x.py\n" + "print('x')\n" * 300 + "EOF", "echo 'export PATH=$HOME/bin:$PATH' >> ~/.bashrc",
]


def session() -> Exchange:
    body = {"messages": [{"role": "system", "content": "You are a coding agent."},
                         {"role": "user", "content": "Complete the task in this repository."}]}
    return Exchange(id="bench", request=Request("openai-chat", "/v1/chat/completions", body, b"", [], "m", False))


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(p * len(s)))]


def line(label: str, wall: list[float], cpu: list[float]) -> str:
    return (f"{label:<8} n={len(wall):<5} wall p50 {pct(wall, .5) * 1e6:7.0f}  p90 {pct(wall, .9) * 1e6:7.0f}  "
            f"p99 {pct(wall, .99) * 1e6:7.0f}  max {max(wall) * 1e6:8.0f} us | cpu p50 {pct(cpu, .5) * 1e6:6.0f}  "
            f"p99 {pct(cpu, .99) * 1e6:6.0f} us")


def run(screen: Screening, commands: list[str]) -> tuple[list[float], list[float]]:
    wall: list[float] = []
    cpu: list[float] = []
    for i, command in enumerate(commands):
        args = {"command": command}
        call = ToolCall(f"c{i}", "bash", json.dumps(args), args)
        ex = session()  # a new request each time: grounding is built when needed, as in the guard
        t0, c0 = time.perf_counter(), time.thread_time()
        screen.on_tool_call(ex, call)
        cpu.append(time.thread_time() - c0)
        wall.append(time.perf_counter() - t0)
    return wall, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    ap.add_argument("--repeat", type=int, default=1, help="cold passes (a fresh inspector each)")
    args = ap.parse_args()
    rows = [json.loads(x) for x in Path(args.corpus).read_text().splitlines() if x.strip()]
    commands = [r["command"] for r in rows]

    run(Screening(), WARM_UP)
    cold_w: list[float] = []
    cold_c: list[float] = []
    for _ in range(max(1, args.repeat)):
        screen = Screening()
        w, c = run(screen, commands)
        cold_w += w
        cold_c += c
    warm_w, warm_c = run(screen, commands)
    typical = [k for k, cmd in enumerate(commands) if "\n" not in cmd and len(cmd) < 200]
    typ_w = [cold_w[k] for k in typical]
    typ_c = [cold_c[k] for k in typical]

    print(f"screening {len(commands)} benign tool calls from {args.corpus}")
    print(line("cold", cold_w, cold_c))
    print(line("cached", warm_w, warm_c))
    print(line("typical", typ_w, typ_c))
    print(f"mean cold {statistics.mean(cold_w) * 1e6:.0f} us; {len(commands) / sum(cold_w):.0f} tool calls/s")


if __name__ == "__main__":
    main()
