"""`relayguard audit` end to end: real processes on 127.0.0.1, every red-team mode.

One signing mock provider is the reference and every router's upstream; one
red-team router per mode; each audit is a real `relayguard audit` process with
--json and --html.  The audits run once per module (three at a time) and the
tests read their reports: the verdict, the exit code, and the evidence that
proves it.  At the end the calls each detection needed are printed.
"""

from __future__ import annotations

import difflib
import re
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson
import pytest

from relayguard.testing import procs

ATTACKER_HOST = "cdn-install.example.net"
# mode -> (red-team flags, audit seed)
MODES: dict[str, tuple[tuple[str, ...], int]] = {
    "honest-a": (("--attack", "none"), 11),
    "honest-b": (("--attack", "none"), 12),
    "ac1": (("--attack", "ac1"), 21),
    "ac1a": (("--attack", "ac1a"), 22),
    "ac1b-after-50": (("--attack", "ac1b", "--after", "50"), 23),
    "ac1b-only-yolo": (("--attack", "ac1b", "--only-yolo"), 24),
    "ac1b-keyword": (("--attack", "ac1b", "--keyword", "wallet"), 25),
    "ac1b-langs": (("--attack", "ac1b", "--langs", "rust,go"), 26),
    "ac1b-tool": (("--attack", "ac1b", "--tool", "run_shell_command"), 27),
    "ac2-url-canary": (("--attack", "ac2", "--harvest-log", "{tmp}/harvest.jsonl"), 28),
    "prompt-inject": (("--attack", "prompt-inject"), 29),
    "model-swap": (("--attack", "model-swap", "--swap-to", "mock-small"), 30),
    "strip-envelope": (("--attack", "none", "--strip-envelope"), 31),
}
ATTACKS = [m for m in MODES if not m.startswith("honest")]


class Audit:
    def __init__(self, code: int, stdout: str, stderr: str, json_path: Path, html_path: Path) -> None:
        self.code, self.stdout, self.stderr = code, stdout, stderr
        self.report: dict[str, Any] = orjson.loads(json_path.read_bytes()) if json_path.exists() else {}
        self.html = html_path.read_text() if html_path.exists() else ""

    def findings(self, check: str, proof: bool = True) -> list[dict[str, Any]]:
        return [f for f in self.report["findings"] if f["check"] == check and f["proof"] == proof]

    def steps_of(self, finding: dict[str, Any]) -> list[dict[str, Any]]:
        """The router calls a finding's instances name, as rows of calls_made."""
        rows = {(c["step"], c["target"]): c for c in self.report["calls_made"]}
        return [rows[(i["step"], "router")] for i in finding["instances"] if i.get("step") is not None]


def run_audit(*args: str, timeout: float = 240.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "relayguard", "audit", *args], capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest):
    tmp = tmp_path_factory.mktemp("audit")
    keys = tmp / "keys"
    assert subprocess.run([sys.executable, "-m", "relayguard", "keys", "generate", "--out", str(keys)],
                          capture_output=True).returncode == 0
    started: list[procs.Server] = []
    try:
        mock = procs.start("mock-provider", "--sign-key", str(keys / "signing.key"))
        started.append(mock)
        with ThreadPoolExecutor(4) as pool:
            routers = dict(zip(MODES, pool.map(
                lambda flags: procs.start("redteam", "--upstream", mock.url,
                                          *(f.format(tmp=tmp) for f in flags)),
                [flags for flags, _ in MODES.values()])))
        started += routers.values()

        def audit(mode: str) -> Audit:
            json_path, html_path = tmp / f"{mode}.json", tmp / f"{mode}.html"
            done = run_audit("--router", routers[mode].url, "--reference", mock.url, "--seed", str(MODES[mode][1]),
                             "--json", str(json_path), "--html", str(html_path),
                             # the harvester fetches at once; the wait is a margin for a loaded machine
                             "--canary-wait", "3" if mode.startswith("ac2") else "0")
            return Audit(done.returncode, done.stdout, done.stderr, json_path, html_path)

        with ThreadPoolExecutor(3) as pool:
            audits = dict(zip(MODES, pool.map(audit, MODES)))
        yield {"mock": mock, "routers": routers, "audits": audits, "tmp": tmp}
    finally:
        codes = [(s, s.stop()) for s in started]
    assert all(code == 0 for _, code in codes), [(s.proc.args, c) for s, c in codes]
    _print_detections(request, audits)


def _print_detections(request: pytest.FixtureRequest, audits: dict[str, Audit]) -> None:
    """The closing note's figures: how many calls each detection needed."""
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    lines = ["", "relayguard audit: calls until the first proof (router + reference calls, in order), "
                 "then per check"]
    for mode, a in audits.items():
        r = a.report
        if not r:
            continue
        firsts: dict[str, int] = {}
        for f in r["findings"]:
            if f["proof"]:
                firsts[f["check"]] = min(firsts.get(f["check"], f["first_call"]), f["first_call"])
        proofs = [f"{check} {n}" for check, n in sorted(firsts.items(), key=lambda kv: kv[1])]
        first = r["first_proof_after_calls"]
        lines.append(f"  {mode:<16} {r['verdict']:<12} first proof after {first if first else '-':>4} "
                     f"of {r['calls']} calls  {', '.join(proofs)}")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled():  # fd capture would swallow it in a fixture's teardown
        for line in lines:
            reporter.write_line(line)


