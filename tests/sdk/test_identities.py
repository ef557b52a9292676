"""Identities: CRUD, upsert by key, typed properties, links to agents and blocks, and the
identity filters of agent and block lists.

letta-client 1.12.1 has no identities resource: `/v1/identities/...` is driven over plain
HTTP, while the agent side (``identity_ids`` on create and update, ``include``, the list
filters, ``agents.identities.attach/detach``) and block lists go through the SDK.
"""

from __future__ import annotations

import letta_client
import pytest

from _helpers import assert_error_body, assert_http_error, assert_id, count_agents, make_agent, random_id

# `Identity` in Letta's field order.
IDENTITY_KEYS = [
    "id", "identifier_key", "name", "identity_type", "project_id", "agent_ids", "block_ids",
    "organization_id", "properties",
]

PROPERTIES = [
    {"key": "plan", "value": "pro", "type": "string"},
    {"key": "seats", "value": 3, "type": "number"},
    {"key": "ratio", "value": 0.5, "type": "number"},
    {"key": "active", "value": True, "type": "boolean"},
    {"key": "prefs", "value": {"theme": "dark", "tags": ["a"]}, "type": "json"},
]


def create(http, key: str, **fields) -> dict:
    body = {"identifier_key": key, "name": f"name of {key}", "identity_type": "user", **fields}
    resp = http.post("/v1/identities/", json=body)
    assert resp.status_code == 200, resp.text
    return resp.json()


def identity_ids(http, path: str, **params) -> list[str]:
    resp = http.get(path, params=params)
    assert resp.status_code == 200, resp.text
    return [item["id"] for item in resp.json()]


def count(http) -> int:
    resp = http.get("/v1/identities/count")
    assert resp.status_code == 200, resp.text
    assert isinstance(resp.json(), int), resp.text
    return resp.json()


# -- the identity itself ------------------------------------------------------------------------


def test_identity_crud_round_trip(http, uid):
    before = count(http)
    made = create(http, f"ada-{uid}", properties=PROPERTIES)
    assert list(made) == IDENTITY_KEYS
    assert_id(made["id"], "identity")
    assert (made["identifier_key"], made["name"], made["identity_type"]) == (f"ada-{uid}", f"name of ada-{uid}", "user")
    assert made["project_id"] is None
    assert made["properties"] == PROPERTIES
    assert isinstance(made["properties"][1]["value"], int), "an integer stays an integer"
    assert (made["agent_ids"], made["block_ids"]) == ([], [])
    assert count(http) == before + 1

    iid = made["id"]
    assert http.get(f"/v1/identities/{iid}").json() == made
    assert identity_ids(http, "/v1/identities/", identifier_key=f"ada-{uid}") == [iid]

    patch = {"name": "Ada L.", "identity_type": "org",
             "properties": [{"key": "seats", "value": 10, "type": "number"},
                            {"key": "region", "value": "eu", "type": "string"}]}
    patched = http.patch(f"/v1/identities/{iid}", json=patch)
    assert patched.status_code == 200, patched.text
    got = patched.json()
    assert (got["name"], got["identity_type"], got["identifier_key"]) == ("Ada L.", "org", f"ada-{uid}")
    # A PATCH merges properties by key: the stored key takes the new value in its place.
    assert [p["key"] for p in got["properties"]] == ["plan", "seats", "ratio", "active", "prefs", "region"]
    assert got["properties"][1]["value"] == 10
    assert http.get(f"/v1/identities/{iid}").json() == got

    deleted = http.delete(f"/v1/identities/{iid}")
    assert deleted.status_code == 200 and deleted.json() is None, deleted.text
    assert_http_error(http.get(f"/v1/identities/{iid}"), 404)
    assert count(http) == before


