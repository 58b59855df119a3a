"""What does the gateway cost, and how does it compare with LiteLLM's proxy?  One run, this machine.

Starts as real processes on 127.0.0.1 (free ports, stopped by PID at the end, even on error),
all in front of the same mock provider (relayguard mock-provider):

- direct: the mock itself;
- passthrough: the minimal hand-written proxy (bench/passthrough.py), the Python ceiling;
- gateway: `relayguard gateway` with everything on: a virtual key with rpm, tpm and budget
  limits (high enough never to trigger), usage and cost accounting with a [[price]] for the
  model, signed envelopes ([signing] key from `relayguard keys generate`), the transparency
  log, and its JSON request log on stderr (to a file);
- gateway-quiet: the same with --quiet (no request log), to show what that log costs;
- litellm: LiteLLM's proxy at a pinned version (bench/_litellm.py: installed the first time
  into a cached venv under .bench-cache/), one worker, a master key, the mock as an
  OpenAI-compatible upstream with the same price.  It has no virtual keys, limits or budgets
  without its database, and signs and logs nothing beyond its access log: it does less work
  per request than the gateway.  If it cannot be installed or started, the run says so and
  measures the rest.

Each path must first answer 200 with the mock's `pip install requests` tool call, streaming and
not (the gateway's non-streaming answer with an x-relayguard-envelope header, its stream with
the envelope comment); then wrk loads each at 1 and 32 connections, streaming and not, the
paths interleaved config by config (LiteLLM, at ~80 requests/s, for longer: --litellm-duration).
It prints requests/s, p50 and p99, the p50 each proxy adds over the direct path, the CPU the
server under test spent per request (from /proc; it hardly depends on how the 2 shared cores
were split), and the ratios that matter:

- gateway throughput >= 60% of the passthrough's at 32 clients (issue #6);
- gateway throughput as a multiple of LiteLLM's; the p50 each adds at 1 client.

Afterwards it checks the gateway accounted every request (GET /admin/usage) and that its
transparency log verifies (`relayguard log verify`).

    uv run python bench/gateway.py [--duration 6] [--litellm-duration 15] [--rounds 1] [--json PATH]
                                   [--no-litellm] [--cache-dir DIR] [--keep-logs]

Progress goes to stderr, the table to stdout.  Default runtime: about 4 minutes, plus the
one-time LiteLLM install (2-3 minutes).
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's directory is sys.path[0]; other benchmarks there could shadow
# standard-library modules of the same name.  It goes back at the END, for the shared helpers.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.append(str(Path(__file__).resolve().parent))

import argparse
import json
import os
import platform
import secrets
import shutil
import subprocess
import tempfile
import time
from dataclasses import asdict
from typing import Any

import orjson

from relayguard.testing import client, procs

# bench/ (at the end of sys.path)
import _litellm
from _gateway_report import PATHS, TARGET_THROUGHPUT, label, render, summarise
from _wrk import (Result, busy_cpu_seconds, children_cpu_seconds, cpu_seconds, ensure_wrk, lua_script,
                  median_results, run_wrk, start_passthrough, tool_commands)

HERE = Path(__file__).resolve().parent
DIALECT = "openai-chat"
PATH = client.PATHS[DIALECT]
MODEL = _litellm.MODEL
PROMPT = "please install requests"
EXPECTED_COMMAND = "pip install requests"
CONFIGS = [(1, 1, False), (1, 1, True), (2, 32, False), (2, 32, True)]  # (threads, connections, stream)
ENVELOPE_HEADER = "x-relayguard-envelope"
ENVELOPE_SSE = b"\n: relayguard-envelope "
ADMIN_ENV, PROVIDER_KEY_ENV = "RG_BENCH_ADMIN_TOKEN", "RG_BENCH_PROVIDER_KEY"
# Limits of the benchmark's virtual key: on, checked per request, never reached.
KEY_LIMITS = {"rpm": 100_000_000, "tpm": 1_000_000_000, "budget_usd": 1_000_000.0}


def log(msg: str) -> None:
    print(f"[gateway-bench] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- the gateway

def gateway_config(directory: Path, mock_url: str, signing_key: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "gateway.toml"
    price_in, price_out = _litellm.INPUT_COST_PER_TOKEN * 1e6, _litellm.OUTPUT_COST_PER_TOKEN * 1e6
    path.write_text(f"""
[[provider]]
name = "mock"
base_url = "{mock_url}"
dialect = "openai-chat"
api_key_env = "{PROVIDER_KEY_ENV}"

[[model]]
name = "{MODEL}"
targets = [{{ provider = "mock", model = "{MODEL}", weight = 1 }}]

