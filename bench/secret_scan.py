"""Secret detector benchmark: recall, false hits and throughput, side by side with detect-secrets.

    python bench/secret_scan.py [--size-mb 20] [--no-detect-secrets] [--json OUT]

Measures, in one run:

* recall per corpus type on shared/corpora/secrets_positive.jsonl (a record counts as found
  when a finding overlaps its secret span; the kind column says how often the reported kind
  is the expected one);
* false hits on shared/corpora/secrets_negative.jsonl (a record with any finding) and, for
  information, on the benign agent commands;
* throughput in MB/s on a ~20 MB mixed corpus (benign commands with the positive lines
  sprinkled in), scanned line by line (what ``relayguard secrets scan`` does) and in 1 MiB
  blocks of whole lines (what the vault does with large messages);
* the same for detect-secrets (default plugins and filters, its Python API), installed by
  this script into a throwaway venv under /tmp with ``python3 -m venv`` + pip. It is not a
  project dependency. detect-secrets reports lines, not offsets, so a positive counts as found
  when detect-secrets reports a secret on a line the secret spans.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from relayguard.vault.detect import detector  # noqa: E402

CORPORA = Path(os.environ.get("RELAYGUARD_CORPORA", REPO.parent / "shared" / "corpora"))
WORK = Path(tempfile.gettempdir()) / "relayguard-secrets-bench"
DS_VENV = WORK / "ds-venv"

# Which of our kinds answer each corpus type (for the "kind right" column only).
EXPECTED_KINDS = {
    "openai_legacy": {"openai_api_key"},
    "openai_project": {"openai_project_key"},
    "openai_svcacct": {"openai_service_account_key"},
    "anthropic_api": {"anthropic_api_key"},
    "anthropic_admin": {"anthropic_admin_key"},
    "aws_access_key_id": {"aws_access_key_id"},
    "aws_sts_access_key_id": {"aws_temporary_access_key_id"},
    "aws_secret_access_key": {"aws_secret_access_key"},
    "github_pat_classic": {"github_pat"},
    "github_oauth": {"github_oauth_token"},
    "github_app": {"github_user_to_server_token", "github_server_to_server_token"},
    "github_fine_grained_pat": {"github_fine_grained_pat"},
    "gitlab_pat": {"gitlab_pat"},
    "slack_bot": {"slack_bot_token"},
    "slack_user": {"slack_user_token"},
    "slack_webhook": {"slack_webhook_url"},
    "stripe_live_secret": {"stripe_secret_key"},
    "stripe_restricted": {"stripe_restricted_key"},
    "google_api_key": {"google_api_key"},
    "huggingface": {"huggingface_token"},
    "jwt": {"jwt"},
    "pem_rsa": {"pem_rsa_private_key", "gcp_service_account_key"},
    "pem_pkcs8": {"pem_private_key", "gcp_service_account_key"},
    "pem_ec": {"pem_ec_private_key", "gcp_service_account_key"},
    "pem_openssh": {"openssh_private_key", "gcp_service_account_key"},
    "eth_private_key": {"ethereum_private_key"},
    "bip39_mnemonic": {"bip39_mnemonic"},
    "database_url_with_password": {"url_password"},
    "generic_secret_assignment": {"generic_secret"},
    "npm_token": {"npm_token"},
    "pypi_token": {"pypi_token"},
    "sendgrid": {"sendgrid_api_key"},
    "twilio_api_key": {"twilio_api_key"},
    "digitalocean_pat": {"digitalocean_token"},
    "telegram_bot": {"telegram_bot_token"},
    "age_secret_key": {"age_secret_key"},
}

DS_HELPER = r'''
import json, os, sys, tempfile, time
from detect_secrets.core.scan import scan_file
from detect_secrets.core.secrets_collection import SecretsCollection
from detect_secrets.settings import default_settings

pos_path, neg_path, mixed_path = sys.argv[1:4]
tmp = tempfile.mkdtemp(prefix="ds-records-")

def hit_lines(text, _n=[0]):
    """Line numbers (1-based) with a finding, scanning the text as a file (normal mode)."""
    _n[0] += 1
    path = os.path.join(tmp, "record%d.txt" % _n[0])
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text + "\n")
    return {s.line_number for s in scan_file(path)}

out = {"pos": [], "neg": []}
with default_settings():
    for raw in open(pos_path):
        r = json.loads(raw)
        first = r["text"].count("\n", 0, r["start"]) + 1
        last = r["text"].count("\n", 0, r["end"]) + 1
        out["pos"].append(any(first <= n <= last for n in hit_lines(r["text"])))
    for raw in open(neg_path):
        r = json.loads(raw)
        out["neg"].append(bool(hit_lines(r["text"])))
    secrets = SecretsCollection()
    t = time.perf_counter()
    secrets.scan_file(mixed_path)
    out["seconds"] = time.perf_counter() - t
    out["found"] = sum(len(v) for _, v in secrets.data.items())
print(json.dumps(out))
'''


def load(name: str) -> list[dict]:
    with open(CORPORA / name, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def build_mixed(size_mb: float, positives: list[dict]) -> Path:
    """Benign commands repeated to ``size_mb``, one positive record every ~40 lines."""
    WORK.mkdir(parents=True, exist_ok=True)
    path = WORK / f"mixed-{size_mb:g}mb.txt"
    if path.exists():
        return path
    rng = random.Random(20240611)
    benign = [r["command"] for r in load("benign_commands.jsonl")]
    target = int(size_mb * 1024 * 1024)
    parts: list[str] = []
    size = 0
    while size < target:
        for cmd in benign:
            parts.append(cmd)
            size += len(cmd.encode()) + 1
            if rng.random() < 0.025:
                text = rng.choice(positives)["text"]
                parts.append(text)
                size += len(text.encode()) + 1
            if size >= target:
                break
    path.write_text("\n".join(parts) + "\n", encoding="utf-8")
    return path


def quality(positives: list[dict], negatives: list[dict]) -> dict:
    det = detector()
    per_type: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # n, found, kind right
    for r in positives:
        hits = [m for m in det.scan(r["text"]) if m.start < r["end"] and m.end > r["start"]]
        row = per_type[r["type"]]
        row[0] += 1
        if hits:
            row[1] += 1
            if any(m.kind in EXPECTED_KINDS.get(r["type"], ()) for m in hits):
                row[2] += 1
    false_hits = [r for r in negatives if det.scan(r["text"])]
    benign = load("benign_commands.jsonl")
    benign_hits = sum(1 for r in benign if det.scan(r["command"]))
    return {
        "per_type": dict(per_type),
        "recall": sum(v[1] for v in per_type.values()) / len(positives),
        "kind_right": sum(v[2] for v in per_type.values()) / len(positives),
        "false_hits": len(false_hits) / len(negatives),
        "false_hit_ids": [r["id"] for r in false_hits],
        "benign_hits": benign_hits,
        "benign_total": len(benign),
    }


def throughput(path: Path, repeat: int = 3) -> dict:
    det = detector()
    size = path.stat().st_size
    # warm the lazily built DFAs once, as a long-running guard would be
    with open(path, encoding="utf-8") as fh:
        for _, line in zip(range(20000), fh):
            det.scan(line)
    best_line = best_block = float("inf")
    found_line = found_block = 0
    for _ in range(repeat):
        t = time.perf_counter()
        found_line = 0
        with open(path, encoding="utf-8", newline="") as fh:
            for line in fh:
                found_line += len(det.scan(line))
        best_line = min(best_line, time.perf_counter() - t)
        t = time.perf_counter()
        found_block = 0
        with open(path, encoding="utf-8", newline="") as fh:
            block: list[str] = []
            bsize = 0
            for line in fh:
                block.append(line)
                bsize += len(line)
                if bsize >= 1 << 20:
                    found_block += len(det.scan("".join(block)))
                    block, bsize = [], 0
            if block:
                found_block += len(det.scan("".join(block)))
        best_block = min(best_block, time.perf_counter() - t)
    mb = size / 1e6
    return {"bytes": size, "line_s": best_line, "line_mbps": mb / best_line, "found_line": found_line,
            "block_s": best_block, "block_mbps": mb / best_block, "found_block": found_block}


def detect_secrets_run(path: Path) -> dict | None:
    py = DS_VENV / "bin" / "python"
    if not py.exists():
        print("installing detect-secrets into a throwaway venv under", DS_VENV, file=sys.stderr)
        subprocess.run(["python3", "-m", "venv", str(DS_VENV)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", "detect-secrets"], check=True)
    version = subprocess.run([str(py), "-m", "pip", "show", "detect-secrets"], capture_output=True,
                             text=True).stdout
    version = next((ln.split(":", 1)[1].strip() for ln in version.splitlines()
                    if ln.startswith("Version:")), "?")
    helper = WORK / "ds_helper.py"
    helper.write_text(DS_HELPER)
    proc = subprocess.run([str(py), str(helper), str(CORPORA / "secrets_positive.jsonl"),
                           str(CORPORA / "secrets_negative.jsonl"), str(path)],
                          capture_output=True, text=True, check=True)
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["version"] = version
    out["recall"] = sum(out["pos"]) / len(out["pos"])
    out["false_hits"] = sum(out["neg"]) / len(out["neg"])
    out["mbps"] = path.stat().st_size / 1e6 / out["seconds"]
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mb", type=float, default=20.0)
    ap.add_argument("--no-detect-secrets", action="store_true")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()

    positives = load("secrets_positive.jsonl")
    negatives = load("secrets_negative.jsonl")
    q = quality(positives, negatives)
    mixed = build_mixed(args.size_mb, positives)
    tp = throughput(mixed)
    ds = None if args.no_detect_secrets else detect_secrets_run(mixed)

    print("recall per corpus type (found = a finding overlaps the secret)")
    print(f"  {'type':32} {'n':>4} {'found':>6} {'recall':>7} {'kind ok':>8}")
    for typ, (n, found, right) in sorted(q["per_type"].items()):
        print(f"  {typ:32} {n:4d} {found:6d} {found / n:7.1%} {right / n:8.1%}")
    print()
    mb = tp["bytes"] / 1e6
    print(f"mixed corpus: {mb:.1f} MB ({mixed})")
    print(f"{'':36} {'relayguard':>14} {'detect-secrets':>15}")
    dsr = f"{ds['recall']:.1%}" if ds else "-"
    dsf = f"{ds['false_hits']:.1%}" if ds else "-"
    print(f"{'recall (339 positives)':36} {q['recall']:>14.1%} {dsr:>15}")
    print(f"{'false hits (330 negatives)':36} {q['false_hits']:>14.1%} {dsf:>15}")
    print(f"{'benign commands flagged':36} {q['benign_hits']:>8d}/{q['benign_total']:<5d} {'':>15}")
    dsm = f"{ds['mbps']:.2f}" if ds else "-"
    print(f"{'throughput MB/s, line by line':36} {tp['line_mbps']:>14.2f} {dsm:>15}")
    print(f"{'throughput MB/s, 1 MiB blocks':36} {tp['block_mbps']:>14.2f} {'':>15}")
    if ds:
        print(f"{'seconds for the corpus':36} {tp['line_s']:>14.2f} {ds['seconds']:>15.2f}")
        print(f"\ndetect-secrets {ds['version']}, default plugins and filters, scan_file on the same corpus")
        print(f"speed-up: {tp['line_mbps'] / ds['mbps']:.1f}x line by line, "
              f"{tp['block_mbps'] / ds['mbps']:.1f}x in blocks")
    ok = q["recall"] >= 0.99 and q["false_hits"] <= 0.005
    if ds:
        ok = ok and tp["line_mbps"] >= 10 * ds["mbps"]
    print("targets (recall >= 99%, false hits <= 0.5%, >= 10x detect-secrets):",
          "met" if ok else "NOT met")
    if args.json:
        Path(args.json).write_text(json.dumps({"quality": q, "throughput": tp, "detect_secrets": ds},
                                              indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
