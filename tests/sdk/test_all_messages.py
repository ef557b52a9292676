"""`client.messages.list()`: every agent's messages in one listing, and `GET /v1/ready/`."""

from __future__ import annotations

import letta_client
import pytest

from _helpers import assert_error_body, make_agent, random_id, text_of, types


def texts(messages) -> list[str]:
    return [text_of(m) for m in messages]


def test_messages_of_every_agent_list_together_newest_last(client, fake, uid):
    a = make_agent(client, f"all-a-{uid}")
    b = make_agent(client, f"all-b-{uid}")
    client.agents.messages.create(agent_id=a.id, input=f"one {uid}")
    client.agents.messages.create(agent_id=b.id, input=f"two {uid}")

    newest = client.messages.list(order="desc", limit=4)
    assert types(newest) == ["user_message", "assistant_message"] * 2
    assert texts(newest) == [f"one {uid}", f"echo: one {uid}", f"two {uid}", f"echo: two {uid}"]

    later = client.messages.list(after=newest[1].id, order="asc", limit=10)
    assert texts(later) == [f"two {uid}", f"echo: two {uid}"]
    earlier = client.messages.list(before=newest[2].id, order="desc", limit=2)
    assert texts(earlier) == [f"one {uid}", f"echo: one {uid}"]
    only = client.messages.list(order="desc", limit=2, include_return_message_types=["assistant_message"])
    assert texts(only) == [f"echo: two {uid}"]


def test_messages_of_one_conversation_only(client, fake, uid):
    agent = make_agent(client, f"all-conv-{uid}")
    conv = client.conversations.create(agent_id=agent.id)
    with client.conversations.messages.create(
        conv.id, messages=[{"role": "user", "content": f"in conv {uid}"}]
    ) as stream:
        list(stream)
    client.agents.messages.create(agent_id=agent.id, input=f"outside {uid}")

    listed = client.messages.list(conversation_id=conv.id, order="asc")
    assert [t for t in texts(listed) if uid in t] == [f"in conv {uid}", f"echo: in conv {uid}"]

    with pytest.raises(letta_client.NotFoundError) as ei:
        client.messages.list(conversation_id=random_id("conv"))
    assert_error_body(ei.value, 404)


def test_ready(http):
    r = http.get("/v1/ready/")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "ok"
