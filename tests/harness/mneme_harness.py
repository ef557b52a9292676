"""Process machinery shared by the Python SDK suites (tests/sdk, tests/sdk-seed).

It imports no SDK: each suite's conftest imports these fixtures and subclasses ``MnemeServer``
with a ``client()`` of its own SDK generation, handing the class over by overriding the
``server_class`` fixture.

The server under test is the binary named by ``$MNEME_BIN``. It is started as

    $MNEME_BIN server --host 127.0.0.1 --port 0 --data-dir <dir>

and its address is taken from the first stderr line matching ``listening on <addr>``.

With ``MNEME_TEST_BACKEND=postgres`` every server keeps its state in a PostgreSQL database of
its own on ``$MNEME_TEST_DATABASE_URL``'s server (default
``postgres://postgres@127.0.0.1:5432/postgres``), named after its data directory (so a restart
finds it again; mneme creates it on first start); the databases are dropped when the session
ends.

Model calls go to the scripted fake LLM named by ``$MNEME_FAKE_LLM_BIN`` (one process for the
whole session, started with ``--port 0``); every server the suite starts gets
``OPENAI_BASE_URL=http://<fake>/v1`` and ``OPENAI_API_KEY=sk-test``, the same fake as
``ANTHROPIC_BASE_URL`` with ``ANTHROPIC_API_KEY=sk-ant-test``, and the fake's root as
``GEMINI_BASE_URL`` (with ``GEMINI_API_KEY=gm-test``) and ``OLLAMA_BASE_URL``, so that
``anthropic/...``, ``google_ai/...`` and ``ollama/...`` handles reach it too. Tests script it
through the ``fake`` fixture, which resets it before and after each test. The session server is
shared, so tests that script the fake must not run concurrently (pytest runs them serially).
"""

from __future__ import annotations

import atexit
import collections
import os
import queue
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest

ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
LISTENING_RE = re.compile(r"listening on (\S+)")
STARTUP_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 15.0

_live_servers: "set[MnemeServer]" = set()


def _kill_leftovers() -> None:
    for srv in list(_live_servers):
        try:
            srv.proc.kill()  # type: ignore[union-attr]
        except Exception:
            pass


atexit.register(_kill_leftovers)

# -- backend ---------------------------------------------------------------------------------------

_DEFAULT_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"
_databases: "set[str]" = set()


def postgres_backend() -> bool:
    return os.environ.get("MNEME_TEST_BACKEND", "sqlite") == "postgres"


def _admin_url() -> str:
    return os.environ.get("MNEME_TEST_DATABASE_URL", _DEFAULT_ADMIN_URL)


def database_url(data_dir: Path) -> str:
    """The database of the server on ``data_dir``: one per data directory."""
    name = "mneme_t_" + uuid.uuid5(uuid.NAMESPACE_URL, str(data_dir.resolve())).hex[:20]
    _databases.add(name)
    root = _admin_url().split("?")[0].rsplit("/", 1)[0]
    return f"{root}/{name}"


