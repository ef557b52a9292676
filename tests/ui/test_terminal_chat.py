"""`mneme chat`, the terminal client, driven in a pseudo-terminal (pexpect) against a real
server and the scripted fake LLM.

Each test types what a user types and waits for what a user would see; afterwards it asks the
API whether the server agrees (the memory block changed, the messages were cleared, the run was
cancelled). One session's transcript, ANSI stripped, is saved as ``terminal-chat.txt`` beside
the screenshots for the README.
"""

from __future__ import annotations

import io
import json
import os
import re
import time
from pathlib import Path

import pexpect
from mneme_harness import ANSI_RE, mneme_bin

MODEL = "openai/gpt-4o-mini"
PROMPT = "you> "
# The line that closes every reply: `1 step · 1,234 tokens · 0.1 s`.
USAGE = r"\d+ steps? · [\d,]+ tokens · [\d.]+ s"
TIMEOUT_S = 20
UP = "\x1b[A"
SGR = re.compile(r"\x1b\[[0-9;]*m")


def make_agent(http, name: str, human: str = "Name: Ada", persona: str = "I am terse.", **extra) -> dict:
    r = http.post(
        "/v1/agents/",
        json={
            "name": name,
            "model": MODEL,
            "memory_blocks": [
                {"label": "human", "value": human},
                {"label": "persona", "value": persona},
            ],
            **extra,
        },
    )
    assert r.status_code == 200, r.text
    return r.json()


def spawn_chat(base_url: str, *args: str, cwd: Path, color: bool = True) -> pexpect.spawn:
    """`mneme chat ARGS --base-url URL` in a 40x120 terminal; its output is kept in
    ``child.transcript``."""
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "MNEME_BASE_URL", "LETTA_BASE_URL")}
    env.update({"TERM": "xterm-256color", "MNEME_DATA_DIR": str(cwd / "data")})
    if not color:
        env["NO_COLOR"] = "1"
    child = pexpect.spawn(
        mneme_bin(),
        ["chat", *args, "--base-url", base_url],
        cwd=str(cwd),
        env=env,
        dimensions=(40, 120),
        encoding="utf-8",
        codec_errors="replace",
        timeout=TIMEOUT_S,
    )
    child.transcript = io.StringIO()
    child.logfile_read = child.transcript
    return child


def plain(text: str) -> str:
    """Terminal output as a reader sees it: no colour codes, no carriage returns."""
    return ANSI_RE.sub("", text).replace("\r", "")


def say(child: pexpect.spawn, line: str) -> None:
    """Types a line at the prompt and waits for the reply's closing usage line and the next
    prompt."""
    child.sendline(line)
    child.expect(USAGE)
    child.expect_exact(PROMPT)


def quit_chat(child: pexpect.spawn) -> None:
    child.sendline("/quit")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, plain(child.transcript.getvalue())


def messages(http, agent_id: str) -> list[dict]:
    r = http.get(f"/v1/agents/{agent_id}/messages", params={"limit": 100})
    assert r.status_code == 200, r.text
    return r.json()


def blocks(http, agent_id: str) -> dict[str, str]:
    r = http.get(f"/v1/agents/{agent_id}/core-memory/blocks")
    assert r.status_code == 200, r.text
    return {b["label"]: b["value"] for b in r.json()}


def wait_until(check, what: str, timeout_s: float = TIMEOUT_S):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_message_streams_the_reply_then_the_usage(server, http, fake, uid, tmp_path):
    agent = make_agent(http, f"term-echo-{uid}")
    child = spawn_chat(server.base_url, agent["name"], cwd=tmp_path, color=False)
    child.expect_exact(agent["name"])
    child.expect_exact(agent["id"])
    child.expect_exact(PROMPT)

    # Nothing scripted: the fake echoes the user's words.
    child.sendline("hello from the terminal")
    child.expect(r"\necho: hello from the terminal\r\n  " + USAGE)
    child.expect_exact(PROMPT)
    quit_chat(child)

    out = plain(child.transcript.getvalue())
    # The line editor still moves the cursor; colours (SGR codes) are what NO_COLOR turns off.
    assert not SGR.search(child.transcript.getvalue()), "NO_COLOR output has colour codes"
    assert "you> hello from the terminal\necho: hello from the terminal\n  1 step · " in out, out
    replies = [m["content"] for m in messages(http, agent["id"]) if m["message_type"] == "assistant_message"]
    assert replies == ["echo: hello from the terminal"]


