"""`relayguard check`: judge recorded exchanges offline.

Input: JSON lines ``{"id", "dialect", "request", "response", "meta"?}``.
Output: one line per input line, same order:
``{"id", "verdict": allow|warn|block|error, "findings": [...]}``.
A malformed line gives verdict "error" with a message, and the run goes on.
The pipeline is the guard's default one, so a verdict here is what the guard
would have done.
"""

from __future__ import annotations

import sys
from typing import IO, Any, Iterable

import orjson

from relayguard.dialects import adapter_for
from relayguard.exchange import DIALECTS, Exchange, Request, Verdict
from relayguard.pipeline import Pipeline

MAX_LINE = 64 * 1024 * 1024


def judge_line(pipeline: Pipeline, line: bytes, number: int) -> dict[str, Any]:
    record_id: Any = None
    try:
        if len(line) > MAX_LINE:
            raise ValueError(f"line is longer than {MAX_LINE} bytes")
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"not valid JSON ({exc})") from None
        if not isinstance(record, dict):
            raise ValueError("a line must be a JSON object")
        record_id = record.get("id")
        dialect = record.get("dialect")
        if dialect not in DIALECTS:
            raise ValueError(f"dialect must be one of {', '.join(DIALECTS)}; got {dialect!r}")
        request, response = record.get("request"), record.get("response")
        if not isinstance(request, dict) or not isinstance(response, dict):
            raise ValueError("'request' and 'response' must be JSON objects")
        adapter = adapter_for(dialect)
        exchange = Exchange(
            id=str(record_id if record_id is not None else f"line-{number}"),
            request=Request(dialect, adapter.paths[0], request, b"", [], str(request.get("model", "")),
                            False),
        )
        try:
            exchange.response = adapter.parse_response(response)
        except (AttributeError, TypeError, ValueError, LookupError) as exc:
            raise ValueError(f"response does not fit the {dialect} format ({exc})") from None
        for call in exchange.response.tool_calls:
            pipeline.run_tool_call(exchange, call)
        pipeline.run_response(exchange)
    except ValueError as exc:
        return {"id": record_id if isinstance(record_id, str) else (str(record_id) if record_id is not None else None),
                "verdict": Verdict.ERROR.value,
                "findings": [{"rule": "malformed-input", "severity": "error",
                              "message": f"line {number}: {exc}", "tool_call": None}]}
    return {"id": exchange.id, "verdict": exchange.verdict().value,
            "findings": [f.as_json() for f in exchange.findings]}


def check_lines(pipeline: Pipeline, lines: Iterable[bytes], out: IO[bytes]) -> dict[str, int]:
    counts = {v.value: 0 for v in Verdict}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        result = judge_line(pipeline, line, number)
        counts[result["verdict"]] += 1
        out.write(orjson.dumps(result) + b"\n")
    return counts


def run_check(path: str, output: str, policy: str | None) -> int:
    from relayguard.presets import check_pipeline

    pipeline = check_pipeline(policy)
    try:
        src = sys.stdin.buffer if path == "-" else open(path, "rb")
    except OSError as exc:
        print(f"relayguard check: cannot read {path}: {exc.strerror}", file=sys.stderr)
        return 2
    dst = sys.stdout.buffer if output == "-" else open(output, "wb")
    try:
        counts = check_lines(pipeline, src, dst)
    finally:
        if src is not sys.stdin.buffer:
            src.close()
        dst.flush()
        if dst is not sys.stdout.buffer:
            dst.close()
    summary = ", ".join(f"{n} {v}" for v, n in counts.items())
    print(f"relayguard check: {summary}", file=sys.stderr)
    return 0