[admin]
token_env = "{ADMIN_ENV}"

[signing]
key = "{signing_key}"

[storage]
database = "{directory / 'gateway.sqlite'}"
log = "{directory / 'gateway-log.sqlite'}"

[[price]]
model = "{MODEL}"
input_per_mtok = {price_in}
output_per_mtok = {price_out}
""")
    return path


def generate_signing_key(directory: Path) -> Path:
    subprocess.run([sys.executable, "-m", "relayguard", "keys", "generate", "--out", str(directory)], check=True,
                   capture_output=True, timeout=60)
    key = directory / "signing.key"
    if not key.is_file():
        raise SystemExit(f"gateway-bench: `relayguard keys generate --out {directory}` made no signing.key")
    return key


def issue_key(url: str, admin_token: str) -> str:
    body = orjson.dumps({"models": [MODEL], "name": "bench", **KEY_LIMITS})
    reply = client.request(url, "POST", "/admin/keys", body,
                           {"authorization": f"Bearer {admin_token}", "content-type": "application/json"})
    if reply.status not in (200, 201):
        raise SystemExit(f"gateway-bench: POST /admin/keys answered {reply.status}: {reply.body[:300]!r}")
    return str(reply.json()["key"])


def usage_totals(url: str, admin_token: str) -> dict[str, Any]:
    reply = client.request(url, "GET", "/admin/usage", headers={"authorization": f"Bearer {admin_token}"})
    if reply.status != 200:
        raise SystemExit(f"gateway-bench: GET /admin/usage answered {reply.status}: {reply.body[:300]!r}")
    return dict(reply.json()["totals"])


def verify_log(directory: Path) -> str:
    out = subprocess.run([sys.executable, "-m", "relayguard", "log", "verify", "--log",
                          str(directory / "gateway-log.sqlite")], capture_output=True, text=True, timeout=600)
    text = (out.stdout + out.stderr).strip().splitlines()
    if out.returncode != 0:
        raise SystemExit(f"gateway-bench: the gateway's transparency log does not verify: {' / '.join(text)}")
    return text[-1] if text else "verified"


# --------------------------------------------------------------------------- correctness

def check_paths(urls: dict[str, str], headers: dict[str, dict[str, str]]) -> None:
    for name, url in urls.items():
        for stream in (False, True):
            body = client.agent_request(DIALECT, PROMPT, stream=stream, model=MODEL)
            reply = client.post_json(url, PATH, body, headers[name], timeout=60)
            what = f"{name} ({'streaming' if stream else 'non-streaming'})"
            if reply.status != 200:
                raise SystemExit(f"gateway-bench: {what} answered {reply.status}: {reply.body[:500]!r}")
            commands, _ = tool_commands(reply, stream)
            if commands != [EXPECTED_COMMAND]:
                raise SystemExit(f"gateway-bench: {what} answered tool calls {commands}, "
                                 f"expected [{EXPECTED_COMMAND!r}]")
            if name.startswith("gateway"):
                signed = ENVELOPE_SSE in reply.body if stream else bool(reply.headers.get(ENVELOPE_HEADER))
                if not signed:
                    where = "no envelope comment in the stream" if stream else f"no {ENVELOPE_HEADER} header"
                    raise SystemExit(f"gateway-bench: {what}: {where}; is [signing] on?")
    log(f"each path answers 200 with the `{EXPECTED_COMMAND}` tool call, streaming and not; "
        "the gateway's answers are signed")


# --------------------------------------------------------------------------- main

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Measure the gateway against a direct path, a minimal "
                                                 "passthrough and LiteLLM's proxy (see the module docstring).")
    parser.add_argument("--duration", type=float, default=6.0, help="seconds per measured run (default 6)")
    parser.add_argument("--litellm-duration", type=float, default=15.0,
                        help="seconds per measured run of LiteLLM, which serves ~80 requests/s (default 15)")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds of warm-up per path and mode (default 1)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="measure every path and config this many times, interleaved, and report the medians")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON to PATH")
    parser.add_argument("--no-litellm", action="store_true", help="do not install, start or measure LiteLLM")
    parser.add_argument("--cache-dir", type=Path, default=HERE.parent / ".bench-cache",
                        help="where LiteLLM's venv is kept between runs (default: .bench-cache/ in the repository)")
    parser.add_argument("--keep-logs", action="store_true", help="keep the servers' logs and print where")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.duration < 1 or args.litellm_duration < 1:
        parser.error("--rounds, --duration and --litellm-duration must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    wrk = ensure_wrk(log, "gateway-bench")
    litellm_exe, litellm_note = None, None
    if args.no_litellm:
        litellm_note = "not measured (--no-litellm)"
    else:
        try:
            litellm_exe = _litellm.ensure_installed(args.cache_dir.resolve(), log)
        except _litellm.Unavailable as exc:
            litellm_note = f"NOT MEASURED: {exc}"
            log(f"LiteLLM {litellm_note}; measuring the other paths")

    tmp = Path(tempfile.mkdtemp(prefix="relayguard-gwbench-"))
    names = ("mock", "passthrough", "gateway", "gateway-quiet", "litellm")
    logs = {name: open(tmp / f"{name}.log", "wb") for name in names}
    admin_token, provider_key = secrets.token_hex(24), "FAKE-bench-" + secrets.token_hex(8)  # throwaway, this run
    gw_env = {ADMIN_ENV: admin_token, PROVIDER_KEY_ENV: provider_key, "XDG_DATA_HOME": str(tmp / "data")}
    servers: list[procs.Server] = []
    rounds: list[list[Result]] = []
    usage: dict[str, dict[str, Any]] = {}
    other_load, ok = None, False
    try:
        log("starting the mock provider, the passthrough and the gateway (request log on, and --quiet)")
        mock = procs.start("mock-provider", stderr=logs["mock"].fileno())
        servers.append(mock)
        passthrough = start_passthrough(mock.url, logs["passthrough"].fileno())
        servers.append(passthrough)
        signing_key = generate_signing_key(tmp / "keys")
        gateways = {}
        for name, extra in (("gateway", ()), ("gateway-quiet", ("--quiet",))):
            config = gateway_config(tmp / name, mock.url, signing_key)
            gateways[name] = procs.start("gateway", "--config", str(config), *extra, env=gw_env,
                                         stderr=logs[name].fileno())
            servers.append(gateways[name])
        urls = {"direct": mock.url, "passthrough": passthrough.url,
                **{name: s.url for name, s in gateways.items()}}
        pids = {"direct": mock.proc.pid, "passthrough": passthrough.proc.pid,
                **{name: s.proc.pid for name, s in gateways.items()}}
        headers = {"direct": client.headers_for(DIALECT), "passthrough": client.headers_for(DIALECT),
                   **{name: {"authorization": f"Bearer {issue_key(s.url, admin_token)}"}
                      for name, s in gateways.items()}}
        if litellm_exe is not None:
            master_key = "sk-bench-" + secrets.token_hex(16)  # throwaway, this run
            lite = _litellm.launch(litellm_exe, _litellm.write_config(tmp / "litellm.yaml", mock.url, master_key),
                                   logs["litellm"].fileno())
            servers.append(lite)
            try:
                _litellm.wait_ready(lite, log)
            except _litellm.Unavailable as exc:
                litellm_note = f"NOT MEASURED: {exc} (its log: {tmp / 'litellm.log'})"
                args.keep_logs = True
                log(f"LiteLLM {litellm_note}; measuring the other paths")
                lite.stop()
                servers.remove(lite)
            else:
                urls["litellm"], pids["litellm"] = lite.url, lite.proc.pid
                headers["litellm"] = {"authorization": f"Bearer {master_key}"}
        paths = [p for p in PATHS if p in urls]
        log("  " + ", ".join(f"{k} {v} (pid {pids[k]})" for k, v in urls.items()))
        check_paths(urls, headers)

        scripts = {}
        for path in paths:
            for stream in (False, True):
                body = orjson.dumps(client.agent_request(DIALECT, PROMPT, stream=stream, model=MODEL))
                script = tmp / f"{path}-{'stream' if stream else 'json'}.lua"
                script.write_text(lua_script(body, headers[path]))
                scripts[path, stream] = str(script)

        def seconds(path: str) -> float:
            return args.litellm_duration if path == "litellm" else args.duration

        if args.warmup > 0:
            log(f"warming up ({args.warmup:g}s per path and mode at 32 connections; LiteLLM twice that)")
            for stream in (False, True):
                for path in paths:
                    run_wrk(wrk, urls[path] + PATH, scripts[path, stream], 2, 32,
                            args.warmup * (2 if path == "litellm" else 1))

        busy0, ours0 = busy_cpu_seconds(), children_cpu_seconds() + sum(map(cpu_seconds, pids.values()))
        wall0 = time.monotonic()
        total, n = args.rounds * len(CONFIGS) * len(paths), 0
        for _ in range(args.rounds):
            results: list[Result] = []
            for threads, conns, stream in CONFIGS:
                for path in paths:
                    n += 1
                    log(f"[{n}/{total}] {path:<13} {label(conns, stream)}: wrk -t{threads} -c{conns} "
                        f"-d{round(seconds(path))}s")
                    fig = run_wrk(wrk, urls[path] + PATH, scripts[path, stream], threads, conns, seconds(path),
                                  pids[path])
                    r = Result(path=path, connections=conns, stream=stream, **fig)
                    results.append(r)
                    log(f"      {r.rps:.0f} req/s, p50 {r.p50_ms:.3f} ms, p99 {r.p99_ms:.3f} ms, "
                        f"{r.cpu_us_per_req:.0f} us CPU/req" + (f", {r.errors} ERRORS" if r.errors else ""))
            rounds.append(results)
        wall = time.monotonic() - wall0
        ours = children_cpu_seconds() + sum(map(cpu_seconds, pids.values())) - ours0
        other_load = max(0.0, (busy_cpu_seconds() - busy0 - ours) / (wall * (os.cpu_count() or 1)))
        check_paths(urls, headers)  # still serving correctly after the load?
        time.sleep(1.0)  # the gateway writes usage every 0.5 s
        usage = {name: usage_totals(s.url, admin_token) for name, s in gateways.items()}
        ok = True
    finally:
        for server in reversed(servers):
            try:
                server.stop()
            except Exception as exc:  # keep stopping the others
                log(f"could not stop pid {server.proc.pid}: {exc}")
        for f in logs.values():
            f.close()
        if not ok:
            log(f"the run failed; server logs, configurations and databases are in {tmp}")
            for name in logs:
                text = (tmp / f"{name}.log").read_text(errors="replace").strip()
                if text:
                    log(f"--- {name} log (last lines) ---\n" + "\n".join(text.splitlines()[-20:]))

    accounting = {}
    all_rounds = [r for rnd in rounds for r in rnd]
    for name, totals in usage.items():
        measured = sum(r.requests for r in all_rounds if r.path == name)
        accounting[name] = {**totals, "wrk_requests": measured, "log": verify_log(tmp / name)}
        if totals["requests"] < measured or not totals["cost_usd"] > 0:
            raise SystemExit(f"gateway-bench: {name} accounted {totals['requests']} requests costing "
                             f"${totals['cost_usd']:.4f}, but wrk completed {measured}")
    if args.keep_logs:
        log(f"server logs, configurations and databases are in {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)

    results = median_results(rounds) if len(rounds) > 1 else rounds[0]
    summary = summarise(results)
    sys.stderr.flush()
    print(f"relayguard gateway vs LiteLLM: {DIALECT} {PATH}, wrk {round(args.duration)}s per run "
          f"(LiteLLM {round(args.litellm_duration)}s){f', median of {args.rounds} rounds' if args.rounds > 1 else ''}"
          f", {os.cpu_count()} CPUs, Python {platform.python_version()}, one worker per server")
    print(render(results, summary, CONFIGS))
    print(f"LiteLLM {_litellm.VERSION}: {litellm_note or 'measured (master key, price, access log; no DB)'}")
    for name, acc in accounting.items():
        print(f"{name}: accounted {acc['requests']} requests (wrk completed {acc['wrk_requests']}), "
              f"{acc['input_tokens'] + acc['output_tokens']} tokens, ${acc['cost_usd']:.4f}; log: {acc['log']}")
    if other_load is not None:
        note = "  (high: the absolute figures are depressed; trust the ratios, or rerun)" if other_load > 0.1 else ""
        print(f"Other processes used {other_load:.0%} of the machine's CPU during the measurements.{note}")
    if any(r.errors for r in results):
        print("WARNING: some runs had socket errors or non-2xx responses; their figures are suspect.")
    if args.json:
        doc = {
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                        "platform": platform.platform(), "other_load": other_load},
            "settings": {"dialect": DIALECT, "path": PATH, "prompt": PROMPT, "duration_s": args.duration,
                         "litellm_duration_s": args.litellm_duration, "warmup_s": args.warmup,
                         "rounds": args.rounds, "litellm_version": _litellm.VERSION, "key_limits": KEY_LIMITS,
                         "configs": [{"threads": t, "connections": c, "stream": s} for t, c, s in CONFIGS]},
            "litellm": litellm_note or "measured",
            "results": [asdict(r) for r in results],
            "rounds": [[asdict(r) for r in rnd] for rnd in rounds],
            "summary": summary,
            "accounting": accounting,
            "targets": {"throughput_ratio_32_min": TARGET_THROUGHPUT,
                        "pass": {f"throughput_ratio_32_{k}": v >= TARGET_THROUGHPUT
                                 for k, v in summary["throughput_ratio_32"]["gateway"].items()}},
        }
        Path(args.json).write_text(json.dumps(doc, indent=2) + "\n")
        log(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