def _drop_databases() -> None:
    """Drops the session's databases (psql; best effort: scripts/test drops leftovers)."""
    for name in list(_databases):
        subprocess.run(
            ["psql", _admin_url(), "-qAtc", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
    _databases.clear()


atexit.register(_drop_databases)


def fake_llm_bin() -> str:
    path = os.environ.get("MNEME_FAKE_LLM_BIN")
    if not path:
        pytest.exit(
            "MNEME_FAKE_LLM_BIN is not set: point it at the mneme-fake-llm binary "
            "(cargo build -p mneme-testkit --bins)",
            returncode=2,
        )
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.exit(f"MNEME_FAKE_LLM_BIN={path} is not an executable file", returncode=2)
    return path


def mneme_bin() -> str:
    path = os.environ.get("MNEME_BIN")
    if not path:
        pytest.exit("MNEME_BIN is not set: point it at the mneme server binary", returncode=2)
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.exit(f"MNEME_BIN={path} is not an executable file", returncode=2)
    return path


class MnemeServer:
    """One mneme server process on one data directory; can be stopped and started again.

    Each suite subclasses it to add ``client(**kwargs)``, a client of its SDK generation."""

    def __init__(self, binary: str, data_dir: Path | str, env: dict[str, str] | None = None):
        self.binary = binary
        self.data_dir = Path(data_dir)
        self.extra_env = dict(env or {})
        self.proc: subprocess.Popen[bytes] | None = None
        self.addr: str | None = None
        self._lines: collections.deque[str] = collections.deque(maxlen=2000)
        self._lines_lock = threading.Lock()
        self._drainer: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> "MnemeServer":
        assert self.proc is None or self.proc.poll() is not None, "server already running"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env["RUST_LOG"] = "info"
        # Never download the local embedding model, and use it only where a test says so:
        # otherwise results would depend on what the machine has cached.
        env["MNEME_EMBEDDING_MODEL_FETCH"] = "false"
        env.setdefault(
            "MNEME_EMBEDDING_MODEL_DIR", str(self.data_dir / "models" / "all-MiniLM-L6-v2")
        )
        if postgres_backend():
            env["MNEME_DATABASE_URL"] = database_url(self.data_dir)
        env.update(self.extra_env)
        cmd = [
            self.binary,
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--data-dir",
            str(self.data_dir),
        ]
        self._append(f"--- starting: {' '.join(cmd)}")
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
        )
        _live_servers.add(self)
        found: "queue.Queue[str | None]" = queue.Queue()
        self._drainer = threading.Thread(
            target=self._drain, args=(self.proc, found), name="mneme-stderr", daemon=True
        )
        self._drainer.start()

        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        addr = None
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._fail_start(f"no 'listening on' line within {STARTUP_TIMEOUT_S:.0f}s")
            try:
                item = found.get(timeout=min(remaining, 0.5))
            except queue.Empty:
                continue
            if item is None:  # stderr closed: the process exited
                self.proc.wait(timeout=5)
                self._fail_start(f"server exited with code {self.proc.returncode} before listening")
            addr = item
            break
        for prefix in ("http://", "https://"):
            if addr.startswith(prefix):
                addr = addr[len(prefix) :]
        self.addr = addr.rstrip("/")
        return self

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> int:
        """SIGTERM the server and wait for it; returns its exit code. Kills it if it hangs."""
        if self.proc is None:
            return 0
        proc = self.proc
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
                _live_servers.discard(self)
                raise AssertionError(
                    f"mneme did not exit within {timeout}s of SIGTERM\n{self.log_tail()}"
                )
        if self._drainer is not None:
            self._drainer.join(timeout=5)
        _live_servers.discard(self)
        self.addr = None
        return proc.returncode

    def restart(self) -> "MnemeServer":
        self.stop()
        return self.start()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # -- clients -----------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        assert self.addr, "server is not running"
        return f"http://{self.addr}"

    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=30.0, follow_redirects=True)

    # -- stderr ------------------------------------------------------------------------------

    def _append(self, line: str) -> None:
        with self._lines_lock:
            self._lines.append(line)

    def _drain(self, proc: subprocess.Popen[bytes], found: "queue.Queue[str | None]") -> None:
        announced = False
        assert proc.stderr is not None
        for raw in iter(proc.stderr.readline, b""):
            line = ANSI_RE.sub("", raw.decode("utf-8", "replace")).rstrip("\r\n")
            self._append(line)
            if not announced:
                m = LISTENING_RE.search(line)
                if m:
                    announced = True
                    found.put(m.group(1))
        proc.stderr.close()
        if not announced:
            found.put(None)

    def log_tail(self, n: int = 80) -> str:
        with self._lines_lock:
            lines = list(self._lines)[-n:]
        return "\n".join(lines)

    def _fail_start(self, why: str) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)
        _live_servers.discard(self)
        if self._drainer is not None:
            self._drainer.join(timeout=5)
        pytest.fail(f"mneme failed to start: {why}\n--- stderr ---\n{self.log_tail(200)}", pytrace=False)


