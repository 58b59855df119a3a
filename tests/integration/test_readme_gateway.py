"""The README's gateway walkthrough, run as written (ports swapped for free ones).

A newcomer copies it into a shell; if it stops working, this fails.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def walkthrough() -> str:
    text = README.read_text()
    section = text[text.index("## The gateway"):text.index("## Architecture")]
    return re.search(r"```sh\n(.*?)```", section, re.S).group(1)  # type: ignore[union-attr]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(shutil.which("curl") is None, reason="the walkthrough uses curl")
def test_readme_gateway_walkthrough_runs(tmp_path: Path) -> None:
    script = walkthrough()
    for port in ("18081", "18082", "18787"):
        script = script.replace(port, str(free_port()))
    # The reader stops the servers with `kill %1 %2 %3`; a script also does it on any exit.
    script = "set -e\ntrap 'kill $(jobs -p) 2>/dev/null' EXIT\n" + script.replace("kill %1 %2 %3", "")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    out = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    routes = re.findall(r"x-relayguard-route: (\S+)", out.stdout)
    assert routes == ["mock-a/mock-large", "mock-b/mock-large"], out.stdout
    assert out.stdout.count("pip install requests") == 2
    assert '"coder":{"requests":2' in out.stdout  # usage per key and model
    assert re.search(r"relayguard_gateway_failovers_total\{model=\"coder\"\} 1\.0", out.stdout)
