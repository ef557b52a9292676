"""The agent chat: a message sent from the page streams its reply in, token by token; tool
calls show as expandable lines with their returns; the memory panel follows the agent's edits;
errors show in the conversation; the history survives a reload."""

from __future__ import annotations

from chat_helpers import make_agent, messages_of, open_chat, say
from playwright.sync_api import expect


def test_a_message_streams_its_reply_and_stays_after_a_reload(page, ui_url, http, fake, uid):
    agent = make_agent(http, f"chat-{uid}")
    open_chat(page, ui_url, agent)
    expect(page.get_by_text("No messages yet")).to_be_visible()

    say(page, f"hello {uid}")
    expect(page.locator(".bubble.user")).to_have_text(f"hello {uid}")
    expect(page.locator(".bubble.assistant")).to_have_text(f"echo: hello {uid}")
    # the turn's summary: its steps and tokens; the input is usable again
    expect(page.locator(".run-summary")).to_contain_text("1 step")
    expect(page.get_by_role("textbox", name="Message")).to_be_enabled()
    expect(page.get_by_role("textbox", name="Message")).to_have_value("")

    stored = [(m["message_type"], m.get("content")) for m in messages_of(http, agent["id"])]
    assert ("user_message", f"hello {uid}") in stored, stored
    assert ("assistant_message", f"echo: hello {uid}") in stored, stored

    page.reload()
    expect(page.locator(".bubble.user")).to_have_text(f"hello {uid}")
    expect(page.locator(".bubble.assistant")).to_have_text(f"echo: hello {uid}")
    # the send_message call behind the reply is not shown as a tool line
    expect(page.locator(".tool-line")).to_have_count(0)


def test_shift_enter_writes_a_new_line_and_the_reply_keeps_it(page, ui_url, http, fake, uid):
    agent = make_agent(http, f"lines-{uid}")
    open_chat(page, ui_url, agent)
    box = page.get_by_role("textbox", name="Message")
    box.fill("first line")
    box.press("Shift+Enter")
    box.press_sequentially("second line")
    expect(box).to_have_value("first line\nsecond line")
    expect(page.locator(".bubble")).to_have_count(0)
    page.get_by_role("button", name="Send").click()
    expect(page.locator(".bubble.assistant")).to_have_text("echo: first line\nsecond line")
    assert page.locator(".bubble.assistant").inner_text() == "echo: first line\nsecond line"


def test_a_tool_call_shows_its_return_and_the_memory_panel_follows(page, ui_url, http, fake, uid, shot):
    agent = make_agent(http, f"Ada's assistant {uid[:6]}", tools=["core_memory_append"])
    open_chat(page, ui_url, agent)
    human = page.locator("[data-block-label=human]")
    expect(human.locator(".block-value")).to_have_text("Name: Ada")
    fake.text("Hello Ada! What can I do for you today?")
    say(page, "Hi, it's Ada.")
    expect(page.locator(".bubble.assistant")).to_have_text("Hello Ada! What can I do for you today?")

    fake.push(
        {
            "reasoning": "The user tells me a preference: worth remembering in the human block.",
            "tool_calls": [{"name": "core_memory_append", "arguments": {"label": "human", "content": "Likes green tea."}}],
        }
    )
    fake.text("Noted: green tea it is. I will remember that.")
    say(page, "I really like green tea, remember that.")

    line = page.locator(".tool-line")
    expect(line).to_have_count(1)
    expect(line.locator("summary")).to_contain_text("core_memory_append")
    expect(line.locator("summary")).to_contain_text('label: "human"')
    expect(line.locator(".status")).to_have_text("ok")
    expect(page.locator(".bubble.assistant").last).to_have_text("Noted: green tea it is. I will remember that.")
    # the panel shows the agent's edit without a reload
    remembered = "Name: Ada\nLikes green tea."
    expect(human.locator(".block-value")).to_have_text(remembered)
    expect(human.locator(".counter")).to_have_text(f"{len(remembered)} / 2,000")

    # collapsed: the arguments and the return appear when the line is opened
    ret = line.locator(".tool-return")
    expect(ret).to_be_hidden()
    line.locator("summary").click()
    expect(ret).to_be_visible()
    expect(line.locator("pre.json").first).to_contain_text('"content": "Likes green tea."')
    reasoning = page.locator(".reasoning")
    expect(reasoning.locator("summary")).to_have_text("Reasoning")
    expect(reasoning.locator(".reasoning-text")).to_be_hidden()
    reasoning.locator("summary").click()
    expect(reasoning.locator(".reasoning-text")).to_have_text(
        "The user tells me a preference: worth remembering in the human block."
    )
    # room for the whole exchange in the README's picture
    page.set_viewport_size({"width": 1280, "height": 1000})
    page.locator(".transcript").evaluate("el => { el.scrollTop = el.scrollHeight; }")
    shot(page, "chat")

    r = http.get(f"/v1/agents/{agent['id']}/core-memory/blocks/human")
    assert r.json()["value"] == remembered
    stored = [m["message_type"] for m in messages_of(http, agent["id"])]
    assert "tool_call_message" in stored and "tool_return_message" in stored, stored

    # the history shows the same after a reload: the call paired with its return
    page.reload()
    expect(page.locator(".tool-line .status")).to_have_text("ok")
    expect(page.locator(".bubble.assistant")).to_have_text(
        ["Hello Ada! What can I do for you today?", "Noted: green tea it is. I will remember that."]
    )


