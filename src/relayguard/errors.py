"""The error tree.

    RelayguardError
     ├── ClientError          the client's request is wrong (4xx); carries status
     │    ├── BadRequest        400: malformed JSON, wrong shape, wrong content type
     │    ├── NotFound          404: unknown path
     │    └── TooLarge          413: body over the configured limit
     ├── UpstreamError        the upstream failed (5xx); carries status
     │    ├── UpstreamUnavailable  502: refused, reset, closed mid-stream, bad bytes
     │    └── UpstreamTimeout      504: no answer in time
     ├── StreamError          an SSE stream from the upstream is malformed or too large
     └── ConfigError          a policy or configuration file is invalid (names file and field)

Every error's message is written for the person reading it: what went wrong
and, where it helps, what to do.
"""

from __future__ import annotations


class RelayguardError(Exception):
    status = 500


class ClientError(RelayguardError):
    status = 400


class BadRequest(ClientError):
    status = 400


class NotFound(ClientError):
    status = 404


class TooLarge(ClientError):
    status = 413


class UpstreamError(RelayguardError):
    status = 502


class UpstreamUnavailable(UpstreamError):
    status = 502


class UpstreamTimeout(UpstreamError):
    status = 504


class StreamError(UpstreamUnavailable):
    status = 502


class ConfigError(RelayguardError):
    status = 500
