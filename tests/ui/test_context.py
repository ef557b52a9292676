"""The context window tab: the chart's parts and the counts are GET /context's numbers, and
each section's text can be opened."""

from __future__ import annotations

from chat_helpers import make_agent
from playwright.sync_api import expect


def context_of(http, agent_id: str) -> dict:
    r = http.get(f"/v1/agents/{agent_id}/context")
    assert r.status_code == 200, r.text
    return r.json()


def test_the_chart_shows_the_context_windows_parts(page, ui_url, http, fake, uid, shot):
    agent = make_agent(http, f"ctx-{uid}")
    r = http.post(f"/v1/agents/{agent['id']}/messages", json={"input": f"hello {uid}"})
    assert r.status_code == 200, r.text
    ctx = context_of(http, agent["id"])

    page.goto(f"{ui_url}#/agents/{agent['id']}/context")
    legend = page.locator(".legend")
    for part, key in [
        ("System prompt", "num_tokens_system"),
        ("Core memory", "num_tokens_core_memory"),
        ("Tool definitions", "num_tokens_functions_definitions"),
        ("External memory summary", "num_tokens_external_memory_summary"),
        ("Summary memory", "num_tokens_summary_memory"),
        ("Messages", "num_tokens_messages"),
    ]:
        expect(legend.locator(f'li[data-part="{part}"] b')).to_have_text(f"{ctx[key]:,}")
    assert ctx["num_tokens_system"] > 0 and ctx["num_tokens_messages"] > 0
    # the bar spans the whole window, or the used part alone
    used_share = f"{100 * ctx['num_tokens_system'] / ctx['context_window_size_max']:.1f}%"
    expect(legend.locator('li[data-part="System prompt"] .muted')).to_have_text(used_share)
    page.get_by_role("button", name="Used part").click()
    part_share = f"{100 * ctx['num_tokens_system'] / ctx['context_window_size_current']:.1f}%"
    expect(legend.locator('li[data-part="System prompt"] .muted')).to_have_text(part_share)
    expect(page.locator(".context-total")).to_contain_text(
        f"{ctx['context_window_size_current']:,} of {ctx['context_window_size_max']:,} tokens"
    )
    expect(page.locator('[data-count="messages"]')).to_have_text(f"{ctx['num_messages']:,}")
    expect(page.locator('[data-count="recall"]')).to_have_text(f"{ctx['num_recall_memory']:,}")
    expect(page.locator('[data-count="archival"]')).to_have_text(f"{ctx['num_archival_memory']:,}")

    # the sections open on their text: the core memory holds the blocks
    def section(title: str):
        return page.locator(".context-sections > details").filter(
            has=page.locator(":scope > summary", has_text=title)
        )

    tools = section("Tool definitions")
    tools.locator("summary").first.click()
    for tool in agent["tools"]:
        expect(tools.locator("code", has_text=tool["name"])).to_be_visible()
    shot(page, "context")
    core = section("Core memory")
    expect(core.locator("pre")).to_be_hidden()
    core.locator("summary").click()
    expect(core.locator("pre")).to_contain_text("Name: Ada")

    # Refresh reads the API again: one more turn, more messages
    r = http.post(f"/v1/agents/{agent['id']}/messages", json={"input": "once more"})
    assert r.status_code == 200, r.text
    after = context_of(http, agent["id"])
    assert after["num_messages"] > ctx["num_messages"]
    page.get_by_role("button", name="Refresh").click()
    expect(page.locator('[data-count="messages"]')).to_have_text(f"{after['num_messages']:,}")
    expect(legend.locator('li[data-part="Messages"] b')).to_have_text(f"{after['num_tokens_messages']:,}")