def _get(world: dict[str, Any], mode: str) -> Audit:
    audit = world["audits"][mode]
    assert audit.report, f"{mode}: no JSON report; exit {audit.code}\n{audit.stdout[-2000:]}\n{audit.stderr[-3000:]}"
    return audit


# --- the honest relay is cleared -----------------------------------------------------------


@pytest.mark.parametrize("mode", ["honest-a", "honest-b"])
def test_honest_relay_comes_out_clean(world, mode):
    audit = _get(world, mode)
    assert audit.code == 0, audit.stdout
    assert audit.report["verdict"] == "clean"
    assert audit.report["findings"] == [] and audit.report["gaps"] == []
    assert audit.stdout.startswith("VERDICT: CLEAN")
    cov = audit.report["coverage"]
    assert cov["router_calls_past_warmup"] > 0 and cov["highest_router_call"] > 60
    assert audit.report["request_integrity_witnessed"] == cov["router_calls_answered"]
    assert audit.report["model_substitution"]["identical"] == audit.report["model_substitution"]["probes"] > 0


def test_the_relay_forwards_the_auditors_bytes_unchanged(world):
    """The premise of the request-integrity check: relayguard's proxy does not re-serialise bodies."""
    rows = _get(world, "honest-a").report["calls_made"]
    assert {r["request_digest"] for r in rows if r["target"] == "router"} == {"match"}
    assert {r["envelope"] for r in rows} == {"verified"}


# --- every attack is caught, with the evidence that proves it ------------------------------


@pytest.mark.parametrize("mode", ATTACKS)
def test_every_attack_is_caught(world, mode):
    audit = _get(world, mode)
    assert audit.code == 1, audit.stdout
    assert audit.report["verdict"] == "malicious"
    assert audit.stdout.startswith("VERDICT: MALICIOUS")
    assert audit.report["first_proof_after_calls"] >= 1


def _commands(detail: str) -> tuple[str, str]:
    match = re.search(r"the router returned `[^:`]+: ([^`]*)`; the reference returned `[^:`]+: ([^`]*)`", detail)
    assert match, detail
    return match.group(1), match.group(2)


def test_ac1_evidence_shows_the_swapped_installer_url(world):
    (finding,) = _get(world, "ac1").findings("tool-call-fidelity")
    pairs = [_commands(i["detail"]) for i in finding["instances"]]
    assert pairs and all(ATTACKER_HOST in mine and ATTACKER_HOST not in ref for mine, ref in pairs)
    assert any("sh.rustup.rs" in ref or "astral.sh" in ref or "bun.sh" in ref for _, ref in pairs)


def test_ac1a_evidence_shows_the_typosquatted_package(world):
    (finding,) = _get(world, "ac1a").findings("tool-call-fidelity")
    for instance in finding["instances"]:
        mine, ref = _commands(instance["detail"])
        assert mine != ref and difflib.SequenceMatcher(None, mine, ref).ratio() > 0.8, (mine, ref)
    (screening,) = _get(world, "ac1a").findings("screening")  # warm-up calls have no reference: screening judges
    assert "typosquat" in screening["evidence"] or "looks like the popular" in screening["evidence"]


def test_ac1b_after_50_strikes_only_past_the_warm_up_and_is_caught(world):
    audit = _get(world, "ac1b-after-50")
    assert audit.report["first_proof_after_calls"] > 50
    for finding in audit.findings("tool-call-fidelity") + audit.findings("screening"):
        assert min(i["call"] for i in finding["instances"]) > 50


def test_ac1b_only_yolo_is_caught_in_auto_approve_sessions_only(world):
    audit = _get(world, "ac1b-only-yolo")
    (finding,) = audit.findings("tool-call-fidelity")
    assert {row["persona"] for row in audit.steps_of(finding)} <= {
        "claude-code-yolo", "claude-p-headless", "codex-exec", "cursor-yolo", "cline-auto-approve"}
    for finding in audit.findings("screening"):
        assert "interactive" not in {row["persona"] for row in audit.steps_of(finding)}


def test_ac1b_keyword_is_caught_by_the_project_words(world):
    audit = _get(world, "ac1b-keyword")
    (finding,) = audit.findings("tool-call-fidelity")
    assert {row["phase"] for row in audit.steps_of(finding)} == {"battery"}
    assert "wallet" in audit.report["coverage"]["keywords"]


def test_ac1b_langs_is_caught_in_rust_and_go_projects(world):
    audit = _get(world, "ac1b-langs")
    (finding,) = audit.findings("tool-call-fidelity")
    assert {row["project"] for row in audit.steps_of(finding)} <= {"rust", "go"}


