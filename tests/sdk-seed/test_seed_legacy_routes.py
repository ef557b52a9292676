"""Routes seed-era (and Cloud-era) applications call that the 0.16.7 API no longer lists, through
letta-client 0.1.324: agent search, message search across agents, template memory variables,
modifying an archival passage, and the embedding model list under its older path. The agent
search count is not in this SDK: it is called over plain HTTP with the SDK's query encoding.
"""

from __future__ import annotations

import letta_client
import pytest
from letta_client import CreateBlock

from _seed import LOCAL_EMBEDDING, MODEL, assert_api_error, checked, user


def make(client, name: str, tags: list[str] | None = None):
    return client.agents.create(
        name=name,
        model=MODEL,
        embedding=LOCAL_EMBEDDING,
        tags=tags or [],
        memory_blocks=[CreateBlock(label="human", value="Name: Ada")],
    )


def test_agents_are_searched_by_name_tags_and_id(client, uid):
    a = make(client, f"alpha-{uid}", tags=[f"t-{uid}", "red"])
    b = make(client, f"beta-{uid}", tags=[f"t-{uid}"])

    def names(**kwargs) -> list[str]:
        found = checked(client.agents.with_raw_response.search(**kwargs), letta_client.AgentsSearchResponse)
        return sorted(agent.name for agent in found.agents)

    assert names(search=[{"field": "name", "operator": "eq", "value": f"alpha-{uid}"}]) == [a.name]
    assert names(search=[{"field": "name", "operator": "contains", "value": uid}]) == [a.name, b.name]
    assert names(search=[{"field": "tags", "operator": "contains", "value": [f"t-{uid}", "red"]}]) == [a.name]
    assert names(search=[{"field": "agentId", "operator": "eq", "value": b.id}]) == [b.name]
    assert names(search=[{"field": "templateName", "operator": "eq", "value": "any"}]) == []

    by_tag = [{"field": "tags", "operator": "contains", "value": [f"t-{uid}"]}]
    first = client.agents.search(search=by_tag, limit=1, sort_by="created_at", ascending=True)
    assert [x.name for x in first.agents] == [a.name] and first.next_cursor == a.id
    rest = client.agents.search(search=by_tag, limit=1, after=first.next_cursor, ascending=True)
    assert [x.name for x in rest.agents] == [b.name]
    last = client.agents.search(search=by_tag, limit=1, after=rest.next_cursor, ascending=True)
    assert last.agents == [] and last.next_cursor is None


def test_agent_search_count(client, http, uid):
    make(client, f"gamma-{uid}", tags=[f"c-{uid}"])
    make(client, f"delta-{uid}", tags=[f"c-{uid}"])
    params = [("search[field]", "tags"), ("search[operator]", "contains"), ("search[value]", f"c-{uid}")]
    resp = http.get("/v1/agents/search/count", params=params)
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"count": 2}
    params += [("search[field]", "name"), ("search[operator]", "eq"), ("search[value]", f"delta-{uid}")]
    assert http.get("/v1/agents/search/count", params=params).json() == {"count": 1}


def test_messages_are_searched_across_agents(client, fake, uid):
    one, two = make(client, f"s1-{uid}"), make(client, f"s2-{uid}")
    fake.text("noted")
    client.agents.messages.create(agent_id=one.id, messages=user(f"papaya smoothie {uid}"))
    fake.text("noted")
    client.agents.messages.create(agent_id=two.id, messages=user(f"papaya salad {uid}"))
    raw = client.agents.messages.with_raw_response.search(query=f"papaya {uid}", search_mode="fts", roles=["user"])
    found = checked(raw, list[letta_client.MessageSearchResult])
    assert sorted(r.embedded_text for r in found) == [f"papaya salad {uid}", f"papaya smoothie {uid}"]
    assert {r.message.agent_id for r in found} == {one.id, two.id}
    assert all(r.fts_rank and r.rrf_score > 0 for r in found)


def test_an_agent_not_made_from_a_template_has_no_memory_variables(client, uid):
    agent = make(client, f"vars-{uid}")
    assert client.agents.memory_variables.list(agent.id).variables == {}
    with pytest.raises(letta_client.core.ApiError) as ei:
        client.agents.memory_variables.list("agent-00000000-0000-4000-8000-000000000000")
    assert_api_error(ei.value, 404)


def test_a_passage_is_modified_and_found_by_its_new_text(client, http, uid):
    agent = make(client, f"pm-{uid}")
    [passage] = client.agents.passages.create(agent.id, text="the cat sat on the mat")
    client.agents.passages.modify(agent.id, passage.id)  # the seed SDK sends no body: no change
    resp = http.patch(
        f"/v1/agents/{agent.id}/archival-memory/{passage.id}",
        json={"id": passage.id, "text": "quantum chromodynamics lecture notes", "tags": ["physics"]},
    )
    assert resp.status_code == 200, resp.text
    [updated] = resp.json()
    assert (updated["id"], updated["text"], updated["tags"]) == (
        passage.id, "quantum chromodynamics lecture notes", ["physics"],
    )
    [listed] = client.agents.passages.list(agent.id)
    assert (listed.text, listed.embedding != passage.embedding) == (updated["text"], True)
    found = client.agents.passages.search(agent.id, query="physics of quarks", tags=["physics"])
    assert [r.content for r in found.results] == [updated["text"]]
    resp = http.patch(f"/v1/agents/{agent.id}/archival-memory/passage-00000000-0000-4000-8000-000000000000", json={})
    assert resp.status_code == 404, resp.text


def test_embedding_models_are_listed_under_the_older_path(http):
    older = http.get("/v1/models/embeddings")
    assert older.status_code == 200, older.text
    assert older.json() == http.get("/v1/models/embedding").json()
