"""The admin API: issue, list and revoke virtual keys, read usage and target health.

Every call needs the admin token (``Authorization: Bearer TOKEN``), which is
not a virtual key and cannot make model requests.

    POST   /admin/keys        {"models": [...]|null, "rpm": int|null, "tpm": int|null,
                               "budget_usd": float|null, "name": str|null} -> {"id", "key", ...}
    GET    /admin/keys        the keys (never their secrets)
    DELETE /admin/keys/{id}   revoke
    GET    /admin/usage       usage and cost per key and model
    GET    /admin/targets     health of every target (failures, cool-down)
"""

from __future__ import annotations

import hmac
from dataclasses import asdict, is_dataclass
from typing import Any

import orjson

from relayguard.asgi import Receive, Scope, header, read_body
from relayguard.errors import BadRequest, ClientError, NotFound
from relayguard.gateway.routing import Router

MAX_ADMIN_BODY = 64 * 1024


class AdminUnauthorized(ClientError):
    status = 401


class Admin:
    def __init__(self, token: str, keys: Any, router: Router, models: set[str]) -> None:
        self._token = token.encode()
        self.keys = keys
        self.router = router
        self.models = models

    def _check_token(self, scope: Scope) -> None:
        auth = header(scope, b"authorization") or b""
        given = auth[7:].strip() if auth[:7].lower() == b"bearer " else b""
        if not given or not hmac.compare_digest(given, self._token):
            raise AdminUnauthorized("the admin API needs 'Authorization: Bearer <admin token>' (the value of the "
                                    "environment variable named by [admin] token_env)")

    async def handle(self, scope: Scope, receive: Receive) -> tuple[int, Any]:
        self._check_token(scope)
        method, path = scope["method"], scope["path"].rstrip("/")
        if path == "/admin/keys" and method == "POST":
            # Any content type: `curl -d '{...}'` sends a form type, and the body is JSON anyway.
            try:
                body = orjson.loads(await read_body(scope, receive, MAX_ADMIN_BODY) or b"{}")
            except orjson.JSONDecodeError as exc:
                raise BadRequest(f"POST /admin/keys takes a JSON object ({exc})") from None
            if not isinstance(body, dict):
                raise BadRequest("POST /admin/keys takes a JSON object")
            unknown = set(body) - {"models", "rpm", "tpm", "budget_usd", "name"}
            if unknown:
                raise BadRequest(f"unknown field(s) {', '.join(sorted(unknown))}; "
                                 "known: models, rpm, tpm, budget_usd, name")
            info, secret = self.keys.create(body.get("models"), body.get("rpm"), body.get("tpm"),
                                            body.get("budget_usd"), body.get("name"), known_models=self.models)
            return 201, {**_public(info), "key": secret}
        if path == "/admin/keys" and method == "GET":
            return 200, {"keys": [_public(k) for k in self.keys.list()]}
        if path.startswith("/admin/keys/") and method == "DELETE":
            key_id = path[len("/admin/keys/"):]
            if not self.keys.revoke(key_id):
                raise NotFound(f"no virtual key with id {key_id!r}")
            return 200, {"id": key_id, "revoked": True}
        if path == "/admin/usage" and method == "GET":
            return 200, self.keys.usage()
        if path == "/admin/targets" and method == "GET":
            return 200, {"targets": self.router.state()}
        raise NotFound(f"the admin API has no {method} {path}; see POST/GET /admin/keys, DELETE /admin/keys/ID, "
                       "GET /admin/usage, GET /admin/targets")


def _public(info: Any) -> dict[str, Any]:
    data = asdict(info) if is_dataclass(info) else dict(info)
    return {k: v for k, v in data.items() if k not in ("hash", "secret_hash", "key_hash")}
