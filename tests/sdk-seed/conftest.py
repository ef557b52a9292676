"""Fixtures for the seed-era SDK suite: letta-client 0.1.324 (Fern-generated) against mneme.

The processes and their fixtures (``server``, ``fake``, ``http``, ``server_factory``, ``uid``)
come from ``tests/harness/mneme_harness.py``, shared with the 1.x suite in tests/sdk; this file
adds the seed-era client.

Unlike the 1.x suite, the servers here get the local embedding model
(``$MNEME_EMBEDDING_MODEL_DIR``, default ``~/.cache/mneme/models/all-MiniLM-L6-v2``, installed by
``scripts/fetch-model``): the seed-era document flow relies on the server's default embedding.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import letta_client
import pytest

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

LOCAL_MODEL_DIR = os.environ.get(
    "MNEME_EMBEDDING_MODEL_DIR",
    str(Path.home() / ".cache" / "mneme" / "models" / "all-MiniLM-L6-v2"),
)


class SeedServer(MnemeServer):
    """A mneme server with the local embedding model, whose clients are letta-client 0.1.x."""

    def __init__(self, binary: str, data_dir: Path | str, env: dict[str, str] | None = None):
        super().__init__(binary, data_dir, env={"MNEME_EMBEDDING_MODEL_DIR": LOCAL_MODEL_DIR, **(env or {})})

    def client(self, **kwargs) -> letta_client.Letta:
        # The seed SDK never retries unless asked, so every error surfaces as it is.
        kwargs.setdefault("timeout", 30.0)
        return letta_client.Letta(base_url=self.base_url, **kwargs)


@pytest.fixture(scope="session")
def server_class() -> type[MnemeServer]:
    if not (Path(LOCAL_MODEL_DIR) / "model.safetensors").is_file():
        pytest.exit(
            f"the local embedding model is not in {LOCAL_MODEL_DIR}: run scripts/fetch-model",
            returncode=2,
        )
    return SeedServer


@pytest.fixture
def client(server: SeedServer) -> letta_client.Letta:
    return server.client()
