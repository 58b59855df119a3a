"""The audit report as one self-contained HTML page (inline CSS, no scripts, no
external assets), written for a security reviewer: the verdict first, then
each finding with its evidence, what the run covered, and every call made.

Everything that came from the router is escaped (``html.escape``) and clipped.
"""

from __future__ import annotations

import html
from typing import Any

from relayguard.audit.fingerprints import PERSONAS
from relayguard.audit.report import stamp

EXPLAIN = {
    "tool-call-fidelity": "The router returned other tool calls than the provider produced for the same request. "
                          "An agent running through it would have executed the router's version.",
    "screening": "relayguard's screening (the guard's default policy) blocks tool calls the router returned; "
                 "the battery's honest answers all pass it.",
    "request-integrity": "The provider received a different request from the one the auditor sent: the router "
                         "changed it on the way up (hidden instructions, another model, a dropped prompt).",
    "response-integrity": "The answer the auditor received differs from what the provider signed.",
    "envelope-stripped": "The provider signs its answers, and the router removed the signature: a guard requiring "
                         "envelopes could not verify what it runs.",
    "envelope-unverified": "Envelopes came back that do not verify against the trusted keys.",
    "canary-used": "Credentials planted in the requests were used: the router harvests what passes through it.",
    "model-substitution": "The model answering is not the one requested.",
    "model-label": "Answers are labelled with another model name than the reference's.",
}
VERDICT_TEXT = {
    "malicious": "The router is dishonest: the evidence below proves it.",
    "clean": "Nothing was found after full coverage: every check ran and every call matched.",
    "inconclusive": "No proof was found, but the run could not cover everything (see why below), or found "
                    "something without proof.",
}
CSS = """
*{box-sizing:border-box}body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;
color:#1d2430;background:#f4f6f9;margin:0;padding:0 0 48px}main{max-width:1180px;margin:0 auto;padding:0 24px}
header.verdict{padding:28px 24px;color:#fff;margin-bottom:24px}header.verdict .inner{max-width:1180px;margin:0 auto}
.v-malicious{background:#b3261e}.v-clean{background:#1e7b45}.v-inconclusive{background:#8a5a00}
header h1{margin:0;font-size:34px;letter-spacing:.5px}header p{margin:6px 0 0;font-size:17px}
header .sub{opacity:.9;font-size:14px;margin-top:10px}
section{background:#fff;border:1px solid #dde3ea;border-radius:8px;padding:18px 22px;margin:0 0 18px}
h2{font-size:19px;margin:0 0 12px}h3{font-size:16px;margin:0 0 6px}
table{border-collapse:collapse;width:100%}th,td{text-align:left;vertical-align:top;padding:5px 8px;
border-bottom:1px solid #edf0f4}th{color:#4a5566;font-weight:600;white-space:nowrap}
table.facts th{width:230px}
.finding{border-left:5px solid #b3261e;padding:10px 14px;margin:0 0 14px;background:#fdf3f2;border-radius:4px}
.finding.weak{border-color:#8a5a00;background:#fdf8ee}
.badge{display:inline-block;font-size:12px;font-weight:700;text-transform:uppercase;padding:1px 8px;
border-radius:10px;margin-right:8px;color:#fff;background:#b3261e}.weak .badge{background:#8a5a00}
.why{color:#4a5566;margin:2px 0 8px}ul.ev{margin:6px 0 0;padding-left:20px}ul.ev li{margin:4px 0}
code,.mono{font:13px/1.45 ui-monospace,"DejaVu Sans Mono",Menlo,monospace;word-break:break-word}
ul.ev li{font:13px/1.45 ui-monospace,"DejaVu Sans Mono",Menlo,monospace;word-break:break-word}
details summary{cursor:pointer;color:#2556a8;margin-top:6px}
table.calls{font-size:12.5px}table.calls td{font-family:ui-monospace,"DejaVu Sans Mono",monospace}
tr.hit td{background:#fdecea}.ok{color:#1e7b45}.bad{color:#b3261e;font-weight:700}
.gaps li{margin:4px 0}.muted{color:#6a7585}
@media print{details{display:block}details>*{display:block}}
"""
MAX_INSTANCES = 200
MAX_ROWS = 5000


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def write_html(report: dict[str, Any], path: str) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(render(report))


