"""Tenancy through the SDK: two organizations, each with a member API key, set up over Letta's
admin routes (which letta-client 1.x does not wrap); then each resource, route by route, is
made by one key and looked for by the other, which must neither see nor touch it."""

from __future__ import annotations

import letta_client
import pytest

from _helpers import make_agent

EMBEDDING = "openai/text-embedding-3-small"


def tenant(http, name: str) -> str:
    """A new organization, a user of it and a member key acting as that user; the key."""
    org = http.post("/v1/admin/orgs/", json={"name": name})
    assert org.status_code == 200, org.text
    user = http.post("/v1/admin/users/", json={"name": f"{name}-user", "organization_id": org.json()["id"]})
    assert user.status_code == 200, user.text
    key = http.post("/v1/admin/keys/", json={"name": name, "user_id": user.json()["id"]})
    assert key.status_code == 200, key.text
    return key.json()["api_key"]


@pytest.fixture
def tenants(server, http, uid):
    a = server.client(api_key=tenant(http, f"a-{uid}"))
    b = server.client(api_key=tenant(http, f"b-{uid}"))
    yield a, b
    a.close()
    b.close()


def not_found(call) -> None:
    with pytest.raises(letta_client.NotFoundError):
        call()


def test_agents_blocks_and_tools_stay_in_their_organization(tenants, uid):
    a, b = tenants
    agent = make_agent(a, f"agent-{uid}", embedding=EMBEDDING)
    block = a.blocks.create(label=f"notes-{uid}", value="a's secret")
    tool = a.tools.upsert(source_code=f"def t_{uid}(x: int) -> int:\n    \"\"\"Doubles.\n\n    Args:\n        x: a number\n    \"\"\"\n    return 2 * x\n")

    assert agent.id not in [x.id for x in b.agents.list()]
    assert block.id not in [x.id for x in b.blocks.list()]
    assert tool.id not in [x.id for x in b.tools.list()]
    not_found(lambda: b.agents.retrieve(agent.id))
    not_found(lambda: b.agents.update(agent.id, name="taken"))
    not_found(lambda: b.agents.blocks.list(agent.id))
    not_found(lambda: b.blocks.retrieve(block.id))
    not_found(lambda: b.blocks.update(block.id, value="pwned"))
    not_found(lambda: b.tools.retrieve(tool.id))
    not_found(lambda: b.tools.delete(tool.id))
    not_found(lambda: b.agents.delete(agent.id))
    assert a.blocks.retrieve(block.id).value == "a's secret"
    assert a.agents.retrieve(agent.id).name == f"agent-{uid}"

    # B's agent cannot be given A's block or tool.
    theirs = make_agent(b, f"b-agent-{uid}")
    not_found(lambda: b.agents.blocks.attach(block.id, agent_id=theirs.id))
    not_found(lambda: b.agents.tools.attach(tool.id, agent_id=theirs.id))
    assert [x.id for x in a.agents.list()] == [agent.id]
    assert [x.id for x in b.agents.list()] == [theirs.id]


def test_messages_runs_and_passages_stay_in_their_organization(tenants, fake, uid):
    a, b = tenants
    agent = make_agent(a, f"agent-{uid}", embedding=EMBEDDING)
    fake.text("hello from a")
    a.agents.messages.create(agent_id=agent.id, messages=[{"role": "user", "content": f"secret-{uid}"}])
    passage = a.agents.passages.create(agent.id, text=f"the vault code is {uid}")[0]
    runs = [r.id for r in a.runs.list()]
    assert runs

    not_found(lambda: b.agents.messages.list(agent.id))
    not_found(lambda: b.agents.messages.create(agent_id=agent.id, messages=[{"role": "user", "content": "hi"}]))
    not_found(lambda: b.agents.passages.list(agent.id))
    not_found(lambda: b.agents.passages.search(agent.id, query="vault code"))
    not_found(lambda: b.runs.retrieve(runs[0]))
    assert not [r for r in b.runs.list() if r.id in runs]
    # Searches name an agent or archive of the caller's own; A's are not found.
    not_found(lambda: b.passages.search(agent_id=agent.id, query="vault code"))
    theirs = make_agent(b, f"b-agent-{uid}", embedding=EMBEDDING)
    b.agents.passages.create(theirs.id, text="nothing to see")
    found = b.passages.search(agent_id=theirs.id, query="vault code")
    assert all(uid not in r.passage.text for r in found)
    # Message search across agents sees only the caller's organization.
    assert not [m for m in b.messages.list() if uid in str(m)]
    not_found(lambda: b.messages.search(query=f"secret-{uid}", agent_id=agent.id))
    assert [m for m in a.messages.list() if f"secret-{uid}" in str(m)]
    assert passage.id in [p.id for p in a.agents.passages.list(agent.id)]


def test_folders_archives_and_conversations_stay_in_their_organization(tenants, uid):
    a, b = tenants
    folder = a.folders.create(name=f"docs-{uid}", embedding=EMBEDDING)
    archive = a.archives.create(name=f"kb-{uid}", embedding=EMBEDDING)
    agent = make_agent(a, f"agent-{uid}", embedding=EMBEDDING)
    conversation = a.conversations.create(agent_id=agent.id)

    assert folder.id not in [f.id for f in b.folders.list()]
    assert archive.id not in [x.id for x in b.archives.list()]
    not_found(lambda: b.folders.retrieve(folder.id))
    not_found(lambda: b.folders.delete(folder.id))
    not_found(lambda: b.archives.retrieve(archive.id))
    not_found(lambda: b.conversations.retrieve(conversation.id))
    # Names are per organization: B may use A's.
    assert b.folders.create(name=f"docs-{uid}", embedding=EMBEDDING).id != folder.id
    assert a.folders.retrieve(folder.id).name == f"docs-{uid}"


def test_an_unknown_key_is_the_default_user_on_an_open_server(server, tenants, uid):
    """Letta's open server checks nothing; the TypeScript SDK always sends some key."""
    a, _ = tenants
    agent = make_agent(a, f"agent-{uid}")
    stranger = server.client(api_key="not-a-key")
    try:
        not_found(lambda: stranger.agents.retrieve(agent.id))
        assert agent.id not in [x.id for x in stranger.agents.list()]
    finally:
        stranger.close()


def test_the_sdk_project_names_the_project_of_what_it_creates(server, http, uid):
    """`Letta(project_id=...)` sends `X-Project-Id`: agents and identities created without a
    project get it, and identity lists are narrowed to it, as in Letta."""
    project = f"proj-{uid}"
    scoped = server.client(project_id=project)
    try:
        agent = make_agent(scoped, f"agent-{uid}")
        assert agent.project_id == project
        other = make_agent(scoped, f"other-{uid}", project_id=f"mine-{uid}")
        assert other.project_id == f"mine-{uid}", "the body's project wins"
        listed = [a.id for a in scoped.agents.list(project_id=project)]
        assert agent.id in listed and other.id not in listed
    finally:
        scoped.close()
    made = http.post(
        "/v1/identities/",
        json={"identifier_key": f"k-{uid}", "name": "n", "identity_type": "user"},
        headers={"X-Project-Id": project},
    )
    assert made.status_code == 200, made.text
    assert made.json()["project_id"] == project
    narrowed = http.get("/v1/identities/", headers={"X-Project-Id": project})
    assert [i["id"] for i in narrowed.json()] == [made.json()["id"]]