def test_a_key_is_unique_within_its_project(http, uid):
    key = f"dup-{uid}"
    first = create(http, key)
    taken = http.post("/v1/identities/", json={"identifier_key": key, "name": "again", "identity_type": "org"})
    assert_http_error(taken, 409)
    assert key in taken.json()["detail"]
    in_project = create(http, key, project_id=f"proj-{uid}")
    assert in_project["project_id"] == f"proj-{uid}"
    assert_http_error(http.post("/v1/identities/", json={
        "identifier_key": key, "name": "x", "identity_type": "user", "project_id": f"proj-{uid}"}), 409)

    other = create(http, f"other-{uid}")
    clash = http.patch(f"/v1/identities/{other['id']}", json={"identifier_key": key, "name": "renamed"})
    assert_http_error(clash, 409)
    assert http.get(f"/v1/identities/{other['id']}").json() == other, "a refused PATCH changes nothing"
    assert http.get(f"/v1/identities/{first['id']}").json() == first


@pytest.mark.parametrize(
    "prop",
    [
        {"key": "age", "value": "36", "type": "number"},
        {"key": "age", "value": True, "type": "number"},
        {"key": "name", "value": 5, "type": "string"},
        {"key": "ok", "value": "true", "type": "boolean"},
        {"key": "j", "value": [1, 2], "type": "json"},
        {"key": "j", "value": "{}", "type": "json"},
        {"key": "x", "value": 1, "type": "integer"},
        {"key": "x", "value": None, "type": "string"},
    ],
)
def test_a_property_value_must_match_its_type(http, uid, prop):
    key = f"typed-{uid}"
    resp = http.post("/v1/identities/", json={
        "identifier_key": key, "name": "n", "identity_type": "user", "properties": [prop]})
    assert_http_error(resp, 422)
    detail = resp.json()["detail"]
    assert isinstance(detail, list) and detail[0]["loc"][:2] == ["body", "properties"], detail
    assert identity_ids(http, "/v1/identities/", identifier_key=key) == [], "nothing was created"

    made = create(http, key, properties=[{"key": "keep", "value": "me", "type": "string"}])
    assert_http_error(http.put(f"/v1/identities/{made['id']}/properties", json=[prop]), 422)
    assert_http_error(http.patch(f"/v1/identities/{made['id']}", json={"properties": [prop]}), 422)
    assert http.get(f"/v1/identities/{made['id']}").json()["properties"] == made["properties"]


def test_put_properties_replaces_the_whole_list(http, uid):
    made = create(http, f"props-{uid}", properties=PROPERTIES)
    new = [{"key": "only", "value": False, "type": "boolean"}]
    resp = http.put(f"/v1/identities/{made['id']}/properties", json=new)
    assert resp.status_code == 200, resp.text
    assert resp.json()["properties"] == new
    assert http.get(f"/v1/identities/{made['id']}").json()["properties"] == new
    cleared = http.put(f"/v1/identities/{made['id']}/properties", json=[])
    assert cleared.json()["properties"] == []


def test_upsert_creates_then_replaces_by_key(client, http, uid):
    key = f"up-{uid}"
    before = count(http)
    a1, a2 = make_agent(client, f"up1-{uid}"), make_agent(client, f"up2-{uid}")
    first = http.put("/v1/identities/", json={
        "identifier_key": key, "name": "First", "identity_type": "user",
        "properties": PROPERTIES[:2], "agent_ids": [a1.id]})
    assert first.status_code == 200, first.text
    made = first.json()
    assert_id(made["id"], "identity")
    assert count(http) == before + 1

    second = http.put("/v1/identities/", json={
        "identifier_key": key, "name": "Second", "identity_type": "org", "agent_ids": [a2.id]})
    assert second.status_code == 200, second.text
    got = second.json()
    assert got["id"] == made["id"] and count(http) == before + 1
    assert (got["name"], got["identity_type"]) == ("Second", "org")
    assert got["properties"] == PROPERTIES[:2], "properties not given are kept"
    assert identity_ids(http, f"/v1/identities/{made['id']}/agents") == [a2.id], "given agents replace the links"

    third = http.put("/v1/identities/", json={
        "identifier_key": key, "name": "Third", "identity_type": "org", "properties": []}).json()
    assert third["properties"] == []
    assert identity_ids(http, f"/v1/identities/{made['id']}/agents") == [a2.id]

    elsewhere = http.put("/v1/identities/", json={
        "identifier_key": key, "name": "P", "identity_type": "user", "project_id": f"p-{uid}"}).json()
    assert elsewhere["id"] != made["id"] and elsewhere["project_id"] == f"p-{uid}"