def test_tokens_show_while_they_arrive(page, ui_url, http, fake, uid):
    agent = make_agent(http, f"stream-{uid}")
    open_chat(page, ui_url, agent)
    final = "One, two, three, four, five, six, seven, eight: counted slowly."
    fake.push({"text": final, "chunk_delay_ms": 300})
    say(page, "count for me")

    bubble = page.locator(".bubble.assistant")
    # Some of the reply, not all of it: the page shows the tokens as they come.
    page.wait_for_function(
        """(final) => {
            const b = document.querySelector('.bubble.assistant');
            const t = b ? b.textContent : '';
            return t.length > 0 && t.length < final.length && final.startsWith(t);
        }""",
        arg=final,
    )
    expect(page.get_by_role("button", name="Stop")).to_be_visible()
    expect(bubble).to_have_text(final)
    expect(page.get_by_role("button", name="Send")).to_be_visible()


def test_a_model_error_shows_in_the_conversation_and_the_next_message_works(page, ui_url, http, fake, uid):
    agent = make_agent(http, f"errors-{uid}")
    open_chat(page, ui_url, agent)
    # a 500 is retried by the server: every attempt (the first and three retries) fails
    fake.push(*[{"error": {"status": 500}}] * 4)
    say(page, "this will fail")

    expect(page.locator(".bubble.error")).to_be_visible()
    # the server's words for the provider's failure
    expect(page.locator(".bubble.error")).to_contain_text("500")
    expect(page.locator(".notice.error")).to_be_visible()
    expect(page.locator(".run-summary .stop-reason")).to_contain_text("llm_api_error")
    assert fake.queued() == []

    say(page, "and now?")
    expect(page.locator(".bubble.assistant")).to_have_text("echo: and now?")
    stored = [(m["message_type"], m.get("content")) for m in messages_of(http, agent["id"])]
    assert ("assistant_message", "echo: and now?") in stored, stored


def test_stop_cancels_the_run(page, ui_url, http, fake, uid):
    agent = make_agent(http, f"stop-{uid}")
    open_chat(page, ui_url, agent)
    slow = "a very slow answer that the user will not wait for"
    fake.push({"text": slow, "chunk_delay_ms": 1000})
    say(page, "take your time")
    bubble = page.locator(".bubble.assistant")
    expect(bubble).not_to_have_text("")
    page.get_by_role("button", name="Stop").click()

    expect(page.locator(".run-summary .stop-reason")).to_have_text("stopped: cancelled")
    expect(page.get_by_role("textbox", name="Message")).to_be_enabled()
    # what had arrived stays; the rest never comes
    shown = bubble.inner_text()
    assert shown and slow.startswith(shown) and shown != slow, shown
    runs = http.get("/v1/runs/", params={"agent_id": agent["id"]}).json()
    assert [(r["status"], r["stop_reason"]) for r in runs] == [("cancelled", "cancelled")], runs


def test_an_approval_request_waits_for_the_users_answer(page, ui_url, http, fake, uid):
    agent = make_agent(http, f"approve-{uid}")
    r = http.patch(f"/v1/agents/{agent['id']}/tools/approval/memory_insert", params={"requires_approval": "true"})
    assert r.status_code == 200, r.text
    open_chat(page, ui_url, agent)
    fake.tool_call("memory_insert", {"label": "human", "new_string": "Likes tea."})
    fake.text("Saved.")
    say(page, "remember that I like tea")

    card = page.locator(".approval")
    expect(card).to_contain_text('memory_insert(label: "human", new_string: "Likes tea.")')
    expect(page.locator(".run-summary .stop-reason")).to_have_text("stopped: requires_approval")
    # nothing written until the user says so
    human = page.locator("[data-block-label=human] .block-value")
    expect(human).to_have_text("Name: Ada")
    card.get_by_role("button", name="Approve").click()

    expect(page.locator(".tool-line .status")).to_have_text("ok")
    expect(page.locator(".bubble.assistant")).to_have_text("Saved.")
    expect(human).to_contain_text("Likes tea.")
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)
    r = http.get(f"/v1/agents/{agent['id']}/core-memory/blocks/human")
    assert "Likes tea." in r.json()["value"]


def test_older_messages_load_on_demand(page, ui_url, http, fake, uid):
    agent = make_agent(http, f"older-{uid}")
    # 26 turns: 52 user and assistant messages, more than the first page holds
    for i in range(26):
        r = http.post(f"/v1/agents/{agent['id']}/messages", json={"input": f"turn {i} {uid}"})
        assert r.status_code == 200, r.text
    open_chat(page, ui_url, agent)
    expect(page.locator(".bubble.assistant").last).to_have_text(f"echo: turn 25 {uid}")
    first = page.locator(".bubble.user", has_text=f"turn 0 {uid}")
    expect(first).to_have_count(0)

    page.get_by_role("button", name="Load older").click()
    expect(first).to_have_count(1)
    expect(page.locator(".bubble.user")).to_have_count(26)
    # the first page ends at the agent's system message: nothing older
    expect(page.get_by_role("button", name="Load older")).to_have_count(0)
    users = page.locator(".bubble.user").all_inner_texts()
    assert users == [f"turn {i} {uid}" for i in range(26)], users
