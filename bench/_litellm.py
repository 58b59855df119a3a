"""LiteLLM's proxy for bench/gateway.py: installed into a cached throwaway venv, configured, started.

The version is pinned.  1.82.7 and 1.82.8 were trojanized on the registry and are refused
whatever the pin says; newer releases need a certifi the registry here does not have.  The
venv lives in the benchmark cache (default: .bench-cache/ at the repository root,
git-ignored) and is reused by later runs; an install that did not finish leaves no marker
and is redone from scratch.
"""

from __future__ import annotations

import http.client
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

from relayguard.testing import client, procs

VERSION = "1.102.4"
TROJANIZED = frozenset({"1.82.7", "1.82.8"})
REQUIREMENT = f"litellm[proxy]=={VERSION}"
INSTALL_TIMEOUT_S = 30 * 60
READY_TIMEOUT_S = 180.0
MODEL = "mock-large"
# The gateway's [[price]] for the model, in USD per token (1 and 2 USD per million tokens).
INPUT_COST_PER_TOKEN = 1.0e-6
OUTPUT_COST_PER_TOKEN = 2.0e-6


class Unavailable(Exception):
    """LiteLLM cannot be measured here; the message says why."""


def ensure_installed(cache: Path, log: Callable[[str], None]) -> Path:
    """The `litellm` executable of a venv holding exactly REQUIREMENT; installs it the first time."""
    if VERSION in TROJANIZED:
        raise Unavailable(f"litellm {VERSION} is a trojanized release; refusing to install it")
    venv = cache / f"litellm-{VERSION}"
    marker = venv / ".installed"
    exe = venv / "bin" / "litellm"
    if marker.is_file() and marker.read_text().strip() == VERSION and exe.is_file():
        log(f"LiteLLM {VERSION}: using the cached venv {venv}")
        return exe
    if venv.exists():
        log(f"LiteLLM: {venv} holds an unfinished install; removing it")
        shutil.rmtree(venv)
    log(f"LiteLLM: installing {REQUIREMENT} into {venv} (one time; a few minutes; pip's progress follows)")
    started = time.monotonic()
    python = str(venv / "bin" / "python")
    steps = [
        ("creating the venv", [sys.executable, "-m", "venv", str(venv)], 300),
        # pip's own lines ("Collecting ...", "Installing collected packages ...") are the progress report.
        ("pip install", [python, "-m", "pip", "install", "--progress-bar", "off", "--disable-pip-version-check",
                         REQUIREMENT], INSTALL_TIMEOUT_S),
    ]
    step = "creating the cache directory"
    try:
        venv.parent.mkdir(parents=True, exist_ok=True)
        for step, cmd, timeout in steps:
            subprocess.run(cmd, check=True, stdout=sys.stderr, stderr=sys.stderr, timeout=timeout)
        step = "reading the installed version"
        installed = subprocess.run([python, "-c", "import importlib.metadata as m; print(m.version('litellm'))"],
                                   check=True, capture_output=True, text=True, timeout=120).stdout.strip()
    except subprocess.TimeoutExpired as exc:
        shutil.rmtree(venv, ignore_errors=True)
        raise Unavailable(f"installing {REQUIREMENT}: {step} did not finish within {exc.timeout:.0f} s") from None
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(venv, ignore_errors=True)
        raise Unavailable(f"installing {REQUIREMENT} failed: {step} exited with {exc.returncode} (is the package "
                          "registry reachable? its messages are above)") from None
    except OSError as exc:
        shutil.rmtree(venv, ignore_errors=True)
        raise Unavailable(f"installing {REQUIREMENT} into {venv} failed: {step}: {exc}") from None
    if installed != VERSION or installed in TROJANIZED or not exe.is_file():
        shutil.rmtree(venv, ignore_errors=True)
        raise Unavailable(f"pip installed litellm {installed!r}, not {VERSION}; removed it")
    marker.write_text(VERSION + "\n")
    log(f"LiteLLM {VERSION} installed in {time.monotonic() - started:.0f} s")
    return exe


def write_config(path: Path, mock_url: str, master_key: str) -> Path:
    """As close to the gateway's configuration as LiteLLM goes without a database: the mock as
    an OpenAI-compatible upstream, the same price, a master key.  Virtual keys, rpm/tpm limits
    and budgets need LiteLLM's Postgres database, so they are off here; LiteLLM still computes
    every response's cost (its x-litellm-response-cost header) and logs each request."""
    path.write_text(
        "model_list:\n"
        f"  - model_name: {MODEL}\n"
        "    litellm_params:\n"
        f"      model: openai/{MODEL}\n"
        f"      api_base: {mock_url.rstrip('/')}/v1\n"
        "      api_key: fake\n"
        f"      input_cost_per_token: {INPUT_COST_PER_TOKEN}\n"
        f"      output_cost_per_token: {OUTPUT_COST_PER_TOKEN}\n"
        "general_settings:\n"
        f"  master_key: {master_key}\n"
        "litellm_settings:\n"
        "  telemetry: false\n")
    return path


def _free_port() -> int:
    # LiteLLM's CLI takes a port number, not 0; the tiny race with other processes is acceptable here.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(exe: Path, config: Path, log_file: int) -> procs.Server:
    """`litellm --config CONFIG --port P --num_workers 1` on 127.0.0.1 (not yet ready: see wait_ready)."""
    port = _free_port()
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}  # its price map from the package, not the net
    env.pop("DATABASE_URL", None)  # no database: the in-memory proxy only
    cmd = [str(exe), "--config", str(config), "--host", "127.0.0.1", "--port", str(port), "--num_workers", "1",
           "--telemetry", "False"]
    proc = subprocess.Popen(cmd, stdout=log_file, stderr=log_file, stdin=subprocess.DEVNULL, env=env)
    return procs.Server(f"http://127.0.0.1:{port}", proc)


def wait_ready(server: procs.Server, log: Callable[[str], None]) -> None:
    log(f"LiteLLM: started (pid {server.proc.pid}); waiting for {server.url}/health/liveliness")
    started = time.monotonic()
    while time.monotonic() - started < READY_TIMEOUT_S:
        if server.proc.poll() is not None:
            raise Unavailable(f"LiteLLM's proxy exited with {server.proc.returncode} before it was ready")
        try:
            if client.request(server.url, "GET", "/health/liveliness", timeout=2).status == 200:
                log(f"LiteLLM: ready after {time.monotonic() - started:.1f} s")
                return
        except (OSError, http.client.HTTPException):
            pass  # not listening yet
        time.sleep(0.5)
    raise Unavailable(f"LiteLLM's proxy was not ready within {READY_TIMEOUT_S:.0f} s")