def test_unknown_agents_or_blocks_refuse_the_whole_write(client, http, uid):
    agent = make_agent(client, f"known-{uid}")
    key = f"links-{uid}"
    for body in ({"agent_ids": [agent.id, random_id("agent")]}, {"block_ids": [random_id("block")]}):
        resp = http.post("/v1/identities/", json={
            "identifier_key": key, "name": "n", "identity_type": "user", **body})
        assert_http_error(resp, 404)
    assert identity_ids(http, "/v1/identities/", identifier_key=key) == []
    assert_http_error(http.post("/v1/identities/", json={
        "identifier_key": key, "name": "n", "identity_type": "user", "agent_ids": ["agent-1"]}), 422)

    made = create(http, key)
    resp = http.patch(f"/v1/identities/{made['id']}", json={"name": "x", "agent_ids": [random_id("agent")]})
    assert_http_error(resp, 404)
    assert http.get(f"/v1/identities/{made['id']}").json()["name"] == made["name"]


def test_identity_lists_filter_and_page(http, uid):
    project = f"lp-{uid}"
    made = [
        create(http, f"l1-{uid}", name=f"Ada Lovelace {uid}", project_id=project),
        create(http, f"l2-{uid}", name=f"Acme {uid}", identity_type="org", project_id=project),
        create(http, f"l3-{uid}", name=f"lovelace FAN {uid}", project_id=project),
    ]
    ids = [m["id"] for m in made]
    listed = lambda **p: identity_ids(http, "/v1/identities/", project_id=project, **p)  # noqa: E731
    assert listed() == ids[::-1], "newest first by default"
    assert listed(order="asc") == ids
    assert listed(name="LOVELACE", order="asc") == [ids[0], ids[2]]
    assert listed(identity_type="org") == [ids[1]]
    assert listed(identifier_key=f"l3-{uid}") == [ids[2]]
    assert listed(limit=2) == [ids[2], ids[1]]
    assert listed(after=ids[2]) == [ids[1], ids[0]]
    assert listed(before=ids[0]) == [ids[2], ids[1]]
    assert listed(order="asc", after=ids[0], limit=1) == [ids[1]]
    assert_http_error(http.get("/v1/identities/", params={"after": random_id("identity")}), 404)
    assert_http_error(http.get("/v1/identities/", params={"identity_type": "team"}), 422)


def test_unknown_and_malformed_identity_ids(client, http):
    missing = random_id("identity")
    for method, path, body in [
        ("GET", f"/v1/identities/{missing}", None),
        ("PATCH", f"/v1/identities/{missing}", {"name": "x"}),
        ("DELETE", f"/v1/identities/{missing}", None),
        ("PUT", f"/v1/identities/{missing}/properties", []),
        ("GET", f"/v1/identities/{missing}/agents", None),
        ("GET", f"/v1/identities/{missing}/blocks", None),
    ]:
        assert_http_error(http.request(method, path, json=body), 404)
    assert_http_error(http.get("/v1/identities/identity-123"), 422)
    assert_http_error(http.get(f"/v1/identities/{random_id('agent')}"), 422)


# -- agents and blocks --------------------------------------------------------------------------


