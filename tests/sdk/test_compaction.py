"""Context compaction through letta-client 1.12.1: `compaction_settings` on agents, the
summarize route (`client.agents.messages.compact`), and compaction messages in a response.

These tests script the session's fake LLM, so they run serially against the shared server.
"""

from __future__ import annotations

import json

import letta_client
import pytest

from _helpers import assert_error_body, history, make_agent, types

# The start of mneme's summarizer prompts (modes `all` and `sliding_window`).
SUMMARIZER = "You write the memory"


def test_compaction_settings_round_trip(client, uid):
    plain = make_agent(client, f"compact-plain-{uid}")
    s = plain.compaction_settings
    # What Letta shows for an agent created without settings: the defaults, with the mode's
    # prompt; `model` null means the agent's own model.
    assert (s.mode, s.clip_chars, s.sliding_window_percentage) == ("sliding_window", 50000, 0.3)
    assert s.prompt_acknowledgement is False and s.model is None
    assert isinstance(s.prompt, str) and "summar" in s.prompt

    agent = make_agent(
        client,
        f"compact-{uid}",
        compaction_settings={"mode": "all", "clip_chars": 2000, "prompt": "Be brief."},
    )
    s = agent.compaction_settings
    assert (s.mode, s.clip_chars, s.prompt) == ("all", 2000, "Be brief.")

    # A modify changes only what it names; a new mode without a prompt takes the mode's own.
    agent = client.agents.update(agent.id, compaction_settings={"sliding_window_percentage": 0.5})
    s = agent.compaction_settings
    assert (s.mode, s.clip_chars, s.prompt, s.sliding_window_percentage) == ("all", 2000, "Be brief.", 0.5)
    agent = client.agents.update(agent.id, compaction_settings={"mode": "sliding_window"})
    s = client.agents.retrieve(agent.id).compaction_settings
    assert s.mode == "sliding_window" and s.prompt != "Be brief." and s.clip_chars == 2000

    with pytest.raises(letta_client.UnprocessableEntityError) as exc:
        client.agents.update(agent.id, compaction_settings={"mode": "eventually"})
    assert_error_body(exc.value, 422)


def test_compact_summarizes_on_demand(client, fake, uid):
    agent = make_agent(client, f"compact-route-{uid}")
    fake.system_rule(SUMMARIZER, {"text": "Three greetings were exchanged."})
    for word in ("hello", "hi", "hey"):
        client.agents.messages.create(agent_id=agent.id, input=word)

    res = client.agents.messages.compact(agent.id, compaction_settings={"mode": "all"})
    assert res.summary == "Three greetings were exchanged."
    assert (res.num_messages_before, res.num_messages_after) == (7, 4)

    # The summary is stored, listed as Letta lists it (a user message with the packed alert),
    # and the model gets it with the next message.
    listed = history(client, agent.id)
    packed = [json.loads(m.content) for m in listed if m.message_type == "user_message" and "system_alert" in m.content]
    assert len(packed) == 1 and packed[0]["message"].endswith(" Three greetings were exchanged.")
    assert [m.content for m in listed if m.message_type == "user_message"][:3] == ["hello", "hi", "hey"]
    client.agents.messages.create(agent_id=agent.id, input="and now?")
    sent = fake.requests()[-1]["messages"]
    assert "Three greetings were exchanged." in sent[1]["content"]

    # Again: the earlier summary is summarised with the rest; the newest exchange stays.
    res = client.agents.messages.compact(agent.id, compaction_settings={"mode": "all"})
    assert (res.num_messages_before, res.num_messages_after) == (6, 4)
    # The agent's own settings (sliding window) cannot keep that exchange and shrink: all goes.
    res = client.agents.messages.compact(agent.id)
    assert (res.num_messages_before, res.num_messages_after) == (4, 2)
    # Nothing but the summary: the summary it has, the same counts.
    res = client.agents.messages.compact(agent.id)
    assert res.num_messages_before == res.num_messages_after == 2
    assert res.summary.endswith(" Three greetings were exchanged.")


def test_compaction_messages_come_typed_in_a_response(client, fake, uid):
    agent = make_agent(client, f"compact-msgs-{uid}")
    fake.system_rule(SUMMARIZER, {"text": "Greetings so far."})
    for word in ("hello", "hi"):
        client.agents.messages.create(agent_id=agent.id, input=word)
    # gpt-4o-mini's window is 128,000 tokens: 120,000 reported passes Letta's 90%.
    fake.push({"text": "Plenty said.", "prompt_tokens": 120000, "completion_tokens": 1})
    resp = client.agents.messages.create(agent_id=agent.id, input="more", include_compaction_messages=True)
    assert types(resp.messages) == ["assistant_message", "event_message", "summary_message"]
    event, summary = resp.messages[1], resp.messages[2]
    assert event.event_type == "compaction"
    assert event.event_data["trigger"] == "post_step_context_check"
    assert event.event_data["context_token_estimate"] == 120001
    assert summary.summary == "Greetings so far."
    stats = summary.compaction_stats
    assert stats.trigger == "post_step_context_check" and stats.context_window == 128000
    assert stats.messages_count_before == 7 and stats.messages_count_after < 7