def test_memory_edits_show_and_memory_lists_the_blocks(server, http, fake, uid, tmp_path, shot_dir):
    # core_memory_append is not among a letta_v1_agent's default tools: attach it.
    agent = make_agent(http, f"term-memory-{uid}", human="Name: Ada", tools=["core_memory_append"])
    child = spawn_chat(server.base_url, agent["name"], cwd=tmp_path)
    child.expect_exact(PROMPT)

    say(child, "Hi, I'm Ada.")

    child.sendline("/memory")
    child.expect_exact(PROMPT)
    shown = plain(child.before)
    for text in ("human  9/", "  Name: Ada", "persona  11/", "  I am terse."):
        assert text in shown, shown

    fake.tool_call(
        "core_memory_append",
        {"label": "human", "content": "Likes green tea.", "request_heartbeat": True},
        reasoning="Ada shares a preference.\nWorth remembering.",
    )
    fake.text("Noted: green tea.")
    child.sendline("I like green tea")
    child.expect_exact('→ core_memory_append(label="human", content="Likes green tea.")')
    child.expect_exact("✎ memory human updated")
    child.expect_exact("Noted: green tea.")
    child.expect(r"2 steps · [\d,]+ tokens")
    child.expect_exact(PROMPT)

    child.sendline("/memory")
    child.expect_exact("Likes green tea.")
    child.expect_exact(PROMPT)

    child.sendline("/context")
    child.expect(r"context window(\x1b\[0m)?  [\d,]+ / [\d,]+ tokens")
    child.expect_exact(PROMPT)
    quit_chat(child)

    raw = child.transcript.getvalue()
    # Reasoning streams in fragments, each dimmed; read as plain text it is one compact line.
    assert "\n  thinking: Ada shares a preference. Worth remembering.\n" in plain(raw)
    assert "\x1b[32m✎ memory human updated\x1b[0m" in raw, "the memory edit is not green on a terminal"
    assert "Likes green tea." in blocks(http, agent["id"])["human"]
    (shot_dir / "terminal-chat.txt").write_text(plain(raw), encoding="utf-8")


def test_without_token_streaming_each_message_shows_whole(server, http, fake, uid, tmp_path):
    agent = make_agent(http, f"term-whole-{uid}", tools=["core_memory_append"])
    child = spawn_chat(server.base_url, agent["name"], "--no-stream-tokens", cwd=tmp_path, color=False)
    child.expect_exact(PROMPT)
    fake.tool_call("core_memory_append", {"label": "persona", "content": "Speaks French."})
    fake.text("D'accord.")
    child.sendline("parle français")
    child.expect_exact('  → core_memory_append(label="persona", content="Speaks French.")\r\n')
    child.expect_exact("  ✎ memory persona updated\r\n")
    child.expect_exact("D'accord.\r\n  2 steps · ")
    child.expect_exact(PROMPT)
    quit_chat(child)
    assert blocks(http, agent["id"])["persona"].endswith("Speaks French.")