class FakeLlmProcess:
    """The ``mneme-fake-llm`` process: an OpenAI-compatible fake scripted over ``/_fake/``."""

    def __init__(self, binary: str):
        self.binary = binary
        self.proc: subprocess.Popen[bytes] | None = None
        self.addr: str | None = None
        self._lines: collections.deque[str] = collections.deque(maxlen=500)
        self._drainer: threading.Thread | None = None

    def start(self) -> "FakeLlmProcess":
        cmd = [self.binary, "--host", "127.0.0.1", "--port", "0"]
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        _live_servers.add(self)  # type: ignore[arg-type]
        found: "queue.Queue[str | None]" = queue.Queue()
        self._drainer = threading.Thread(target=self._drain, args=(found,), name="fake-llm-stderr", daemon=True)
        self._drainer.start()
        try:
            item = found.get(timeout=STARTUP_TIMEOUT_S)
        except queue.Empty:
            item = None
        if item is None:
            self.stop()
            pytest.exit(
                f"mneme-fake-llm ({self.binary}) did not print 'listening on'\n" + "\n".join(self._lines),
                returncode=3,
            )
        self.addr = item.removeprefix("http://").rstrip("/")
        return self

    def _drain(self, found: "queue.Queue[str | None]") -> None:
        assert self.proc is not None and self.proc.stderr is not None
        announced = False
        for raw in iter(self.proc.stderr.readline, b""):
            line = ANSI_RE.sub("", raw.decode("utf-8", "replace")).rstrip("\r\n")
            self._lines.append(line)
            if not announced:
                m = LISTENING_RE.search(line)
                if m:
                    announced = True
                    found.put(m.group(1))
        self.proc.stderr.close()
        if not announced:
            found.put(None)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        _live_servers.discard(self)  # type: ignore[arg-type]

    @property
    def base_url(self) -> str:
        """The OpenAI base URL mneme is pointed at."""
        return f"http://{self.addr}/v1"

    @property
    def root_url(self) -> str:
        """The fake's root: Gemini's and Ollama's base URL (they add their own paths)."""
        return f"http://{self.addr}"

    @property
    def server_env(self) -> dict[str, str]:
        return {
            "OPENAI_BASE_URL": self.base_url,
            "OPENAI_API_KEY": "sk-test",
            "GEMINI_BASE_URL": self.root_url,
            "GEMINI_API_KEY": "gm-test",
            "OLLAMA_BASE_URL": self.root_url,
            "ANTHROPIC_BASE_URL": self.base_url,
            "ANTHROPIC_API_KEY": "sk-ant-test",
        }


class FakeLlm:
    """A client for the fake's control API (``/_fake/...``).

    Replies are dicts in the fake's JSON form: ``{"text": ...}``,
    ``{"tool_calls": [{"name": ..., "arguments": {...}}]}``, ``{"error": {"status": 401}}``,
    each optionally with ``"delay_ms"``. Queued replies answer chat requests FIFO; with nothing
    queued the fake echoes the last user message (through ``send_message`` when it is offered).
    """

    def __init__(self, proc: FakeLlmProcess):
        self.proc = proc
        self.http = httpx.Client(base_url=f"http://{proc.addr}", timeout=10.0)

    @property
    def base_url(self) -> str:
        return self.proc.base_url

    @property
    def server_env(self) -> dict[str, str]:
        return self.proc.server_env

    def _ok(self, resp: httpx.Response) -> httpx.Response:
        assert resp.status_code < 300, f"fake control API: {resp.request.url} -> {resp.status_code} {resp.text}"
        return resp

    def reset(self) -> None:
        self._ok(self.http.post("/_fake/reset"))

    def push(self, *replies: dict) -> None:
        self._ok(self.http.post("/_fake/replies", json=list(replies)))

    def text(self, text: str) -> None:
        self.push({"text": text})

    def tool_call(self, name: str, arguments: dict | str | None = None, **extra) -> None:
        self.push({"tool_calls": [{"name": name, "arguments": arguments if arguments is not None else {}}], **extra})

    def error(self, status: int, body: dict | None = None) -> None:
        err: dict = {"status": status}
        if body is not None:
            err["body"] = body
        self.push({"error": err})

    def rule(self, when_last_user_contains: str, reply: dict) -> None:
        self._ok(self.http.post("/_fake/rules", json={"when_last_user_contains": when_last_user_contains, "reply": reply}))

    def system_rule(self, when_system_contains: str, reply: dict, times: int | None = None) -> None:
        """Answers requests whose system prompt contains the text, before the queue (a summarizer's calls)."""
        rule: dict = {"when_system_contains": when_system_contains, "reply": reply}
        if times is not None:
            rule["times"] = times
        self._ok(self.http.post("/_fake/rules", json=rule))

    def context_limit(self, chars: int | None) -> None:
        """Requests with more characters of text get the provider's context-length error."""
        self._ok(self.http.post("/_fake/config", json={"context_limit_chars": chars}))

    def latency(self, ms: int) -> None:
        self._ok(self.http.post("/_fake/latency", json={"ms": ms}))

    def queued(self) -> list[dict]:
        return self._ok(self.http.get("/_fake/replies")).json()

    def requests(self) -> list[dict]:
        """Recorded chat request bodies of every protocol (OpenAI, Gemini, Ollama), oldest first."""
        return self._ok(self.http.get("/_fake/requests")).json()

    def recorded(self) -> list[dict]:
        """Every recorded request: ``{"path", "authorization", "body"}``."""
        return self._ok(self.http.get("/_fake/recorded")).json()

    def close(self) -> None:
        self.http.close()