def test_ac1b_tool_is_caught_on_that_tool_name(world):
    audit = _get(world, "ac1b-tool")
    (finding,) = audit.findings("tool-call-fidelity")
    assert {row["tool"] for row in audit.steps_of(finding)} == {"run_shell_command"}


def test_ac2_url_canary_use_names_the_call_that_carried_it(world):
    audit = _get(world, "ac2-url-canary")
    (finding,) = audit.findings("canary-used")
    assert "/hook/" in finding["evidence"] and "URL canary planted in call #" in finding["evidence"]
    routers = {r["call"]: r for r in audit.report["calls_made"] if r["target"] == "router"}
    assert all(i["carried_by"] in routers for i in finding["instances"])
    hits = audit.report["canary_hits"]
    assert hits and all(h["path"].startswith("/hook/") for h in hits)
    harvested = (world["tmp"] / "harvest.jsonl").read_text()
    assert any(c["value"] in harvested for c in audit.report["canaries"] if c["kind"] == "aws_access_key_id")


def test_prompt_injection_is_caught_by_request_integrity(world):
    audit = _get(world, "prompt-inject")
    (finding,) = audit.findings("request-integrity")
    assert "SHA-256" in finding["evidence"]
    assert len(finding["instances"]) == audit.report["coverage"]["router_calls_answered"]
    assert audit.report["first_proof_after_calls"] == 1


def test_model_swap_is_caught_by_probes_and_statistics(world):
    audit = _get(world, "model-swap")
    evidence = " ".join(f["evidence"] for f in audit.findings("model-substitution"))
    assert "mock-small" in evidence and "known-answer probe" in evidence
    assert audit.report["model_substitution"]["confidence_substituted"] > 0.99
    assert audit.report["model_substitution"]["identical"] == 0


def test_stripped_envelopes_are_caught(world):
    (finding,) = _get(world, "strip-envelope").findings("envelope-stripped")
    assert "carries no envelope" in finding["evidence"]


# --- reports -------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["honest-a", "ac1a"])
def test_json_and_html_reports(world, mode):
    audit = _get(world, mode)
    report = audit.report
    assert isinstance(report["calls"], int) and report["calls"] == len(report["calls_made"])
    assert all(isinstance(f["check"], str) and isinstance(f["evidence"], str) for f in report["findings"])
    page = audit.html
    assert page.startswith("<!doctype html>") and f"<h1>{report['verdict'].upper()}</h1>" in page
    assert not re.search(r"<script|<link|src=|url\(", page), "the page must be self-contained"
    for finding in report["findings"]:
        assert finding["check"] in page


# --- cost control, resumption, bad input ---------------------------------------------------


def test_budget_stop_is_inconclusive_then_a_resume_finishes_the_run(world, tmp_path):
    router, mock = world["routers"]["honest-a"].url, world["mock"].url
    state, out = tmp_path / "state.jsonl", tmp_path / "out.json"
    first = run_audit("--router", router, "--reference", mock, "--seed", "5", "--warmup", "51", "--budget-calls",
                      "70", "--state", str(state), "--json", str(out), "--canary-wait", "0")
    assert first.returncode == 2, first.stdout + first.stderr
    assert re.search(r"plan \d+ calls, about \d+ tokens", first.stderr), first.stderr  # the estimate comes first
    stopped = orjson.loads(out.read_bytes())
    assert stopped["verdict"] == "inconclusive" and stopped["calls"] == 70
    assert any("--budget-calls 70" in gap for gap in stopped["gaps"])
    second = run_audit("--router", router, "--reference", mock, "--state", str(state), "--json", str(out),
                       "--canary-wait", "0", "--warmup", "51")
    assert second.returncode == 0, second.stdout + second.stderr
    resumed = orjson.loads(out.read_bytes())
    assert resumed["verdict"] == "clean" and resumed["resumed_calls"] == 70
    assert resumed["calls"] == resumed["estimate"]["calls"]
    assert len(state.read_text().splitlines()) == 1 + resumed["calls"]  # the header, then one line per call


def test_without_a_reference_an_honest_relay_is_inconclusive(world):
    done = run_audit("--router", world["routers"]["honest-a"].url, "--seed", "3", "--canary-wait", "0", "--quiet")
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stdout.startswith("VERDICT: INCONCLUSIVE") and "no --reference" in done.stdout


def test_unreachable_router_is_a_connection_error(world):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    done = run_audit("--router", f"http://127.0.0.1:{port}", "--reference", world["mock"].url)
    assert done.returncode == 3
    assert f"cannot connect to the router at http://127.0.0.1:{port}" in done.stderr


def test_usage_errors_exit_3():
    assert run_audit().returncode == 3
    done = run_audit("--router", "http://127.0.0.1:9", "--budget-calls", "0")
    assert done.returncode == 3 and "--budget-calls must be at least 1" in done.stderr
