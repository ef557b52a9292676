"""Fixtures for the API fuzz suite: one fresh server (SQLite unless ``MNEME_TEST_BACKEND`` says
otherwise) with the fake LLM, from ``tests/harness/mneme_harness.py`` like the SDK suites."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "harness"))

from mneme_harness import (  # noqa: E402,F401  (fixtures and the report hook, used by name)
    MnemeServer,
    fake_llm,
    pytest_runtest_makereport,
    server,
    server_class,
)