# -- fixtures ------------------------------------------------------------------------------------

_session_server: MnemeServer | None = None
_private_servers: list = []  # [list of servers started by the running test's server_factory]


@pytest.fixture(scope="session")
def fake_llm():
    """The session's fake LLM process (see ``FakeLlmProcess``)."""
    proc = FakeLlmProcess(fake_llm_bin()).start()
    yield proc
    proc.stop()


@pytest.fixture
def fake(fake_llm: FakeLlmProcess):
    """The control API of the session's fake LLM, reset before and after the test."""
    f = FakeLlm(fake_llm)
    f.reset()
    yield f
    f.reset()
    f.close()


@pytest.fixture(scope="session")
def server_class() -> type[MnemeServer]:
    """The server class the suite's fixtures start; each conftest overrides it."""
    return MnemeServer


@pytest.fixture(scope="session")
def server(fake_llm: FakeLlmProcess, server_class: type[MnemeServer]):
    """One mneme server shared by most tests (tests use unique names to stay independent)."""
    global _session_server
    data_dir = tempfile.mkdtemp(prefix="mneme-sdk-")
    srv = server_class(mneme_bin(), Path(data_dir), env=fake_llm.server_env).start()
    _session_server = srv
    yield srv
    _session_server = None
    srv.stop()
    shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
def http(server: MnemeServer) -> httpx.Client:
    h = server.http()
    yield h
    h.close()


@pytest.fixture
def server_factory(tmp_path, fake_llm: FakeLlmProcess, server_class: type[MnemeServer]):
    """Start private servers: ``srv = server_factory(data_dir, env={...})``; all are stopped at
    teardown.

    They talk to the session's fake LLM like the shared server does; ``env`` adds variables to
    the server's environment (on top of the test process's own and the fake's)."""
    started: list[MnemeServer] = []
    _private_servers[:] = [started]

    def make(data_dir: Path | str | None = None, env: dict[str, str] | None = None) -> MnemeServer:
        srv_env = {**fake_llm.server_env, **(env or {})}
        srv = server_class(mneme_bin(), Path(data_dir) if data_dir else tmp_path / "data", env=srv_env)
        started.append(srv)
        return srv.start()

    yield make
    _private_servers.clear()
    for srv in started:
        if srv.running:
            srv.stop()


@pytest.fixture
def uid() -> str:
    """A short unique suffix for names, labels and tags."""
    return uuid.uuid4().hex[:12]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed:
        for started in _private_servers:
            for i, srv in enumerate(started):
                report.sections.append((f"private mneme #{i} stderr (tail)", srv.log_tail(60)))
        if _session_server is not None:
            report.sections.append(("shared mneme stderr (tail)", _session_server.log_tail(40)))
