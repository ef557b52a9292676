"""Helpers of the chat, memory and context tests: an agent made through the public API, and
its chat page opened."""

from __future__ import annotations

import httpx
from playwright.sync_api import Page, expect

MODEL = "openai/gpt-4o-mini"
EMBEDDING = "openai/text-embedding-3-small"


def make_agent(http: httpx.Client, name: str, human_limit: int = 2000, **extra) -> dict:
    """An agent on the fake LLM with a human and a persona block."""
    body = {
        "name": name,
        "model": MODEL,
        "embedding": EMBEDDING,
        "memory_blocks": [
            {"label": "human", "value": "Name: Ada", "limit": human_limit, "description": "What I know about the user."},
            {"label": "persona", "value": "I am a patient, concise assistant.", "limit": 2000},
        ],
        **extra,
    }
    r = http.post("/v1/agents/", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def messages_of(http: httpx.Client, agent_id: str) -> list[dict]:
    """The agent's messages as the API lists them, oldest first."""
    r = http.get(f"/v1/agents/{agent_id}/messages", params={"limit": 100, "order": "asc"})
    assert r.status_code == 200, r.text
    return r.json()


def open_chat(page: Page, ui_url: str, agent: dict) -> None:
    """The agent's chat tab, once its memory panel has loaded."""
    page.goto(f"{ui_url}#/agents/{agent['id']}/chat")
    expect(page.locator(".agent-name")).to_have_text(agent["name"])
    expect(page.locator("[data-block-label=human]")).to_be_visible()


def say(page: Page, text: str) -> None:
    """Types `text` in the composer and presses Enter."""
    box = page.get_by_role("textbox", name="Message")
    expect(box).to_be_enabled()
    box.fill(text)
    box.press("Enter")