def test_agents_take_identity_ids_on_create_and_update(client, http, uid):
    one, two = create(http, f"a1-{uid}"), create(http, f"a2-{uid}")
    agent = make_agent(client, f"ident-{uid}", identity_ids=[two["id"], one["id"]])
    assert agent.identity_ids == [two["id"], one["id"]]
    assert [i.identifier_key for i in agent.identities] == [f"a2-{uid}", f"a1-{uid}"]
    assert agent.identities[0].id == two["id"]

    # 1.x SDK reads load no relationships unless asked.
    plain = client.agents.retrieve(agent.id)
    assert (plain.identity_ids, plain.identities) == ([], [])
    full = client.agents.retrieve(agent.id, include=["agent.identities"])
    assert full.identity_ids == [two["id"], one["id"]]
    assert [i.name for i in full.identities] == [two["name"], one["name"]]

    updated = client.agents.update(agent.id, identity_ids=[one["id"]])
    assert updated.identity_ids == [one["id"]]
    assert identity_ids(http, f"/v1/identities/{two['id']}/agents") == []
    assert identity_ids(http, f"/v1/identities/{one['id']}/agents") == [agent.id]
    kept = client.agents.update(agent.id, description="other field")
    assert kept.identity_ids == [one["id"]], "a PATCH without identity_ids keeps them"

    with pytest.raises(letta_client.NotFoundError) as exc:
        client.agents.update(agent.id, name=f"renamed-{uid}", identity_ids=[random_id("identity")])
    assert_error_body(exc.value, 404)
    after = client.agents.retrieve(agent.id, include=["agent.identities"])
    assert (after.name, after.identity_ids) == (f"ident-{uid}", [one["id"]]), "the refused PATCH wrote nothing"

    with pytest.raises(letta_client.NotFoundError):
        make_agent(client, f"never-{uid}", identity_ids=[random_id("identity")])
    assert list(client.agents.list(name=f"never-{uid}")) == []
    with pytest.raises(letta_client.UnprocessableEntityError):
        make_agent(client, f"never-{uid}", identity_ids=["identity-1"])


def test_agent_lists_filter_by_identity(client, http, uid):
    ada, bob = create(http, f"fa-{uid}"), create(http, f"fb-{uid}")
    a1 = make_agent(client, f"f1-{uid}", identity_ids=[ada["id"]])
    a2 = make_agent(client, f"f2-{uid}", identity_ids=[ada["id"], bob["id"]])
    a3 = make_agent(client, f"f3-{uid}", identity_ids=[bob["id"]])
    make_agent(client, f"f4-{uid}")

    listed = lambda **f: {a.id for a in client.agents.list(**f)}  # noqa: E731
    assert listed(identity_id=ada["id"]) == {a1.id, a2.id}
    assert listed(identifier_keys=[f"fb-{uid}"]) == {a2.id, a3.id}
    assert listed(identifier_keys=[f"fa-{uid}", f"fb-{uid}"]) == {a1.id, a2.id, a3.id}
    assert listed(identifier_keys=[f"nobody-{uid}"]) == set()
    assert count_agents(http, identity_id=ada["id"]) == 2
    assert count_agents(http, identifier_keys=[f"fa-{uid}", f"fb-{uid}"]) == 3

    page = client.agents.list(identity_id=ada["id"], include=["agent.identities"], order="asc")
    assert [a.id for a in page] == [a1.id, a2.id]
    assert [i.id for i in page.items[1].identities] == [ada["id"], bob["id"]]

    # As a 1.x SDK asks: no relationships unless included.
    sdk = {"user-agent": "letta-client/1.12.1"}
    path = f"/v1/identities/{bob['id']}/agents"
    agents = http.get(path, params={"order": "asc"}, headers=sdk)
    assert [a["id"] for a in agents.json()] == [a2.id, a3.id]
    assert (agents.json()[0]["identity_ids"], agents.json()[0]["identities"]) == ([], [])
    first = http.get(path, params={"limit": 1, "include": "agent.identities"}, headers=sdk)
    assert [a["id"] for a in first.json()] == [a3.id]
    assert first.json()[0]["identity_ids"] == [bob["id"]]
    assert [i["identifier_key"] for i in first.json()[0]["identities"]] == [f"fb-{uid}"]


