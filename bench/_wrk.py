"""What the proxy benchmarks (bench/overhead.py, bench/gateway.py) share.

wrk (installed with apt-get when missing), its Lua request script and its
output; the CPU time a server spends, from /proc; the minimal passthrough
(bench/passthrough.py) started as a process; the medians over rounds; and
reading the tool calls out of an OpenAI Chat answer, whole or streamed.

Imported by file name from the benchmark scripts, which put this directory
at the END of sys.path (after the standard library, which it must not shadow).
"""

from __future__ import annotations

import os
import re
import selectors
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import orjson

from relayguard.testing import client, procs

HERE = Path(__file__).resolve().parent


# --------------------------------------------------------------------------- wrk

def ensure_wrk(log: Callable[[str], None], who: str) -> str:
    path = shutil.which("wrk")
    if path:
        return path
    log("wrk is not installed; installing it with apt-get (Debian package 'wrk')")
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    cmd = sudo + ["apt-get", "install", "-y", "-q", "wrk"]
    if subprocess.run(cmd, stdout=sys.stderr, stderr=sys.stderr).returncode != 0:
        log("apt-get install failed; running apt-get update and trying again")
        subprocess.run(sudo + ["apt-get", "update", "-q"], stdout=sys.stderr, stderr=sys.stderr)
        subprocess.run(cmd, stdout=sys.stderr, stderr=sys.stderr, check=True)
    path = shutil.which("wrk")
    if not path:
        raise SystemExit(f"{who}: wrk is still not on PATH after apt-get install")
    return path


def lua_script(body: bytes, headers: dict[str, str]) -> str:
    text = body.decode()
    level = "=" * 4
    assert f"]{level}]" not in text
    lines = ['wrk.method = "POST"', f"wrk.body = [{level}[{text}]{level}]",
             'wrk.headers["Content-Type"] = "application/json"']
    lines += [f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items()]
    return "\n".join(lines) + "\n"


@dataclass
class Result:
    path: str
    connections: int
    stream: bool
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    seconds: float
    errors: int  # socket errors + non-2xx/3xx responses
    cpu_us_per_req: float  # CPU time (user+sys) of the server wrk talks to, per request


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    if not m:
        raise ValueError(f"cannot read wrk time {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_wrk(out: str) -> dict[str, Any]:
    pct = dict(re.findall(r"^\s+(50|99)(?:\.0+)?%\s+(\S+)\s*$", out, re.M))
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", out, re.M)
    total = re.search(r"^\s+(\d+) requests in ([\d.]+\w+),", out, re.M)
    if not (rps and total and "50" in pct and "99" in pct):
        raise ValueError("cannot parse wrk output:\n" + out)
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors += int(non2xx.group(1)) if non2xx else 0
    return {"rps": float(rps.group(1)), "p50_ms": _ms(pct["50"]), "p99_ms": _ms(pct["99"]),
            "requests": int(total.group(1)), "seconds": _ms(total.group(2)) / 1e3, "errors": errors}


_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (from /proc)."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        fields = f.read().rpartition(b")")[2].split()
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime (fields 14 and 15)


def run_wrk(wrk: str, url: str, script: str, threads: int, conns: int, seconds: float,
            pid: int | None = None) -> dict[str, Any]:
    """One wrk run; with pid, also the CPU that process spent per request."""
    cpu0 = cpu_seconds(pid) if pid else 0.0
    cmd = [wrk, f"-t{threads}", f"-c{conns}", f"-d{max(1, round(seconds))}s", "--latency", "--timeout", "10s",
           "-s", script, url]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stderr or proc.stdout}")
    fig = parse_wrk(proc.stdout)
    if pid:
        fig["cpu_us_per_req"] = (cpu_seconds(pid) - cpu0) * 1e6 / max(1, fig["requests"])
    return fig