def render(report: dict[str, Any]) -> str:
    s, verdict = report["settings"], report["verdict"]
    proofs = list(dict.fromkeys(f["check"] for f in report["findings"] if f["proof"]))  # most direct first
    lead = VERDICT_TEXT[verdict]
    if proofs:
        lead += f" Proof: {', '.join(proofs)}."
    first = report["first_proof_after_calls"]
    sub = (f"Router {s['router']} · reference {s['reference'] or 'none'} · model {s['model']} · "
           f"{report['calls']} calls" + (f" · first proof after {first} calls" if first else ""))
    strongest = ""
    top = next((f for f in report["findings"] if f["proof"]), None)
    if top is not None:
        detail = (top.get("instances") or [{}])[0].get("detail") or top["evidence"].split("\n")[0]
        strongest = f"<p class=\"sub\"><b>Strongest evidence ({_e(top['check'])}):</b> {_e(detail)}</p>"
    parts = [
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">",
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
        f"<title>relayguard audit: {_e(verdict)} — {_e(s['router'])}</title><style>{CSS}</style></head><body>",
        f"<header class=\"verdict v-{_e(verdict)}\"><div class=\"inner\"><h1>{_e(verdict.upper())}</h1>"
        f"<p>{_e(lead)}</p>{strongest}<p class=\"sub\">{_e(sub)}</p></div></header><main>",
        _facts(report), _findings(report), _gaps(report), _coverage(report), _substitution(report),
        _canaries(report), _list_section("Limitations", report["limitations"]), _calls(report),
        "</main></body></html>\n",
    ]
    return "".join(parts)


def _facts(r: dict[str, Any]) -> str:
    s = r["settings"]
    rows = [("Router audited", s["router"]), ("Reference", s["reference"] or "none (screening only)"),
            ("Model requested", s["model"]), ("Seed", s["seed"]),
            ("Started / finished", f"{stamp(r['started'])} / {stamp(r['finished'])} ({r['duration_seconds']} s)"),
            ("Calls made", f"{r['calls']} ({r['router_calls']} to the router, {r['reference_calls']} to the "
                           f"reference){'; ' + str(r['resumed_calls']) + ' from a resumed run' if r['resumed_calls'] else ''}"),
            ("Estimate before the run", f"{r['estimate']['calls']} calls, about {r['estimate']['tokens']} tokens"),
            ("Tokens used", r["tokens"]), ("Exit code", r["exit_code"])]
    if r["stopped_by_budget"]:
        rows.append(("Stopped by budget", r["stopped_by_budget"]))
    body = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
    return f"<section><h2>The run</h2><table class=\"facts\">{body}</table></section>"


def _findings(r: dict[str, Any]) -> str:
    if not r["findings"]:
        return "<section><h2>Findings</h2><p>None.</p></section>"
    out = ["<section><h2>Findings</h2>"]
    for f in r["findings"]:
        lines = f["evidence"].split("\n")
        cls = "finding" if f["proof"] else "finding weak"
        badge = "proof" if f["proof"] else "no proof"
        out.append(f"<article class=\"{cls}\"><h3><span class=\"badge\">{badge}</span>{_e(f['check'])}</h3>")
        out.append(f"<p class=\"why\">{_e(EXPLAIN.get(f['check'], ''))}</p><p>{_e(lines[0])}</p>")
        if f.get("first_call"):
            out.append(f"<p class=\"muted\">First seen after {_e(f['first_call'])} calls.</p>")
        instances = f.get("instances") or []
        if instances:
            out.append("<ul class=\"ev\">" + "".join(f"<li>{_e(i['detail'])}</li>" for i in instances[:5]) + "</ul>")
        if len(instances) > 5:
            more = instances[5:MAX_INSTANCES]
            out.append(f"<details><summary>{len(instances) - 5} more instance(s)</summary><ul class=\"ev\">"
                       + "".join(f"<li>{_e(i['detail'])}</li>" for i in more) + "</ul></details>")
        out.append("</article>")
    out.append("</section>")
    return "".join(out)


def _gaps(r: dict[str, Any]) -> str:
    if not r["gaps"]:
        return ""
    title = "Why the verdict is not clean" if r["verdict"] == "inconclusive" else "Coverage gaps"
    return _list_section(title, r["gaps"], "gaps")


def _list_section(title: str, items: list[str], cls: str = "") -> str:
    if not items:
        return ""
    return (f"<section><h2>{_e(title)}</h2><ul class=\"{cls}\">"
            + "".join(f"<li>{_e(i)}</li>" for i in items) + "</ul></section>")