def test_context_shows_the_token_counts_the_api_reports(server, http, fake, uid, tmp_path):
    agent = make_agent(http, f"term-context-{uid}")
    child = spawn_chat(server.base_url, agent["id"], cwd=tmp_path, color=False)
    child.expect_exact(PROMPT)
    child.sendline("/context")
    child.expect(r"context window  ([\d,]+) / ([\d,]+) tokens")
    current, window = (int(g.replace(",", "")) for g in child.match.groups())
    child.expect(r"system prompt +([\d,]+) ")
    system = int(child.match.group(1).replace(",", ""))
    child.expect(r"core memory +([\d,]+) ")
    core = int(child.match.group(1).replace(",", ""))
    child.expect(r"tools +[\d,]+ ")
    child.expect(r"messages +[\d,]+ ")
    child.expect_exact(PROMPT)
    quit_chat(child)

    c = http.get(f"/v1/agents/{agent['id']}/context").json()
    assert window == c["context_window_size_max"] > 0
    assert current == c["context_window_size_current"] > 0
    assert system == c["num_tokens_system"] > 0
    assert core == c["num_tokens_core_memory"] > 0


def test_export_writes_the_agent_file(server, http, fake, uid, tmp_path):
    name = f"term-export-{uid}"
    make_agent(http, name)
    child = spawn_chat(server.base_url, name, cwd=tmp_path, color=False)
    child.expect_exact(PROMPT)
    child.sendline("/export")
    child.expect(r"exported .* to (\S+\.af) \(")
    written = Path(child.match.group(1))
    child.expect_exact(PROMPT)
    child.sendline("/export copies/second.af")
    child.expect(r"error: writing copies/second\.af: ")
    child.expect_exact(PROMPT)
    quit_chat(child)

    assert written == tmp_path / f"{name}.af"
    doc = json.loads(written.read_text(encoding="utf-8"))
    assert [a["name"] for a in doc["agents"]] == [name]
    assert {b["label"] for b in doc["blocks"]} >= {"human", "persona"}


def test_arrow_up_recalls_the_previous_line(server, http, fake, uid, tmp_path):
    agent = make_agent(http, f"term-history-{uid}")
    child = spawn_chat(server.base_url, agent["name"], cwd=tmp_path, color=False)
    child.expect_exact(PROMPT)
    say(child, "say it twice")
    child.send(UP)
    child.expect_exact("say it twice")
    child.send("\r")
    child.expect(USAGE)
    child.expect_exact(PROMPT)
    quit_chat(child)

    sent = [m["content"] for m in messages(http, agent["id"]) if m["message_type"] == "user_message"]
    assert sent[-2:] == ["say it twice", "say it twice"]
    # The history is kept for the next session.
    assert "say it twice" in (tmp_path / "data" / "chat_history").read_text(encoding="utf-8")


def test_reset_clears_the_messages(server, http, fake, uid, tmp_path):
    agent = make_agent(http, f"term-reset-{uid}")
    child = spawn_chat(server.base_url, agent["name"], cwd=tmp_path, color=False)
    child.expect_exact(PROMPT)
    say(child, "remember this line")
    assert any(m["message_type"] == "user_message" for m in messages(http, agent["id"]))
    child.sendline("/reset")
    child.expect_exact("messages were cleared")
    child.expect_exact(PROMPT)
    quit_chat(child)
    assert not [m for m in messages(http, agent["id"]) if m["message_type"] == "user_message"]


def test_ctrl_c_cancels_the_reply_and_the_run(server, http, fake, uid, tmp_path):
    agent = make_agent(http, f"term-cancel-{uid}")
    child = spawn_chat(server.base_url, agent["name"], cwd=tmp_path, color=False)
    child.expect_exact(PROMPT)
    fake.push({"text": "far too late", "delay_ms": 15_000})
    asked = len(fake.requests())
    child.sendline("take your time")
    wait_until(lambda: len(fake.requests()) > asked, "the model request")
    child.sendintr()
    child.expect_exact("cancelled")
    child.expect_exact(PROMPT)

    def runs():
        r = http.get("/v1/runs/", params={"agent_id": agent["id"]})
        assert r.status_code == 200, r.text
        return r.json()

    run = wait_until(lambda: [r for r in runs() if r["status"] == "cancelled"], "a cancelled run")
    assert len(run) == 1
    # The chat is still there and usable.
    fake.reset()
    say(child, "still here?")
    quit_chat(child)
    assert "far too late" not in plain(child.transcript.getvalue())


