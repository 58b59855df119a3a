"""bench/gateway.py's figures: the ratios it judges and the table it prints."""

from __future__ import annotations

from typing import Any

from _wrk import CPU_NOTE, Result, label, table

PATHS = ("direct", "passthrough", "gateway", "gateway-quiet", "litellm")
GATEWAYS = ("gateway", "gateway-quiet")
TARGET_THROUGHPUT = 0.60  # of the minimal passthrough's requests/s at 32 clients (issue #6)
MODES = ("json", "stream")


def summarise(results: list[Result]) -> dict[str, Any]:
    """Ratios between paths, per mode ("json", "stream"); a ratio whose rows are missing is left out."""
    by = {(r.path, r.connections, r.stream): r for r in results}
    out: dict[str, Any] = {"throughput_ratio_32": {g: {} for g in GATEWAYS},  # gateway / passthrough req/s
                           "cpu_ratio_32": {g: {} for g in GATEWAYS},  # passthrough / gateway CPU per request
                           "vs_litellm_rps": {g: {} for g in GATEWAYS},  # gateway / LiteLLM req/s, "c1 json"...
                           "vs_litellm_cpu": {g: {} for g in GATEWAYS},  # LiteLLM / gateway CPU per request
                           "added_p50_ms_1": {p: {} for p in PATHS[1:]}}  # path p50 - direct p50, 1 client
    for stream, mode in ((False, "json"), (True, "stream")):
        passthrough = by.get(("passthrough", 32, stream))
        for g in GATEWAYS:
            gw = by.get((g, 32, stream))
            if gw and passthrough:
                out["throughput_ratio_32"][g][mode] = gw.rps / passthrough.rps
                if gw.cpu_us_per_req:
                    out["cpu_ratio_32"][g][mode] = passthrough.cpu_us_per_req / gw.cpu_us_per_req
            for conns in (1, 32):
                gw, lite = by.get((g, conns, stream)), by.get(("litellm", conns, stream))
                if gw and lite and lite.rps:
                    out["vs_litellm_rps"][g][label(conns, stream)] = gw.rps / lite.rps
                    if gw.cpu_us_per_req:
                        out["vs_litellm_cpu"][g][label(conns, stream)] = lite.cpu_us_per_req / gw.cpu_us_per_req
        direct = by.get(("direct", 1, stream))
        for path in PATHS[1:]:
            r = by.get((path, 1, stream))
            if r and direct:
                out["added_p50_ms_1"][path][mode] = r.p50_ms - direct.p50_ms
    return out


def render(results: list[Result], summary: dict[str, Any], configs: list[tuple[int, int, bool]]) -> str:
    lines = table(results, configs, PATHS, 14)
    lines += ["gateway: virtual key with rpm/tpm/budget limits, usage and cost accounting, signed envelopes,",
              "transparency log, JSON request log; gateway-quiet: the same with --quiet (no request log).",
              *CPU_NOTE, ""]
    ratio32 = summary["throughput_ratio_32"]
    for g in GATEWAYS:
        for mode in MODES:
            ratio = ratio32[g].get(mode)
            if ratio is None:
                continue
            # The target is judged with everything on, request log included.
            verdict = (f"(target >= {TARGET_THROUGHPUT:.0%}) {'PASS' if ratio >= TARGET_THROUGHPUT else 'MISS'}"
                       if g == "gateway" else "")
            cpu = summary["cpu_ratio_32"][g].get(mode)
            cpu_s = f"by CPU per request {cpu:6.1%}" if cpu is not None else ""
            lines.append(f"  {g:<13} throughput / passthrough at 32 clients, {mode:<6}: {ratio:6.1%}; "
                         f"{cpu_s}  {verdict}".rstrip())
    for g in GATEWAYS:
        for config, times in summary["vs_litellm_rps"][g].items():
            cpu = summary["vs_litellm_cpu"][g].get(config)
            cpu_s = f"; LiteLLM spends {cpu:.1f}x its CPU per request" if cpu is not None else ""
            lines.append(f"  {g:<13} vs LiteLLM, {config:<9}: {times:6.1f}x the requests/s{cpu_s}")
    lines.append("  added p50 over direct at 1 client:")
    for path, added in summary["added_p50_ms_1"].items():
        if added:
            lines.append(f"    {path:<14} " + ", ".join(f"{mode} {added[mode]:+.3f} ms" for mode in MODES
                                                       if mode in added))
    return "\n".join(lines)