def _coverage(r: dict[str, Any]) -> str:
    c, s = r["coverage"], r["settings"]
    rows = [
        ("Call-count triggers", f"{c['router_calls']} router calls; the battery began after a {s['warmup']}-call "
                                f"warm-up ({c['router_calls_past_warmup']} calls after it)"),
        ("Auto-approve fingerprints", "; ".join(c["auto_approve_fingerprints"]) or "none"),
        ("Agent personas", "; ".join(c["personas"]) or "none"),
        ("Project languages", ", ".join(c["projects"]) or "none"),
        ("Shell tool names", ", ".join(c["tool_names"]) or "none"),
        ("Keywords in every battery request", ", ".join(c["keywords"]) or "none"),
        ("Dialects / delivery", f"{', '.join(c['dialects'])}; {' and '.join(c['streaming'])}"),
        ("Tasks", ", ".join(c["tasks"]) or "none"),
        ("Tool calls compared with the reference", r["tool_calls_compared"]),
        ("Request integrity witnessed", f"{r['request_integrity_witnessed']} of {c['router_calls_answered']} "
                                        "router answers (provider-reported digest or verified envelope)"),
        ("Time span", f"{c['span_seconds']} s"),
    ]
    body = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
    return f"<section><h2>Trigger conditions exercised</h2><table class=\"facts\">{body}</table></section>"


def _substitution(r: dict[str, Any]) -> str:
    m = r["model_substitution"]
    if not m.get("probes") and not m.get("whoami"):
        return ""
    conf = m.get("confidence_substituted")
    rows = [("Probes answered (router once, reference twice)", m.get("probes", 0)),
            ("Router answers identical to the reference's", m.get("identical", 0)),
            ("Router answers clearly less alike than the reference's two", m.get("less_alike", 0)),
            ("Sign test p-value", "n/a" if m.get("p_value") is None else f"{m['p_value']:.3g}"),
            ("Confidence another model answered", "n/a" if conf is None else f"{100 * conf:.2f}%"),
            ("Mean similarity router/reference vs reference/reference",
             f"{m.get('similarity_router')} vs {m.get('similarity_reference')}"),
            ("Mean answer length ratio (router / reference)", m.get("length_ratio")),
            ("Reference deterministic", "yes" if m.get("reference_deterministic") else "no"),
            ("Self-identification answers", " | ".join(m.get("whoami") or []) or "none")]
    body = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
    return f"<section><h2>Model substitution</h2><table class=\"facts\">{body}</table></section>"


def _canaries(r: dict[str, Any]) -> str:
    rows = "".join(f"<tr><td>{_e(c['kind'])}</td><td class=\"mono\">{_e(c['value'])}</td><td>{_e(c['watch'])}</td></tr>"
                   for c in r["canaries"])
    hits = r["canary_hits"]
    hit_text = (f"{len(hits)} request(s) reached the canary listener." if hits
                else "No request reached the canary listener.")
    return (f"<section><h2>Canaries planted</h2><table><tr><th>kind</th><th>value</th><th>where its use shows"
            f"</th></tr>{rows}</table><p>{_e(hit_text)}</p></section>")


def _calls(r: dict[str, Any]) -> str:
    marked = {i["call"] for f in r["findings"] if f["proof"] for i in f.get("instances") or [] if "carried_by" not in i}
    marked |= {i["carried_by"] for f in r["findings"] for i in f.get("instances") or [] if "carried_by" in i}
    head = ("<tr><th>#</th><th>to</th><th>phase</th><th>dialect</th><th>persona</th><th>project</th><th>tool</th>"
            "<th>answer</th><th>digest</th><th>envelope</th><th>screening</th><th>status</th></tr>")
    rows = []
    for c in r["calls_made"][:MAX_ROWS]:
        persona = PERSONAS[c["persona"]].label if c["persona"] in PERSONAS else c["persona"]
        digest_cls = "bad" if c["request_digest"] == "MISMATCH" else "ok" if c["request_digest"] == "match" else ""
        screen_cls = "bad" if c["screening"] == "block" else ""
        status = "ok" if c["ok"] else f"failed: {c['error']}"
        rows.append(
            f"<tr class=\"{'hit' if c['call'] in marked else ''}\"><td>{c['call']}</td><td>{_e(c['target'])}</td>"
            f"<td>{_e(c['phase'])}</td><td>{_e(c['dialect'])}{' (stream)' if c['stream'] else ''}</td>"
            f"<td>{_e(persona)}</td><td>{_e(c['project'])}</td><td>{_e(c['tool'])}</td><td>{_e(c['answer'])}</td>"
            f"<td class=\"{digest_cls}\">{_e(c['request_digest'])}</td><td>{_e(c['envelope'])}</td>"
            f"<td class=\"{screen_cls}\">{_e(c['screening'])}</td><td>{_e(status)}</td></tr>")
    return (f"<section><h2>Calls made</h2><p class=\"muted\">Rows in red are calls named as proof. Every battery "
            f"request went to the router and, with the same bytes, to the reference.</p><details><summary>All "
            f"{len(r['calls_made'])} calls</summary><table class=\"calls\">{head}{''.join(rows)}</table></details>"
            "</section>")
