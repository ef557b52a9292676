"""API fuzz: schemathesis reads the server's own ``/openapi.json`` and sends every operation
generated requests (the spec's examples, its boundary values, then random valid and invalid
data). No answer may be a 5xx (but an unreachable MCP server's 502: see fuzz_checks.py) and the
server must still be serving afterwards: bad input is a 4xx in Letta's shape.

The budget is fixed for CI (2 cores): ``MNEME_FUZZ_MAX_EXAMPLES`` cases per operation and phase
(default 5) and ``MNEME_FUZZ_MAX_TIME`` seconds for the whole run (default 100), with a fixed
seed (``MNEME_FUZZ_SEED``, default 32) so that a finding comes back on the next run. Raise them
locally to search longer, e.g. ``MNEME_FUZZ_MAX_EXAMPLES=50 MNEME_FUZZ_MAX_TIME=900``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

# Operations left out, each for a reason that is not a bug of the server:
EXCLUDED_PATHS = [
    # Recreates the tool sandbox's venv and pip-installs its packages: tens of seconds and the
    # network per call, which the budget cannot hold.
    "/v1/sandbox-config/local/recreate-venv",
    # Asks the model to write a tool; the fake LLM echoes instead of calling generate_tool, and
    # an unusable model answer is rightly a 502 (the provider's fault, not the request's).
    "/v1/tools/generate-tool",
]


def _budget(name: str, default: int) -> str:
    return str(int(os.environ.get(name, default)))


def test_no_operation_answers_a_server_error(server, tmp_path: Path):
    st = Path(sys.executable).with_name("st")
    command = [
        str(st), "run", f"{server.base_url}/openapi.json",
        # schemathesis' not_a_server_error less an unreachable MCP server's 502 (fuzz_checks.py).
        "--checks", "no_server_error_of_ours",
        "--phases", "examples,coverage,fuzzing",
        "--max-examples", _budget("MNEME_FUZZ_MAX_EXAMPLES", 5),
        "--max-time", _budget("MNEME_FUZZ_MAX_TIME", 100),
        "--seed", _budget("MNEME_FUZZ_SEED", 32),
        # One worker: hypothesis describes its filters with ast.parse, which CPython 3.11 can
        # break when two threads parse at once ("AST constructor recursion depth mismatch").
        "--workers", "1",
        "--request-timeout", "20",
        "--no-color",
        "--output-truncate", "false",
        "--report", "ndjson",
        "--report-dir", str(tmp_path / "report"),
    ]
    for path in EXCLUDED_PATHS:
        command += ["--exclude-path", path]
    env = dict(os.environ, SCHEMATHESIS_HOOKS="fuzz_checks")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(__file__).parent), env.get("PYTHONPATH")]))
    run = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env)
    output = run.stdout + run.stderr
    assert run.returncode == 0, f"schemathesis found failures:\n{output[-20000:]}"
    # Still serving: no request brought the process down.
    assert server.running
    assert httpx.get(f"{server.base_url}/v1/health/", timeout=10).status_code == 200
