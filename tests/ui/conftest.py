"""Fixtures for the UI suite: the web UI in a real headless Chromium (Playwright driving
Debian's ``chromium``) and the terminal chat in a pseudo-terminal (pexpect).

The server and fake-LLM processes come from ``tests/harness/mneme_harness.py``, as in the SDK
suites. The browser is the one named by ``$MNEME_CHROMIUM`` (default: ``chromium`` on the
PATH); Playwright's own browser downloads are never used. Screenshots and terminal transcripts
go to ``$MNEME_UI_SCREENSHOT_DIR`` (default ``$CARGO_TARGET_DIR/ui-screenshots``, else
``target/ui-screenshots``).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "harness"))

from mneme_harness import (  # noqa: E402,F401  (fixtures and the report hook, used by name)
    MnemeServer,
    fake,
    fake_llm,
    http,
    pytest_runtest_makereport,
    server,
    server_class,
    server_factory,
    uid,
)
from playwright.sync_api import Page, sync_playwright  # noqa: E402

REPO = Path(__file__).resolve().parent.parent.parent

# Playwright's expect() waits this long for a condition (a streamed reply, a re-render).
EXPECT_TIMEOUT_MS = 10_000


def chromium_path() -> str:
    path = os.environ.get("MNEME_CHROMIUM") or shutil.which("chromium")
    if not path:
        pytest.exit(
            "no chromium: install Debian's chromium package or set MNEME_CHROMIUM",
            returncode=2,
        )
    return path


@pytest.fixture(scope="session")
def shot_dir() -> Path:
    """Where the run's screenshots and terminal transcripts go."""
    default = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target")) / "ui-screenshots"
    d = Path(os.environ.get("MNEME_UI_SCREENSHOT_DIR", default))
    d.mkdir(parents=True, exist_ok=True)
    return d


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import expect

    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    with sync_playwright() as p:
        # --no-sandbox: CI runs as root, where Chromium's own sandbox refuses to start.
        b = p.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def page(browser, request) -> Page:
    """A fresh browser page (own context: no storage shared between tests). Console errors
    and uncaught exceptions of the page fail the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    pg = context.new_page()
    problems: list[str] = []
    pg.on("pageerror", lambda e: problems.append(f"uncaught: {e}"))
    pg.on(
        "console",
        lambda m: problems.append(f"console.{m.type}: {m.text}") if m.type == "error" else None,
    )
    yield pg
    context.close()
    # An API error the UI showed on purpose is logged by the browser as a failed resource
    # load; tests that provoke one clear pg.problems themselves.
    unexpected = [p for p in problems if "Failed to load resource" not in p]
    assert not unexpected, "the page reported errors:\n" + "\n".join(unexpected)


@pytest.fixture
def ui_url(server: MnemeServer) -> str:
    """The web UI's address on the session server."""
    return server.base_url + "/"


@pytest.fixture
def shot(shot_dir: Path):
    """``shot(page, "name")`` saves a full-page PNG screenshot as ``<shot_dir>/name.png``."""

    def take(pg: Page, name: str) -> Path:
        path = shot_dir / f"{name}.png"
        pg.screenshot(path=str(path), full_page=True)
        return path

    return take
