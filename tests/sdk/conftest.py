"""Fixtures for the Python SDK conformance suite (letta-client 1.x).

The server and fake-LLM processes, and the fixtures that start them, live in
``tests/harness/mneme_harness.py`` (shared with the seed-era suite, tests/sdk-seed); this file
adds the 1.x client on top.
"""

from __future__ import annotations

import sys
from pathlib import Path

import letta_client
import pytest
import response_check

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "harness"))

from mneme_harness import (  # noqa: E402,F401  (fixtures and the report hook, used by name)
    MnemeServer,
    fake,
    fake_llm,
    http,
    pytest_runtest_makereport,
    server,
    server_factory,
    uid,
)


class SdkServer(MnemeServer):
    """A mneme server whose clients are letta-client 1.x."""

    def client(self, **kwargs) -> letta_client.Letta:
        kwargs.setdefault("max_retries", 0)  # surface every error instead of retrying it
        kwargs.setdefault("timeout", 30.0)
        return letta_client.Letta(base_url=self.base_url, **kwargs)


@pytest.fixture(scope="session")
def server_class() -> type[MnemeServer]:
    return SdkServer


@pytest.fixture
def client(server: SdkServer) -> letta_client.Letta:
    c = server.client()
    yield c
    c.close()


def pytest_configure(config: pytest.Config) -> None:
    response_check.install()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fails the run if any response the suite received does not match /openapi.json."""
    checked, problems = response_check.mismatches()
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"openapi: {checked} responses checked, {len(problems)} mismatches")
        for problem in problems:
            reporter.write_line(f"  {problem}")
    if problems:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