def test_server_errors_are_shown_and_the_prompt_returns(server, http, fake, uid, tmp_path):
    agent = make_agent(http, f"term-errors-{uid}")
    child = spawn_chat(server.base_url, agent["name"], cwd=tmp_path, color=False)
    child.expect_exact(PROMPT)
    # The provider refuses: the stream says so in an error frame.
    fake.error(401, {"error": {"message": "the fake's key is wrong"}})
    child.sendline("are you there?")
    child.expect_exact("error: the provider rejected the credentials: the fake's key is wrong")
    child.expect_exact("stopped: llm_api_error")
    child.expect_exact(PROMPT)
    child.sendline("/agent no-such-agent-" + uid)
    child.expect_exact(f"error: no agent 'no-such-agent-{uid}'")
    child.expect_exact(PROMPT)
    child.sendline("/nonsense")
    child.expect_exact("unknown command /nonsense")
    child.expect_exact(PROMPT)
    say(child, "and now?")
    # The agent is deleted behind the chat's back: the HTTP status and its detail are shown.
    assert http.delete(f"/v1/agents/{agent['id']}").status_code == 200
    child.sendline("hello?")
    child.expect(r"error: the server answered 404: [^\r\n]*" + re.escape(agent["id"]))
    child.expect_exact(PROMPT)
    child.sendline("/memory")
    child.expect_exact("error: the server answered 404")
    child.expect_exact(PROMPT)
    quit_chat(child)


def test_agents_lists_and_agent_switches(server, http, fake, uid, tmp_path):
    first = make_agent(http, f"term-first-{uid}")
    second = make_agent(http, f"term-second-{uid}")
    child = spawn_chat(server.base_url, first["name"], cwd=tmp_path, color=False)
    child.expect_exact(PROMPT)
    child.sendline("/agents")
    child.expect(r"\* +\d+\. " + re.escape(first["name"]))
    child.expect_exact(PROMPT)
    child.sendline(f"/agent {second['name']}")
    child.expect_exact(second["id"])
    child.expect_exact(PROMPT)
    say(child, "which one are you?")
    quit_chat(child)
    assert [m["content"] for m in messages(http, second["id"]) if m["message_type"] == "user_message"] == [
        "which one are you?"
    ]
    assert not [m for m in messages(http, first["id"]) if m["message_type"] == "user_message"]


def test_an_unknown_agent_exits_non_zero(server, tmp_path):
    child = spawn_chat(server.base_url, "nobody-by-this-name", cwd=tmp_path, color=False)
    child.expect_exact("no agent 'nobody-by-this-name'")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus not in (0, None)


def test_choosing_or_creating_an_agent(server_factory, fake, tmp_path):
    srv = server_factory()
    # No agents: the chat says how to make one, and exits.
    child = spawn_chat(srv.base_url, cwd=tmp_path, color=False)
    child.expect_exact("no agents on")
    child.expect_exact("--create MODEL")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus not in (0, None)

    child = spawn_chat(srv.base_url, "--create", MODEL, cwd=tmp_path, color=False)
    child.expect_exact("created agent chat")
    child.expect_exact(PROMPT)
    quit_chat(child)
    with srv.http() as h:
        agents = h.get("/v1/agents/").json()
        assert [a["name"] for a in agents] == ["chat"]
        assert {b["label"] for b in agents[0]["memory"]["blocks"]} == {"human", "persona"}
        other = make_agent(h, "other")

    # Several: a numbered list, and the user picks one.
    child = spawn_chat(srv.base_url, cwd=tmp_path, color=False)
    child.expect(r"(\d+)\. other ")
    number = child.match.group(1)
    child.expect_exact("which agent?")
    child.sendline(number)
    child.expect_exact(other["id"])
    child.expect_exact(PROMPT)
    quit_chat(child)

