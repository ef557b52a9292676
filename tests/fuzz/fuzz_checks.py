"""The fuzz run's own check, loaded by schemathesis through ``SCHEMATHESIS_HOOKS``.

``no_server_error_of_ours`` is schemathesis' ``not_a_server_error`` less one answer that is not
a fault of the server: Letta's 502 ``mcp_connection_error`` for an MCP server that the request's
stored configuration names but that cannot be reached (the fuzzer creates servers with random
commands and URLs, then lists their tools). Every other 5xx still fails the run.
"""

from __future__ import annotations

import json

import schemathesis

# Error types that report an upstream the caller configured, on the routes that contact it.
UPSTREAM_ERRORS = {"mcp_connection_error"}


def _error_type(text: str) -> str | None:
    try:
        body = json.loads(text)
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    return error.get("type") if isinstance(error, dict) else None


@schemathesis.check
def no_server_error_of_ours(ctx, response, case):
    status = response.status_code
    if status < 500:
        return None
    upstream = status == 502 and "mcp" in case.operation.path and _error_type(response.text) in UPSTREAM_ERRORS
    if upstream:
        return None
    raise AssertionError(f"Server error {status} from {case.operation.label}: {response.text[:2000]}")