def busy_cpu_seconds() -> float:
    """CPU seconds the whole machine has spent busy (all cores), from /proc/stat."""
    with open("/proc/stat") as f:
        ticks = [int(x) for x in f.readline().split()[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / _TICK  # minus idle and iowait


def children_cpu_seconds() -> float:
    import resource

    ru = resource.getrusage(resource.RUSAGE_CHILDREN)  # wrk, once reaped
    return ru.ru_utime + ru.ru_stime


def median_results(rounds: list[list[Result]]) -> list[Result]:
    """Per path and config, the median of each figure over the rounds."""
    out = []
    for group in zip(*rounds):
        first = group[0]
        med = {f: statistics.median(getattr(r, f) for r in group)
               for f in ("rps", "p50_ms", "p99_ms", "cpu_us_per_req")}
        out.append(Result(path=first.path, connections=first.connections, stream=first.stream,
                          requests=sum(r.requests for r in group), seconds=sum(r.seconds for r in group),
                          errors=sum(r.errors for r in group), **med))
    return out


# --------------------------------------------------------------------------- servers

def start_passthrough(upstream: str, stderr: int, timeout: float = 30.0) -> procs.Server:
    proc = subprocess.Popen([sys.executable, str(HERE / "passthrough.py"), "--upstream", upstream, "--port", "0"],
                            stdout=subprocess.PIPE, stderr=stderr)
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    line = b""
    try:
        while not line.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not sel.select(remaining):
                proc.kill()
                proc.wait()
                raise RuntimeError(f"passthrough: no URL printed within {timeout}s")
            byte = proc.stdout.read1(1)
            if not byte:
                proc.wait()
                raise RuntimeError(f"passthrough: exited with {proc.returncode} before printing its URL")
            line += byte
    finally:
        sel.close()
    return procs.Server(line.decode().strip(), proc)


# --------------------------------------------------------------------------- correctness

def tool_commands(reply: client.Reply, stream: bool) -> tuple[list[str], str]:
    """(shell commands of the tool calls, assistant text) from an OpenAI Chat reply."""
    if not stream:
        msg = reply.json()["choices"][0]["message"]
        calls = msg.get("tool_calls") or []
        args = [c["function"]["arguments"] for c in calls]
        text = msg.get("content") or ""
    else:
        parts: dict[int, list[str]] = {}
        text_parts: list[str] = []
        for ev in reply.events():
            if ev.comment or ev.data.strip() == "[DONE]" or not ev.data.strip():
                continue  # comments carry no content (the gateway's envelope travels in one)
            chunk = orjson.loads(ev.data)
            for choice in chunk.get("choices") or []:
                delta = choice.get("delta") or {}
                if delta.get("content"):
                    text_parts.append(delta["content"])
                for tc in delta.get("tool_calls") or []:
                    parts.setdefault(tc.get("index", 0), []).append((tc.get("function") or {}).get("arguments") or "")
        args = ["".join(parts[i]) for i in sorted(parts)]
        text = "".join(text_parts)
    commands = []
    for a in args:
        parsed = orjson.loads(a)
        cmd = parsed.get("command")
        commands.append(" ".join(cmd) if isinstance(cmd, list) else str(cmd))
    return commands, text


def label(conns: int, stream: bool) -> str:
    return f"c{conns} {'stream' if stream else 'json'}"


CPU_NOTE = ["cpu us/req: CPU time (user+sys) of the server wrk talks to (the mock for direct, else the proxy),",
            "per request; it does not depend on how the 2 cores were shared, so it backs up the ratios."]


def table(results: list[Result], configs: list[tuple[int, int, bool]], paths: tuple[str, ...],
          width: int) -> list[str]:
    """The per-path, per-config rows both benchmarks print (width: of the path column)."""
    by = {(r.path, r.connections, r.stream): r for r in results}
    lines = [f"{'path':<{width}} {'config':<10} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'+p50 ms':>8} "
             f"{'cpu us/req':>10} {'errors':>6}", "-" * (width + 65)]
    for _, conns, stream in configs:
        direct = by.get(("direct", conns, stream))
        for path in paths:
            r = by.get((path, conns, stream))
            if r is None:
                continue
            added = "" if path == "direct" or direct is None else f"{r.p50_ms - direct.p50_ms:+.3f}"
            lines.append(f"{path:<{width}} {label(conns, stream):<10} {r.rps:>8.0f} {r.p50_ms:>8.3f} "
                         f"{r.p99_ms:>8.3f} {added:>8} {r.cpu_us_per_req:>10.0f} {r.errors:>6}")
        lines.append("")
    return lines