def test_attach_and_detach_identity_to_agent(client, http, uid):
    made = create(http, f"att-{uid}")
    agent = make_agent(client, f"att-{uid}")
    assert client.agents.identities.attach(made["id"], agent_id=agent.id) is None
    assert client.agents.identities.attach(made["id"], agent_id=agent.id) is None
    assert identity_ids(http, f"/v1/identities/{made['id']}/agents") == [agent.id]
    assert client.agents.retrieve(agent.id, include=["agent.identities"]).identity_ids == [made["id"]]

    assert client.agents.identities.detach(made["id"], agent_id=agent.id) is None
    assert client.agents.identities.detach(made["id"], agent_id=agent.id) is None
    assert identity_ids(http, f"/v1/identities/{made['id']}/agents") == []

    with pytest.raises(letta_client.NotFoundError):
        client.agents.identities.attach(random_id("identity"), agent_id=agent.id)
    with pytest.raises(letta_client.NotFoundError):
        client.agents.identities.attach(made["id"], agent_id=random_id("agent"))

    # A PATCH of the identity links agents in addition to those it has, as Letta does.
    other = make_agent(client, f"att2-{uid}")
    client.agents.identities.attach(made["id"], agent_id=agent.id)
    http.patch(f"/v1/identities/{made['id']}", json={"agent_ids": [other.id]}).raise_for_status()
    assert set(identity_ids(http, f"/v1/identities/{made['id']}/agents")) == {agent.id, other.id}


def test_block_identity_links_and_filters(client, http, uid):
    ada, bob = create(http, f"ba-{uid}"), create(http, f"bb-{uid}")
    b1 = client.blocks.create(label=f"b1_{uid}", value="one")
    b2 = client.blocks.create(label=f"b2_{uid}", value="two")

    resp = http.patch(f"/v1/blocks/{b1.id}/identities/attach/{ada['id']}")
    assert resp.status_code == 200, resp.text
    assert (resp.json()["id"], resp.json()["value"]) == (b1.id, "one")
    http.patch(f"/v1/blocks/{b2.id}/identities/attach/{bob['id']}").raise_for_status()
    http.patch(f"/v1/blocks/{b1.id}/identities/attach/{bob['id']}").raise_for_status()

    assert [b.id for b in client.blocks.list(identity_id=ada["id"])] == [b1.id]
    assert [b.id for b in client.blocks.list(identifier_keys=[f"bb-{uid}"])] == [b1.id, b2.id]
    assert list(client.blocks.list(identifier_keys=[f"nobody-{uid}"])) == []
    assert identity_ids(http, f"/v1/identities/{bob['id']}/blocks") == [b2.id, b1.id], "newest first"
    assert identity_ids(http, f"/v1/identities/{bob['id']}/blocks", order="asc", limit=1) == [b1.id]

    detached = http.patch(f"/v1/blocks/{b1.id}/identities/detach/{bob['id']}")
    assert detached.status_code == 200 and detached.json()["id"] == b1.id
    assert identity_ids(http, f"/v1/identities/{bob['id']}/blocks") == [b2.id]
    assert_http_error(http.patch(f"/v1/blocks/{b1.id}/identities/attach/{random_id('identity')}"), 404)
    assert_http_error(http.patch(f"/v1/blocks/{random_id('block')}/identities/attach/{ada['id']}"), 404)


def test_deleting_either_end_removes_only_the_links(client, http, uid):
    made = create(http, f"del-{uid}")
    gone, kept = make_agent(client, f"gone-{uid}"), make_agent(client, f"kept-{uid}")
    block = client.blocks.create(label=f"del_{uid}", value="v")
    for agent in (gone, kept):
        client.agents.identities.attach(made["id"], agent_id=agent.id)
    http.patch(f"/v1/blocks/{block.id}/identities/attach/{made['id']}").raise_for_status()

    client.agents.delete(gone.id)
    client.blocks.delete(block.id)
    assert identity_ids(http, f"/v1/identities/{made['id']}/agents") == [kept.id]
    assert identity_ids(http, f"/v1/identities/{made['id']}/blocks") == []

    http.delete(f"/v1/identities/{made['id']}").raise_for_status()
    survivor = client.agents.retrieve(kept.id, include=["agent.identities"])
    assert (survivor.identity_ids, survivor.identities) == ([], [])
    assert list(client.agents.list(identity_id=made["id"])) == []
