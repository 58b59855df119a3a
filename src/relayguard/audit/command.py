"""`relayguard audit`: arguments, set-up, the run, the reports, the exit code.

Exit codes: 0 clean, 1 malicious, 2 inconclusive, 3 usage or connection error.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from typing import Any

from relayguard.errors import ConfigError

USAGE_ERROR = 3
ROUTER_KEY_ENV, REFERENCE_KEY_ENV = "RELAYGUARD_AUDIT_ROUTER_KEY", "RELAYGUARD_AUDIT_REFERENCE_KEY"


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "audit", help="probe a router and report whether it is honest (exit 0 clean, 1 malicious, 2 inconclusive)",
        description="Send a seeded battery of agent-shaped requests through a router (and the same bytes to a "
                    "trusted reference), under the fingerprints conditional attacks wait for, and report evidence. "
                    f"API keys: ${ROUTER_KEY_ENV}, ${REFERENCE_KEY_ENV}.")
    p.add_argument("--router", required=True, help="the router to audit, e.g. http://127.0.0.1:8080")
    p.add_argument("--reference", help="a trusted direct provider (or the mock provider) to compare answers with")
    p.add_argument("--model", help="model to request (default: the first the reference, else the router, lists)")
    p.add_argument("--dialect", default="all",
                   choices=["all", "openai-chat", "openai-responses", "anthropic-messages"],
                   help="API dialect(s) to speak (default all: each agent persona speaks its own)")
    p.add_argument("--warmup", type=int, default=60,
                   help="router calls before the battery, to pass call-count triggers (default 60)")
    p.add_argument("--budget-calls", type=int, help="hard limit on model calls (router + reference)")
    p.add_argument("--budget-tokens", type=int, help="hard limit on tokens (input + output, estimated until seen)")
    p.add_argument("--canary", action="append", default=[], metavar="KIND=VALUE",
                   help="plant your own canary credential (repeatable), e.g. aws=AKIA... from a canary service")
    p.add_argument("--canary-file", action="append", default=[], help="file of KIND=VALUE lines to plant")
    p.add_argument("--canary-wait", type=float, default=2.0,
                   help="seconds to keep watching for canary use after the last call (default 2)")
    p.add_argument("--trust-keyset", help="verify signed envelopes against this key set (default: the key set "
                                          "the reference serves at its well-known URL, fetched directly)")
    p.add_argument("--seed", type=int, help="battery seed (default: random, printed; kept in --state)")
    p.add_argument("--state", help="resumable state: each finished call is appended; rerun with the same "
                                   "file to continue a stopped run")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for one answer (default 120)")
    p.add_argument("--json", dest="json_path", metavar="PATH", help="write the JSON report here")
    p.add_argument("--html", dest="html_path", metavar="PATH", help="write the HTML report here")
    p.add_argument("--quiet", action="store_true", help="no progress; print only the verdict lines")

    def usage_error(message: str) -> None:  # argparse's own exit code 2 would read as "inconclusive"
        p.print_usage(sys.stderr)
        p.exit(USAGE_ERROR, f"{p.prog}: error: {message}\n")

    p.error = usage_error  # type: ignore[method-assign]


def run(args: argparse.Namespace) -> int:
    from relayguard.audit.transport import Unreachable

    try:
        return _run(args)
    except ConfigError as exc:
        print(f"relayguard audit: {exc}", file=sys.stderr)
        return USAGE_ERROR
    except Unreachable as exc:
        hint = f"; the run can resume with --state {args.state}" if args.state else ""
        print(f"relayguard audit: {exc}{hint}", file=sys.stderr)
        return USAGE_ERROR


def _validate(args: argparse.Namespace) -> None:
    for name in ("budget_calls", "budget_tokens"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    if args.warmup < 0 or args.warmup > 10_000:
        raise ConfigError(f"--warmup must be between 0 and 10000, got {args.warmup}")
    if args.timeout <= 0 or args.canary_wait < 0 or args.canary_wait > 3600:
        raise ConfigError("--timeout must be positive and --canary-wait between 0 and 3600 seconds")
    if args.reference and args.reference.rstrip("/") == args.router.rstrip("/"):
        raise ConfigError("--reference must be a provider the router does not control, not the router itself")


def _run(args: argparse.Namespace) -> int:
    from relayguard.audit import report as report_mod
    from relayguard.audit.battery import PlanOptions, build_plan
    from relayguard.audit.canaries import CanarySet, parse_user_canaries
    from relayguard.audit.canary_listener import CanaryListener
    from relayguard.audit.checks import EXIT_CODES, judge
    from relayguard.audit.runner import Budget, Runner
    from relayguard.audit.shapes import Shaper
    from relayguard.audit.state import StateFile, plan_key
    from relayguard.audit.transport import Endpoint

    _validate(args)
    user_canaries = parse_user_canaries(args.canary, args.canary_file)
    router = Endpoint("router", args.router, args.timeout, os.environ.get(ROUTER_KEY_ENV, ""))
    reference = Endpoint("reference", args.reference, args.timeout, os.environ.get(REFERENCE_KEY_ENV, "")) \
        if args.reference else None
    for endpoint in filter(None, (router, reference)):
        endpoint.check_reachable()
    state = StateFile(args.state)
    saved = state.load()
    seed = args.seed if args.seed is not None else (saved.header["seed"] if saved else secrets.randbelow(2**31))
    model = args.model or (saved.header.get("model") if saved else None) or _default_model(reference or router)
    settings: dict[str, Any] = {
        "router": router.url, "reference": reference.url if reference else None, "model": model, "seed": seed,
        "warmup": args.warmup, "dialect": args.dialect, "canaries": [[c.kind, c.value] for c in user_canaries]}
    key = plan_key(settings)
    if saved and saved.header.get("plan_key") != key:
        raise ConfigError(f"state file {args.state} belongs to another run (router, reference, model, seed, warm-up, "
                          "dialect or canaries differ); use another --state path or remove it")
    keyset = _keyset(args.trust_keyset, reference)
    plan = build_plan(PlanOptions(seed=seed, warmup=args.warmup, dialect=args.dialect, reference=reference is not None))
    secret = saved.header["secret"] if saved else secrets.token_hex(16)
    listener = CanaryListener(saved.header.get("port", 0) if saved else 0)
    try:
        canaries = CanarySet(secret, listener.port, user_canaries)
        shaper = Shaper(model, canaries, secret, seed)
        endpoints = {"router": router, "reference": reference or router}
        quiet = args.quiet

        def judge_now(outcome: Any) -> Any:
            return judge(plan, outcome.results, outcome.hits, canaries=canaries, requested=model,
                         warmup=args.warmup, reference=reference is not None, budget_hit=outcome.budget_hit,
                         canary_wait=args.canary_wait)

        progress = None if quiet else _Progress(judge_now)
        runner = Runner(plan, shaper, endpoints, keyset=keyset, budget=Budget(args.budget_calls, args.budget_tokens),
                        state=state, listener=listener, progress=progress)
        estimate = runner.estimate()
        if not quiet:
            _print_estimate(estimate, settings, args, keyset is not None, len(saved.results) if saved else 0)
        state.start(None if saved else {"plan_key": key, "seed": seed, "secret": secret, "port": listener.port,
                                        "model": model})
        try:
            outcome = runner.run(saved.results if saved else {}, saved.hits if saved else [], args.canary_wait)
        finally:
            state.close()
            router.close()
            if reference:
                reference.close()
        if progress:
            progress.end()
        judgement = judge_now(outcome)
        report = report_mod.build(judgement=judgement, outcome=outcome, plan=plan, canaries=canaries,
                                  settings=settings, estimate=estimate)
    finally:
        listener.close()
    report_mod.render_terminal(report, sys.stdout, quiet=quiet)
    if args.json_path:
        report_mod.write_json(report, args.json_path)
    if args.html_path:
        from relayguard.audit.html import write_html

        write_html(report, args.html_path)
    return EXIT_CODES[judgement.verdict]


def _default_model(endpoint: Any) -> str:
    from relayguard.audit.transport import fetch_json

    listing = fetch_json(endpoint, "/v1/models")
    data = listing.get("data") if isinstance(listing, dict) else None
    if isinstance(data, list) and data and isinstance(data[0], dict) and isinstance(data[0].get("id"), str):
        return data[0]["id"][:200]
    raise ConfigError(f"the {endpoint.name} lists no models at /v1/models; give --model NAME")


def _keyset(path: str | None, reference: Any) -> Any:
    from relayguard.envelope import KEYSET_WELL_KNOWN, KeySet, load_keyset

    if path:
        return load_keyset(path)
    if reference is None:
        return None
    from relayguard.audit.transport import fetch_json

    doc = fetch_json(reference, KEYSET_WELL_KNOWN)  # straight from the reference, never through the router
    if not isinstance(doc, dict):
        return None
    try:
        import orjson

        return KeySet.from_json(orjson.dumps(doc), source=f"the reference's {KEYSET_WELL_KNOWN}")
    except ConfigError:
        return None


def _print_estimate(estimate: tuple[int, int], settings: dict[str, Any], args: argparse.Namespace, signed: bool,
                    resumed: int) -> None:
    calls, tokens = estimate
    print(f"relayguard audit: router {settings['router']}, reference {settings['reference'] or 'none'}, "
          f"model {settings['model']}, seed {settings['seed']}", file=sys.stderr)
    print(f"relayguard audit: plan {calls} calls, about {tokens} tokens (warm-up {args.warmup} router calls); "
          f"envelopes {'verified' if signed else 'not checked (no key set)'}"
          + (f"; resuming after {resumed} calls" if resumed else ""), file=sys.stderr)
    if args.budget_calls is not None and args.budget_calls < calls:
        print(f"relayguard audit: --budget-calls {args.budget_calls} is below the plan: the run will stop early "
              "and can only end malicious (with proof) or inconclusive", file=sys.stderr)
    if args.budget_tokens is not None and args.budget_tokens < tokens:
        print(f"relayguard audit: --budget-tokens {args.budget_tokens} is below the estimate: the run may stop "
              "early", file=sys.stderr)


class _Progress:
    """Calls done / planned and findings so far, on stderr (one updating line on a terminal)."""

    def __init__(self, judge_now: Any) -> None:
        self.judge_now = judge_now
        self.tty = sys.stderr.isatty()
        self.shown = 0

    def __call__(self, outcome: Any, planned: int, phase: str) -> None:
        from relayguard.audit.report import progress_line

        done = outcome.calls
        if not (done == planned or (self.tty and done % 5 == 0) or done - self.shown >= 25):
            return
        self.shown = done
        judgement = self.judge_now(outcome)
        line = progress_line(done, planned, phase, len(judgement.findings),
                             sum(1 for f in judgement.findings if f.proof))
        print(("\r" + line) if self.tty else line, end="" if self.tty else "\n", file=sys.stderr, flush=True)

    def end(self) -> None:
        if self.tty and self.shown:
            print(file=sys.stderr)
