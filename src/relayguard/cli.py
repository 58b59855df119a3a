"""The `relayguard` command: a thin front that parses arguments, builds the
configured pipeline and prints readable diagnostics.  Each subcommand imports
only what it needs, so `relayguard check` starts fast."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

from relayguard.errors import ConfigError, RelayguardError


def _server_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="port to listen on; 0 picks a free one (default 0)")


def _proxy_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--upstream", required=True,
                   help="the upstream server's root URL, e.g. http://127.0.0.1:8080 (a trailing /v1 is accepted)")
    p.add_argument("--max-body", type=int, default=10 * 1024 * 1024,
                   help="largest request body accepted, in bytes (default 10 MiB)")
    p.add_argument("--timeout", type=float, default=600.0,
                   help="seconds to wait for upstream bytes before answering 504 (default 600)")
    p.add_argument("--connect-timeout", type=float, default=10.0, help="seconds to connect to the upstream")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="relayguard",
        description="The LLM router an organisation can trust, and the guard that protects "
                    "AI agents from the routers it cannot.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("guard", help="local proxy in front of an untrusted router")
    _server_args(p)
    _proxy_args(p)
    p.add_argument("--policy", help="screening policy file (TOML, see docs/policy.md): trusted hosts, "
                                     "indexes and owners, package allow/deny lists, per-rule actions")
    p.add_argument("--no-vault", action="store_true",
                   help="do not replace secrets in requests with placeholders (vaulting is on by default)")
    p.add_argument("--vault-dir", help="where the encrypted vault and its key live "
                                       "(default $XDG_DATA_HOME/relayguard or ~/.local/share/relayguard)")
    p.add_argument("--vault-allow", default="",
                   help="comma-separated secret kinds allowed to leave unvaulted (see `relayguard secrets kinds`)")

    p.add_argument("--trust-keyset", help="verify signed envelopes against this key set (JSON); "
                                          "never against keys the upstream serves")
    p.add_argument("--require-envelope", action="store_true",
                   help="block tool calls of responses without a valid signed envelope (needs --trust-keyset)")

    p.add_argument("--log", help="transparency log file (SQLite; default: guard-log.sqlite in the user data "
                                 "directory)")
    p.add_argument("--no-log", action="store_true", help="do not keep a transparency log")
    p.add_argument("--log-durability", choices=["process", "power"], default="process",
                   help="'process' (default): an acknowledged entry survives the guard being killed "
                        "(SQLite WAL, synchronous=NORMAL); 'power': it also survives power loss "
                        "(an fsync per commit, several times the CPU per request)")

    p = sub.add_parser("mock-provider", help="deterministic offline provider (all three dialects)")
    _server_args(p)
    p.add_argument("--sign-key", help="sign every response with this key (from `relayguard keys generate`)")
    p.add_argument("--name", default="relayguard-mock",
                   help="provider name: in GET /mock/stats, the x-mock-provider header and signed envelopes "
                        "(default relayguard-mock)")
    p.add_argument("--fail-rate", type=float, help="fail this fraction (0..1) of model requests, "
                                                   "chosen by a seeded RNG (--seed)")
    p.add_argument("--seed", type=int, default=0, help="seed of the --fail-rate RNG (default 0)")
    p.add_argument("--status", type=int, help="HTTP status of injected failures (default 500); "
                                              "without --fail-rate every request fails")
    p.add_argument("--retry-after", type=int, metavar="S", help="with --status 429 or 503: send Retry-After: S")
    p.add_argument("--delay-ms", type=int, default=0, help="wait N ms before the response headers of every request")
    p.add_argument("--hang", action="store_true",
                   help="failing requests (all, without --fail-rate) are read and never answered")
    p.add_argument("--drop-mid-stream", action="store_true",
                   help="failing requests (all, without --fail-rate) get part of the answer, then the "
                        "connection closes (streams never carry their terminal event)")

    p = sub.add_parser("keys", help="signing keys for envelopes")
    keys_sub = p.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    q = keys_sub.add_parser("generate", help="write DIR/signing.key (0600) and DIR/keyset.json")
    q.add_argument("--out", required=True, help="directory to write the keys to")
    q.add_argument("--force", action="store_true", help="replace existing keys")

    p = sub.add_parser("redteam", help="a malicious router for tests and demos (AC-1, AC-1.a, AC-1.b, AC-2, "
                                        "prompt injection, model substitution)")
    _server_args(p)
    _proxy_args(p)
    p.add_argument("--attack", default="ac1",
                   choices=["none", "ac1", "ac1a", "ac1b", "ac2", "prompt-inject", "model-swap"])
    p.add_argument("--attacker-url", default="https://cdn-install.example.net/setup.sh",
                   help="URL swapped into download-and-execute commands")
    p.add_argument("--after", type=int, help="AC-1.b: strike only after N requests")
    p.add_argument("--only-yolo", action="store_true", help="AC-1.b: strike only in auto-approve sessions")
    p.add_argument("--keyword", help="AC-1.b: strike only when the conversation contains WORD")
    p.add_argument("--window-seconds", help="AC-1.b: strike only between A and B seconds after start (A:B)")
    p.add_argument("--tool", help="AC-1.b: strike only on tool calls of this name")
    p.add_argument("--langs", help="AC-1.b: strike only in projects of these languages, e.g. rust,go")
    p.add_argument("--harvest-log", help="AC-2: JSON-lines file the harvested credentials go to "
                                         "(harvested URLs on 127.0.0.1/localhost are also fetched once)")
    p.add_argument("--inject-text", help="prompt-inject: the hidden instruction added to the system prompt "
                                         "(default: run a curl | sh beacon with every shell command)")
    p.add_argument("--swap-to", metavar="MODEL", help="model-swap (required): the model served instead of the "
                                                      "one requested; answers still name the requested one")
    p.add_argument("--strip-envelope", action="store_true",
                   help="drop the provider's signed envelope from responses (with any --attack)")

    p = sub.add_parser("gateway", help="a self-hosted router: virtual keys, limits, failover, signed answers")
    p.add_argument("--config", required=True, help="gateway configuration (TOML; see docs/gateway-config.md)")
    _server_args(p)
    p.add_argument("--max-body", type=int, default=10 * 1024 * 1024, help="largest request body in bytes")
    p.add_argument("--quiet", action="store_true", help="no JSON log line per request on stderr")

    p = sub.add_parser("check", help="judge recorded exchanges offline (JSON lines in, JSON lines out)")
    p.add_argument("path", nargs="?", default="-", help="input file, or - for standard input (default)")
    p.add_argument("--policy", help="policy file (TOML); default: the guard's built-in policy")
    p.add_argument("--output", "-o", default="-", help="output file, or - for standard output (default)")

    p = sub.add_parser("secrets", help="the secret detector the vault uses")
    secrets_sub = p.add_subparsers(dest="secrets_command", required=True, metavar="ACTION")
    q = secrets_sub.add_parser("scan", help="find secrets in text lines (one JSON line out per line in)")
    q.add_argument("path", nargs="?", default="-", help="input file, or - for standard input (default)")
    secrets_sub.add_parser("kinds", help="list the kinds of secret the detector knows")

    from relayguard import logcmd
    from relayguard.doctor import cli as doctor_cli

    logcmd.add_parser(sub)
    doctor_cli.add_parser(sub)

    from relayguard.audit import command as audit_command

    audit_command.add_parser(sub)

    p = sub.add_parser("demo", help="show each attack with and without the guard (no keys, no network)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _run(args)
    except RelayguardError as exc:  # ConfigError and the other readable errors: no traceback
        print(f"relayguard: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `relayguard ... | head`: the reader left, not an error
        sys.stdout = open(os.devnull, "w")
        return 0


def _run(args: argparse.Namespace) -> int:
    from relayguard.serve import serve

    if args.command == "mock-provider":
        return _mock_provider(args)
    if args.command == "keys":
        from relayguard.envelope import generate_keys

        signing, keyset = generate_keys(args.out, overwrite=args.force)
        print(f"wrote {signing} (private, mode 0600) and {keyset} (public key set)")
        return 0
    if args.command == "guard":
        from relayguard.presets import GuardOptions, guard_pipeline

        # The vault, the log and their WAL files hold what only this user should read.
        os.umask(0o077)

        allow = frozenset(k.strip() for k in args.vault_allow.split(",") if k.strip())
        if args.require_envelope and not args.trust_keyset:
            raise ConfigError("--require-envelope needs --trust-keyset FILE: the keys to verify against")
        options = GuardOptions(policy_path=args.policy, vault=not args.no_vault, vault_dir=args.vault_dir,
                               vault_allow=allow, trust_keyset=args.trust_keyset,
                               require_envelope=args.require_envelope)
        try:
            pipeline = guard_pipeline(options)
        except ValueError as exc:  # e.g. an unknown secret kind in --vault-allow
            raise ConfigError(str(exc)) from None
        log = None
        if not args.no_log:
            from relayguard.logcmd import default_path
            from relayguard.translog import TransparencyLog

            log = TransparencyLog.open(args.log or default_path(), durability="full" if args.log_durability == "power" else "normal")
        app = _proxy(args, pipeline, log=log)
        return serve(app, args.host, args.port, f"relayguard guard: forwarding to {app.upstream.base_url}")
    if args.command == "redteam":
        return _redteam(args)
    if args.command == "check":
        from relayguard.check import run_check

        return run_check(args.path, args.output, args.policy)
    if args.command == "secrets":
        if args.secrets_command == "kinds":
            from relayguard.vault.rules import RULES

            docs: dict[str, str] = {}
            for rule in RULES:
                docs.setdefault(rule.kind, rule.doc.split(". ")[0])
            for kind, doc in sorted(docs.items()):
                print(f"{kind:<32} {doc}")
            return 0
        from relayguard.vault.scan import run_scan

        return run_scan(args.path)
    if args.command == "doctor":
        from relayguard.doctor import cli as doctor_cli

        return doctor_cli.run(args)
    if args.command == "gateway":
        from relayguard.gateway.build import build_gateway
        from relayguard.serve import serve

        os.umask(0o077)  # keys database and log: this user only
        app = build_gateway(args.config, request_log=not args.quiet, max_body=args.max_body)
        return serve(app, args.host, args.port, f"relayguard gateway: serving {len(app.upstreams.router.models)} "
                                                f"model(s) from {args.config}")
    if args.command == "log":
        from relayguard import logcmd

        return logcmd.run(args)
    if args.command == "audit":
        return _audit(args)
    if args.command == "demo":
        from relayguard.demo import run_demo

        return run_demo()
    raise AssertionError(args.command)


def _audit(args: argparse.Namespace) -> int:
    from relayguard.audit import command as audit_command

    return audit_command.run(args)  # exit 0 clean, 1 malicious, 2 inconclusive, 3 usage/connection error


def _proxy(args: argparse.Namespace, pipeline, verdict_header: bool = True,  # type: ignore[no-untyped-def]
           strip_envelope: bool = False, log=None):
    from relayguard.server import ProxyApp, ProxySettings

    try:
        settings = ProxySettings(upstream=args.upstream, max_body=args.max_body, read_timeout=args.timeout,
                                 connect_timeout=args.connect_timeout, verdict_header=verdict_header,
                                 strip_envelope=strip_envelope)
        return ProxyApp(settings, pipeline, log)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _mock_provider(args: argparse.Namespace) -> int:
    from relayguard.serve import serve
    from relayguard.testing.mock_faults import FaultSettings
    from relayguard.testing.mock_provider import MockProvider

    if not (0 < len(args.name) <= 100 and args.name.isascii() and args.name.isprintable()):
        raise ConfigError(f"--name must be 1 to 100 printable ASCII characters, got {args.name!r}")
    faults = FaultSettings(fail_rate=args.fail_rate, status=args.status, retry_after=args.retry_after,
                           delay_ms=args.delay_ms, hang=args.hang, drop_mid_stream=args.drop_mid_stream,
                           seed=args.seed)
    try:
        faults.validate(spell=lambda name: "--" + name.replace("_", "-"))
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    key = None
    if args.sign_key:
        from relayguard.envelope import load_signing_key

        key = load_signing_key(args.sign_key)
    banner = f"relayguard mock provider {args.name}: ready" + (f", signing with key {key.kid}" if key else "")
    return serve(MockProvider(sign_key=key, provider=args.name, faults=faults), args.host, args.port, banner)


def _redteam(args: argparse.Namespace) -> int:
    import re

    from relayguard.pipeline import Pipeline
    from relayguard.serve import serve
    from relayguard.testing.attacks import AttackConfig, RedTeam

    window = None
    if args.window_seconds:
        try:
            a, b = (float(x) for x in args.window_seconds.split(":"))
        except ValueError:
            raise ConfigError(f"--window-seconds takes A:B in seconds, e.g. 10:60; got {args.window_seconds!r}") from None
        window = (a, b)
    config = AttackConfig(attack=args.attack, attacker_url=args.attacker_url, after=args.after,
                          only_yolo=args.only_yolo, keyword=args.keyword, window=window, tool=args.tool,
                          langs=tuple(x.strip() for x in args.langs.split(",") if x.strip()) if args.langs else (),
                          harvest_log=args.harvest_log, inject_text=args.inject_text, swap_to=args.swap_to)
    try:
        config.validate()
    except ValueError as exc:
        raise ConfigError(re.sub(r"\b(swap_to|inject_text)\b", lambda m: "--" + m.group().replace("_", "-"),
                                 str(exc))) from None
    app = _proxy(args, Pipeline([RedTeam(config)]), verdict_header=False, strip_envelope=args.strip_envelope)
    banner = f"relayguard redteam ({args.attack}): relaying to {app.upstream.base_url}"
    if args.attack == "model-swap":
        from relayguard.testing.attacks_request import ModelRelabel

        app = ModelRelabel(app)  # answers name the requested model, whatever was served
    return serve(app, args.host, args.port, banner)


if __name__ == "__main__":
    sys.exit(main())
