"""The core memory panel beside the chat: a block edited there is saved through the API, its
counter follows the text, and a value over the block's limit is refused with a message."""

from __future__ import annotations

from chat_helpers import make_agent, open_chat
from playwright.sync_api import expect


def block_value(http, agent_id: str, label: str) -> str:
    r = http.get(f"/v1/agents/{agent_id}/core-memory/blocks/{label}")
    assert r.status_code == 200, r.text
    return r.json()["value"]


def test_an_edited_block_is_saved_and_read_back(page, ui_url, http, uid):
    agent = make_agent(http, f"mem-{uid}", human_limit=100)
    open_chat(page, ui_url, agent)
    human = page.locator("[data-block-label=human]")
    expect(human.locator(".block-description")).to_have_text("What I know about the user.")
    expect(human.locator(".counter")).to_have_text("9 / 100")

    human.get_by_role("button", name="Edit").click()
    value = f"Name: Ada Lovelace\nWrites notes on engines ({uid})."
    human.get_by_role("textbox", name="Value of human").fill(value)
    # the counter follows the draft before it is saved
    expect(human.locator(".counter")).to_have_text(f"{len(value)} / 100")
    human.get_by_role("button", name="Save").click()

    expect(human.locator(".block-value")).to_have_text(value)
    expect(human.locator(".counter")).to_have_text(f"{len(value)} / 100")
    expect(human.get_by_role("button", name="Save")).to_have_count(0)
    assert block_value(http, agent["id"], "human") == value

    # the saved value is what the panel loads next time
    page.reload()
    expect(page.locator("[data-block-label=human] .block-value")).to_have_text(value)


def test_the_counter_warns_near_the_limit(page, ui_url, http, uid):
    agent = make_agent(http, f"near-{uid}", human_limit=9)
    open_chat(page, ui_url, agent)
    counter = page.locator("[data-block-label=human] .counter")
    expect(counter).to_have_text("9 / 9")
    expect(counter).to_have_class("counter near")
    expect(page.locator("[data-block-label=persona] .counter")).to_have_class("counter")


def test_a_value_over_the_limit_is_refused(page, ui_url, http, uid):
    agent = make_agent(http, f"limit-{uid}", human_limit=20)
    open_chat(page, ui_url, agent)
    human = page.locator("[data-block-label=human]")
    human.get_by_role("button", name="Edit").click()
    too_long = "x" * 21
    human.get_by_role("textbox", name="Value of human").fill(too_long)
    expect(human.locator(".counter")).to_have_text("21 / 20")
    expect(human.locator(".counter")).to_have_class("counter over")
    human.get_by_role("button", name="Save").click()

    expect(human.get_by_role("alert")).to_have_text("Too long: 21 characters, the limit is 20.")
    # still editing, nothing sent
    expect(human.get_by_role("textbox", name="Value of human")).to_have_value(too_long)
    assert block_value(http, agent["id"], "human") == "Name: Ada"


def test_the_servers_refusal_is_shown(page, ui_url, http, uid):
    agent = make_agent(http, f"refused-{uid}", human_limit=100)
    open_chat(page, ui_url, agent)
    human = page.locator("[data-block-label=human]")
    human.get_by_role("button", name="Edit").click()
    # another client lowers the limit while the page still holds the old one
    r = http.patch(f"/v1/agents/{agent['id']}/core-memory/blocks/human", json={"limit": 12})
    assert r.status_code == 200, r.text
    human.get_by_role("textbox", name="Value of human").fill("Name: Ada Lovelace")
    human.get_by_role("button", name="Save").click()

    alert = human.get_by_role("alert")
    expect(alert).to_be_visible()
    expect(alert).to_contain_text("12")
    expect(page.locator(".notice.error")).to_be_visible()
    assert block_value(http, agent["id"], "human") == "Name: Ada"


def test_a_read_only_block_has_no_edit_button(page, ui_url, http, uid):
    block = {"label": "policy", "value": "Never share secrets.", "limit": 500, "read_only": True}
    agent = make_agent(http, f"ro-{uid}", memory_blocks=[block])
    page.goto(f"{ui_url}#/agents/{agent['id']}/chat")
    policy = page.locator("[data-block-label=policy]")
    expect(policy.locator(".block-value")).to_have_text("Never share secrets.")
    expect(policy.locator(".read-only")).to_have_text("read-only")
    expect(policy.get_by_role("button", name="Edit")).to_have_count(0)
    r = http.get(f"/v1/agents/{agent['id']}/core-memory/blocks/policy")
    assert r.json()["read_only"] is True
