"""Archival memory through letta-client 1.12.1: an agent's passages
(`/v1/agents/{id}/archival-memory...`), shareable archives (`/v1/archives...`,
`/v1/agents/{id}/archives/...`), passage search (`POST /v1/passages/search`), message search
(`POST /v1/messages/search`) and the agent's own search tools.

Search is hybrid: BM25 full text with English stemming, plus vectors when the archive (or agent)
has an embedding model. The fake LLM's embeddings are deterministic hashes of the whole input, so
they carry no meaning: identical texts get identical vectors, nothing else is "similar". Tests
that need a passage to rank first by vector therefore query with that passage's exact text.

Archive names are not unique and the server is shared across the session, so every name carries
the `uid` suffix. Tests that script the fake LLM run serially against the shared server.
"""

from __future__ import annotations

import itertools
import time
from datetime import datetime, timedelta, timezone
from typing import List

import letta_client
import pytest
from letta_client.types import AgentState, Archive, Passage

from _helpers import (
    assert_error_body,
    assert_id,
    llm_messages,
    llm_text,
    make_agent,
    of_type,
    random_id,
    tool_returns,
)

EMBEDDING = "openai/text-embedding-3-small"
ORG_ID = "org-00000000-0000-4000-8000-000000000000"


def passage_ids(passages) -> list[str]:
    return [p.id for p in passages]


def listed(client, agent_id: str, **kwargs) -> list[str]:
    """Ids of `GET /v1/agents/{id}/archival-memory` (a bare list, not a page)."""
    return passage_ids(client.agents.passages.list(agent_id, **kwargs))


def insert(client, agent_id: str, text: str, **kwargs) -> Passage:
    """One agent insert; the route answers a list, which holds exactly one passage here."""
    created = client.agents.passages.create(agent_id, text=text, **kwargs)
    assert isinstance(created, list) and len(created) == 1, created
    assert isinstance(created[0], Passage)
    return created[0]


def search_contents(client, agent_id: str, query: str, **kwargs) -> list[str]:
    return [r.content for r in client.agents.passages.search(agent_id, query=query, **kwargs).results]


def archive_agents(client, archive_id: str, **params) -> list[AgentState]:
    """`GET /v1/archives/{id}/agents` (letta-client 1.12.1 has no method for it)."""
    return client.get(
        f"/v1/archives/{archive_id}/agents",
        cast_to=List[AgentState],
        options={"params": params} if params else {},
    )


def agent_archive_ids(client, agent_id: str) -> list[str]:
    return [a.id for a in client.archives.list(agent_id=agent_id, limit=50).items]


def system_text(fake) -> str:
    """The system message of the fake's latest chat request."""
    systems = llm_messages(fake.requests()[-1], "system")
    assert len(systems) == 1
    return llm_text(systems[0])


@pytest.fixture
def agent(client, uid):
    return make_agent(client, f"arch-{uid}")


# -- an agent's archival memory -------------------------------------------------------------------


def test_first_insert_creates_the_agents_default_archive(client, agent, uid):
    assert list(client.archives.list(agent_id=agent.id)) == [], "no archive before the first insert"
    assert client.agents.passages.list(agent.id) == []

    first = insert(client, agent.id, f"Ada likes tea {uid}", tags=["drinks", f"t-{uid}"])
    assert_id(first.id, "passage")
    assert_id(first.archive_id, "archive")
    assert first.text == f"Ada likes tea {uid}"
    assert first.tags == ["drinks", f"t-{uid}"]
    assert first.created_at is not None and first.created_at.tzinfo is not None
    assert first.is_deleted is False
    # no embedding model on this agent: no vector is stored
    assert first.embedding is None and first.embedding_config is None

    second = insert(client, agent.id, f"Ada dislikes coffee {uid}")
    assert second.archive_id == first.archive_id, "later inserts go to the same default archive"
    assert second.tags == []
    assert second.id != first.id

    archives = list(client.archives.list(agent_id=agent.id))
    assert [a.id for a in archives] == [first.archive_id]
    default = archives[0]
    assert isinstance(default, Archive)
    assert default.vector_db_provider == "native"
    assert default.organization_id == ORG_ID  # not in the SDK model; kept as an extra field
    assert default.embedding_config is None
    assert agent.name in default.name
    assert client.archives.retrieve(default.id).id == default.id
    assert [a.id for a in archive_agents(client, default.id)] == [agent.id]


def test_list_orders_pages_and_filters(client, agent, uid):
    ids = [insert(client, agent.id, f"note {i} about Widgets {uid}").id for i in range(5)]

    assert listed(client, agent.id) == ids, "oldest first by default"
    assert listed(client, agent.id, ascending=True) == ids
    assert listed(client, agent.id, ascending=False) == ids[::-1]
    assert listed(client, agent.id, limit=2) == ids[:2]
    assert listed(client, agent.id, limit=2, ascending=False) == ids[::-1][:2]
    # cursors move along the listing direction
    assert listed(client, agent.id, after=ids[1]) == ids[2:]
    assert listed(client, agent.id, before=ids[3]) == ids[:3]
    assert listed(client, agent.id, after=ids[0], before=ids[4]) == ids[1:4]
    assert listed(client, agent.id, after=ids[1], limit=2) == ids[2:4]
    assert listed(client, agent.id, after=ids[3], ascending=False) == ids[:3][::-1]
    # search: a case-insensitive substring filter
    assert listed(client, agent.id, search="NOTE 3") == [ids[3]]
    assert listed(client, agent.id, search="widgets") == ids
    assert listed(client, agent.id, search=f"nowhere-{uid}") == []


def test_delete_passage_is_reflected_immediately(client, agent, uid):
    keep = insert(client, agent.id, f"the blue door code is {uid}")
    gone = insert(client, agent.id, f"the red door code is {uid}")
    assert set(search_contents(client, agent.id, "door code")) == {keep.text, gone.text}

    client.agents.passages.delete(gone.id, agent_id=agent.id)

    assert listed(client, agent.id) == [keep.id]
    assert search_contents(client, agent.id, "door code") == [keep.text]
    assert [r.passage.id for r in client.passages.search(agent_id=agent.id, query="red door")] == [keep.id]
    with pytest.raises(letta_client.NotFoundError) as ei:
        client.agents.passages.delete(gone.id, agent_id=agent.id)
    assert_error_body(ei.value, 404)

    # another agent cannot delete this agent's passage
    other = make_agent(client, f"other-{uid}")
    insert(client, other.id, "a passage of its own")
    with pytest.raises(letta_client.NotFoundError):
        client.agents.passages.delete(keep.id, agent_id=other.id)
    assert listed(client, agent.id) == [keep.id]


def test_full_text_search_stems_and_ranks(client, agent, uid):
    cat = insert(client, agent.id, f"My cat sleeps on the sofa {uid}", tags=["pets"])
    insert(client, agent.id, "The stock market fell sharply today")
    insert(client, agent.id, "Dogs bark at the postman")

    resp = client.agents.passages.search(agent.id, query="sleeping cats")
    assert resp.count == len(resp.results) == 1, resp
    hit = resp.results[0]
    assert hit.id == cat.id
    assert hit.content == cat.text
    assert hit.tags == ["pets"]
    assert isinstance(hit.timestamp, str) and hit.timestamp.startswith(str(cat.created_at.year))
    # without an embedding model the ranking is full text only
    rel = hit.relevance  # not in the SDK model: an extra field, as a dict
    assert rel["search_mode"] == "full_text", rel
    assert rel["fts_rank"] == 1
    assert rel["rrf_score"] > 0
    assert "vector_rank" not in rel or rel["vector_rank"] is None

    # the better full-text match ranks first; unrelated passages never appear
    insert(client, agent.id, f"cats cats cats: the cat house of {uid}")
    contents = search_contents(client, agent.id, "cat")
    assert len(contents) == 2 and contents[0].startswith("cats cats cats"), contents
    assert search_contents(client, agent.id, "xylophone quartz") == []
    assert len(search_contents(client, agent.id, "cat", top_k=1)) == 1


def test_tags_filter_before_the_limit(client, agent, uid):
    # the untagged passage is the best text match; tags must filter before top_k cuts
    best = insert(client, agent.id, f"apple apple apple pie {uid}")
    both = insert(client, agent.id, f"an apple tart {uid}", tags=["food", "sweet"])
    food = insert(client, agent.id, f"one apple {uid}", tags=["food"])

    assert search_contents(client, agent.id, "apple", top_k=1) == [best.text]
    assert search_contents(client, agent.id, "apple", tags=["food"], top_k=1) in ([both.text], [food.text])
    any_mode = set(search_contents(client, agent.id, "apple", tags=["food", "sweet"], tag_match_mode="any"))
    assert any_mode == {both.text, food.text}
    all_mode = client.agents.passages.search(agent.id, query="apple", tags=["food", "sweet"], tag_match_mode="all")
    assert [r.id for r in all_mode.results] == [both.id]
    assert all_mode.results[0].tags == ["food", "sweet"]
    assert search_contents(client, agent.id, "apple", tags=[f"none-{uid}"]) == []

    with pytest.raises(letta_client.UnprocessableEntityError) as ei:
        client.agents.passages.search(agent.id, query="apple", tag_match_mode="some")  # type: ignore[arg-type]
    assert_error_body(ei.value, 422)


def test_date_window_uses_the_given_created_at(client, agent, uid):
    old = insert(client, agent.id, f"ancient lore of {uid}", created_at="2020-01-01T12:00:00Z")
    assert old.created_at == datetime(2020, 1, 1, 12, tzinfo=timezone.utc)
    new = insert(client, agent.id, f"modern lore of {uid}")

    assert set(search_contents(client, agent.id, "lore")) == {old.text, new.text}
    assert search_contents(client, agent.id, "lore", end_datetime="2021-01-01T00:00:00Z") == [old.text]
    assert search_contents(client, agent.id, "lore", start_datetime="2021-01-01T00:00:00Z") == [new.text]
    window = client.passages.search(
        agent_id=agent.id, query="lore", start_date="2019-12-31T00:00:00Z", end_date="2020-01-02T00:00:00Z"
    )
    assert [r.passage.id for r in window] == [old.id]


def test_hybrid_search_with_an_embedding_model(client, uid):
    agent = make_agent(client, f"emb-{uid}", embedding=EMBEDDING)
    assert agent.embedding_config is not None and agent.embedding_config.handle == EMBEDDING

    texts = [f"red apple pie recipe {uid}", f"red apple tree in the garden {uid}", f"green apple sour {uid}"]
    stored = [insert(client, agent.id, t) for t in texts]
    for p in stored:
        assert p.embedding is not None and len(p.embedding) == agent.embedding_config.embedding_dim
        assert p.embedding_config is not None and p.embedding_config.handle == EMBEDDING
    archive = client.archives.retrieve(stored[0].archive_id)
    assert archive.embedding_config is not None and archive.embedding_config.handle == EMBEDDING

    # the exact text is the nearest vector and the best full-text match: first on both legs
    resp = client.agents.passages.search(agent.id, query=texts[1])
    assert resp.results[0].id == stored[1].id, resp
    rel = resp.results[0].relevance
    assert rel["search_mode"] == "hybrid", rel
    assert rel["vector_rank"] == 1 and rel["fts_rank"] == 1, rel
    assert rel["rrf_score"] > max(r.relevance["rrf_score"] for r in resp.results[1:])

    # `POST /v1/passages/search` ranks the same way over the archive
    found = client.passages.search(archive_id=archive.id, query=texts[2])
    assert found[0].passage.id == stored[2].id
    assert found[0].metadata["search_mode"] == "hybrid"
    assert found[0].score == pytest.approx(found[0].metadata["rrf_score"])


def test_unknown_agent_is_404(client):
    missing = random_id("agent")
    calls = [
        lambda: client.agents.passages.list(missing),
        lambda: client.agents.passages.create(missing, text="x"),
        lambda: client.agents.passages.search(missing, query="x"),
        lambda: client.archives.list(agent_id=missing),
        lambda: client.passages.search(agent_id=missing, query="x"),
    ]
    for call in calls:
        with pytest.raises(letta_client.NotFoundError) as ei:
            call()
        assert_error_body(ei.value, 404)
        assert missing in str(ei.value.body["detail"])


# -- archives -------------------------------------------------------------------------------------


def test_create_and_retrieve_archive(client, uid):
    plain = client.archives.create(name=f"kb-{uid}", description="Company handbook")
    assert isinstance(plain, Archive)
    assert_id(plain.id, "archive")
    assert plain.name == f"kb-{uid}"
    assert plain.description == "Company handbook"
    assert plain.vector_db_provider == "native"
    assert plain.organization_id == ORG_ID
    assert plain.embedding_config is None
    assert plain.created_at is not None

    got = client.archives.retrieve(plain.id)
    assert (got.id, got.name, got.description) == (plain.id, plain.name, plain.description)
    assert got.created_at == plain.created_at

    with_model = client.archives.create(name=f"kb-emb-{uid}", embedding=EMBEDDING)
    assert with_model.embedding_config is not None
    assert with_model.embedding_config.handle == EMBEDDING
    assert with_model.embedding_config.embedding_model == "text-embedding-3-small"
    # a full embedding_config is taken as given
    as_config = client.archives.create(
        name=f"kb-cfg-{uid}", embedding_config=with_model.embedding_config.model_dump(exclude_none=True)
    )
    assert as_config.embedding_config.handle == EMBEDDING
    assert as_config.embedding_config.embedding_dim == with_model.embedding_config.embedding_dim


def test_list_archives_filters_and_pages(client, uid):
    agent = make_agent(client, f"lister-{uid}")
    made = [client.archives.create(name=f"page-{uid}-{i}") for i in range(3)]
    for a in made:
        client.agents.archives.attach(a.id, agent_id=agent.id)
    ids = [a.id for a in made]

    # name: exact match
    assert [a.id for a in client.archives.list(name=f"page-{uid}-1")] == [ids[1]]
    assert list(client.archives.list(name=f"page-{uid}")) == []
    # agent_id: the archives the agent reads, newest first by default
    assert agent_archive_ids(client, agent.id) == ids[::-1]
    assert [a.id for a in client.archives.list(agent_id=agent.id, order="asc")] == ids
    # cursor pagination
    page = client.archives.list(agent_id=agent.id, order="asc", limit=1, after=ids[0])
    assert [a.id for a in page.items] == [ids[1]]
    page = client.archives.list(agent_id=agent.id, order="asc", limit=2)
    assert [a.id for a in page.items] == ids[:2]
    # the SDK's auto-pagination walks every page (bounded, in case a cursor were ignored)
    walked = [a.id for a in itertools.islice(client.archives.list(agent_id=agent.id, order="asc", limit=1), 10)]
    assert walked == ids
    # unfiltered: ours are in the organization-wide listing
    everything = {a.id for a in itertools.islice(client.archives.list(limit=50), 5000)}
    assert set(ids) <= everything


def test_modify_archive(client, uid):
    archive = client.archives.create(name=f"mod-{uid}", description="before")

    renamed = client.archives.update(archive.id, name=f"mod2-{uid}")
    assert renamed.id == archive.id
    assert renamed.name == f"mod2-{uid}"
    assert renamed.description == "before", "absent fields stay as they are"
    assert renamed.updated_at >= archive.updated_at

    described = client.archives.update(archive.id, description="after")
    assert (described.name, described.description) == (f"mod2-{uid}", "after")
    got = client.archives.retrieve(archive.id)
    assert (got.name, got.description) == (f"mod2-{uid}", "after")
    assert [a.id for a in client.archives.list(name=f"mod2-{uid}")] == [archive.id]
    assert list(client.archives.list(name=f"mod-{uid}")) == []

    with pytest.raises(letta_client.UnprocessableEntityError) as ei:
        client.archives.update(archive.id, name="")
    assert_error_body(ei.value, 422)
    assert client.archives.retrieve(archive.id).name == f"mod2-{uid}"


def test_archive_validation_errors(client, uid):
    for name in ("", "   "):
        with pytest.raises(letta_client.UnprocessableEntityError) as ei:
            client.archives.create(name=name)
        assert_error_body(ei.value, 422)
    archive = client.archives.create(name=f"val-{uid}")
    with pytest.raises(letta_client.UnprocessableEntityError) as ei:
        client.archives.passages.create(archive.id, text="")
    assert_error_body(ei.value, 422)
    with pytest.raises(letta_client.UnprocessableEntityError) as ei:
        client.archives.passages.create_many(archive.id, passages=[])
    assert_error_body(ei.value, 422)
    # a batch is all or nothing
    with pytest.raises(letta_client.UnprocessableEntityError):
        client.archives.passages.create_many(archive.id, passages=[{"text": f"fine {uid}"}, {"text": " "}])
    assert client.passages.search(archive_id=archive.id, query="fine") == []


def test_unknown_archive_and_passage_ids_are_404(client, agent, uid):
    missing = random_id("archive")
    calls = [
        lambda: client.archives.retrieve(missing),
        lambda: client.archives.update(missing, name="x"),
        lambda: client.archives.delete(missing),
        lambda: client.archives.passages.create(missing, text="x"),
        lambda: client.archives.passages.create_many(missing, passages=[{"text": "x"}]),
        lambda: client.archives.passages.delete(random_id("passage"), archive_id=missing),
        lambda: archive_agents(client, missing),
        lambda: client.agents.archives.attach(missing, agent_id=agent.id),
        lambda: client.passages.search(archive_id=missing, query="x"),
    ]
    for call in calls:
        with pytest.raises(letta_client.NotFoundError) as ei:
            call()
        assert_error_body(ei.value, 404)
    archive = client.archives.create(name=f"empty-{uid}")
    with pytest.raises(letta_client.NotFoundError) as ei:
        client.archives.passages.delete(random_id("passage"), archive_id=archive.id)
    assert_error_body(ei.value, 404)
    with pytest.raises(letta_client.NotFoundError):
        client.agents.archives.attach(archive.id, agent_id=random_id("agent"))


def test_archive_passages_create_batch_and_delete(client, uid):
    archive = client.archives.create(name=f"pass-{uid}")

    one = client.archives.passages.create(
        archive.id, text=f"Alpha bravo charlie {uid}", tags=["nato"], metadata={"source": "manual", "n": 1}
    )
    assert isinstance(one, Passage)
    assert_id(one.id, "passage")
    assert one.archive_id == archive.id
    assert one.tags == ["nato"]
    assert one.metadata == {"source": "manual", "n": 1}

    batch = client.archives.passages.create_many(
        archive.id,
        passages=[
            {"text": f"delta echo {uid}"},
            {"text": f"foxtrot golf {uid}", "tags": ["nato", "late"], "created_at": "2019-05-05T10:00:00Z"},
        ],
    )
    assert isinstance(batch, list) and [type(p) for p in batch] == [Passage, Passage]
    assert [p.text for p in batch] == [f"delta echo {uid}", f"foxtrot golf {uid}"]
    assert all(p.archive_id == archive.id for p in batch)
    assert len({one.id, *passage_ids(batch)}) == 3
    assert batch[1].created_at == datetime(2019, 5, 5, 10, tzinfo=timezone.utc)

    found = client.passages.search(archive_id=archive.id, query="echo")
    assert [r.passage.id for r in found] == [batch[0].id]
    assert found[0].passage.text == f"delta echo {uid}"
    assert found[0].score > 0
    assert found[0].metadata["search_mode"] == "full_text"
    assert {r.passage.id for r in client.passages.search(archive_id=archive.id, query=uid)} == {
        one.id,
        *passage_ids(batch),
    }

    raw = client.archives.passages.with_raw_response.delete(batch[0].id, archive_id=archive.id)
    assert raw.status_code == 204
    assert raw.parse() is None
    assert client.passages.search(archive_id=archive.id, query="echo") == []
    with pytest.raises(letta_client.NotFoundError) as ei:
        client.archives.passages.delete(batch[0].id, archive_id=archive.id)
    assert_error_body(ei.value, 404)

    # a passage is only deleted through its own archive
    elsewhere = client.archives.create(name=f"pass-other-{uid}")
    with pytest.raises(letta_client.NotFoundError):
        client.archives.passages.delete(one.id, archive_id=elsewhere.id)
    assert [r.passage.id for r in client.passages.search(archive_id=archive.id, query="bravo")] == [one.id]


def test_shared_archive_is_read_by_several_agents(client, uid):
    a = make_agent(client, f"share-a-{uid}")
    b = make_agent(client, f"share-b-{uid}")
    own = insert(client, b.id, f"b keeps its own wifi notes {uid}")  # b's default archive first
    shared = client.archives.create(name=f"shared-{uid}")
    fact = client.archives.passages.create(shared.id, text=f"the office wifi password is zebra {uid}")

    assert client.agents.archives.attach(shared.id, agent_id=a.id) is None
    assert client.agents.archives.attach(shared.id, agent_id=b.id) is None
    assert client.agents.archives.attach(shared.id, agent_id=b.id) is None  # idempotent

    assert sorted(x.id for x in archive_agents(client, shared.id)) == sorted([a.id, b.id])
    assert all(isinstance(x, AgentState) for x in archive_agents(client, shared.id))
    assert agent_archive_ids(client, a.id) == [shared.id]
    assert set(agent_archive_ids(client, b.id)) == {shared.id, own.archive_id}
    # both read it: list, search, passage search over the agent
    assert listed(client, a.id) == [fact.id]
    assert set(listed(client, b.id)) == {fact.id, own.id}
    assert search_contents(client, a.id, "wifi password") == [fact.text]
    assert set(search_contents(client, b.id, "wifi")) == {fact.text, own.text}
    assert {r.passage.id for r in client.passages.search(agent_id=b.id, query="wifi")} == {fact.id, own.id}

    # a new passage in the archive is seen by both at once
    later = client.archives.passages.create(shared.id, text=f"the guest wifi is open {uid}")
    for agent in (a, b):
        assert later.text in search_contents(client, agent.id, "guest wifi")

    # detach: b no longer reads it, a still does
    assert client.agents.archives.detach(shared.id, agent_id=b.id) is None
    assert [x.id for x in archive_agents(client, shared.id)] == [a.id]
    assert agent_archive_ids(client, b.id) == [own.archive_id]
    assert listed(client, b.id) == [own.id]
    assert search_contents(client, b.id, "wifi") == [own.text]
    assert set(search_contents(client, a.id, "wifi")) == {fact.text, later.text}


def test_delete_archive_removes_its_passages_everywhere(client, uid):
    a = make_agent(client, f"del-a-{uid}")
    b = make_agent(client, f"del-b-{uid}")
    archive = client.archives.create(name=f"doomed-{uid}")
    client.archives.passages.create_many(
        archive.id, passages=[{"text": f"doomed fact one {uid}"}, {"text": f"doomed fact two {uid}"}]
    )
    for agent in (a, b):
        client.agents.archives.attach(archive.id, agent_id=agent.id)
        assert len(search_contents(client, agent.id, "doomed fact")) == 2

    raw = client.archives.with_raw_response.delete(archive.id)
    assert raw.status_code == 204
    assert raw.parse() is None

    with pytest.raises(letta_client.NotFoundError) as ei:
        client.archives.retrieve(archive.id)
    assert_error_body(ei.value, 404)
    assert list(client.archives.list(name=f"doomed-{uid}")) == []
    for agent in (a, b):
        assert client.agents.passages.list(agent.id) == []
        assert search_contents(client, agent.id, "doomed fact") == []
        assert client.passages.search(agent_id=agent.id, query="doomed") == []
        assert agent_archive_ids(client, agent.id) == []
    with pytest.raises(letta_client.NotFoundError):
        client.archives.delete(archive.id)

    # the agent gets a fresh default archive on its next insert
    fresh = insert(client, a.id, f"a new beginning {uid}")
    assert fresh.archive_id != archive.id
    assert agent_archive_ids(client, a.id) == [fresh.archive_id]


def test_system_message_counts_the_archival_memories(client, fake, agent, uid):
    shared = client.archives.create(name=f"counted-{uid}")
    client.archives.passages.create_many(shared.id, passages=[{"text": "one"}, {"text": "two"}])
    client.agents.archives.attach(shared.id, agent_id=agent.id)

    fake.text("ok")
    client.agents.messages.create(agent_id=agent.id, input="hello")
    assert "2 total memories" in system_text(fake), system_text(fake)

    client.archives.passages.create(shared.id, text="three")
    fake.text("ok")
    client.agents.messages.create(agent_id=agent.id, input="hello again")
    assert "3 total memories" in system_text(fake), system_text(fake)

    client.archives.delete(shared.id)
    fake.text("ok")
    client.agents.messages.create(agent_id=agent.id, input="and again")
    assert "total memories" not in system_text(fake), system_text(fake)


# -- POST /v1/passages/search ---------------------------------------------------------------------


def test_passage_search_over_an_agents_archives(client, agent, uid):
    extra = client.archives.create(name=f"extra-{uid}")
    mine = insert(client, agent.id, f"violet umbrella {uid}", tags=["rain", "gear"])
    client.agents.archives.attach(extra.id, agent_id=agent.id)
    theirs = client.archives.passages.create(extra.id, text=f"violet raincoat {uid}", tags=["rain"])
    unrelated = client.archives.create(name=f"unrelated-{uid}")
    scarf = client.archives.passages.create(unrelated.id, text=f"violet scarf {uid}")

    found = client.passages.search(agent_id=agent.id, query="violet")
    assert isinstance(found, list)
    assert {r.passage.id for r in found} == {mine.id, theirs.id}, "only the agent's archives"
    for r in found:
        assert isinstance(r.passage, Passage)
        assert isinstance(r.score, float) and r.score > 0
        assert r.metadata["search_mode"] == "full_text"
    assert [r.score for r in found] == sorted((r.score for r in found), reverse=True)

    assert len(client.passages.search(agent_id=agent.id, query="violet", limit=1)) == 1
    assert {r.passage.id for r in client.passages.search(agent_id=agent.id, query="violet", tags=["rain"])} == {
        mine.id,
        theirs.id,
    }
    all_tags = client.passages.search(agent_id=agent.id, query="violet", tags=["rain", "gear"], tag_match_mode="all")
    assert [r.passage.id for r in all_tags] == [mine.id]
    assert client.passages.search(agent_id=agent.id, query="xylophone quartz") == []
    # archive_id searches that archive alone
    assert [r.passage.id for r in client.passages.search(archive_id=unrelated.id, query="violet")] == [scarf.id]
    assert [r.passage.id for r in client.passages.search(archive_id=extra.id, query="violet")] == [theirs.id]


def test_passage_search_errors(client, agent):
    with pytest.raises(letta_client.BadRequestError) as ei:
        client.passages.search(query="anything")
    assert_error_body(ei.value, 400)
    with pytest.raises(letta_client.UnprocessableEntityError) as ei:
        client.passages.search(agent_id=agent.id, query="x", tag_match_mode="most")  # type: ignore[arg-type]
    assert_error_body(ei.value, 422)


# -- POST /v1/messages/search ---------------------------------------------------------------------


def test_message_search_finds_user_and_assistant_messages(client, fake, agent, uid):
    fake.text(f"Mangoes are lovely {uid}.")
    client.agents.messages.create(agent_id=agent.id, input=f"my favourite fruit is the mango {uid}")
    fake.text("Take an umbrella.")
    client.agents.messages.create(agent_id=agent.id, input="the weather is rainy today")
    before = datetime.now(timezone.utc) - timedelta(hours=1)

    found = client.messages.search(query="mangoes", agent_id=agent.id)
    assert {(r.message_type, r.content) for r in found} == {
        ("user_message", f"my favourite fruit is the mango {uid}"),
        ("assistant_message", f"Mangoes are lovely {uid}."),
    }
    for r in found:
        assert r.agent_id == agent.id
        assert_id(r.message_id, "message")
        assert r.created_at > before
    stored = {m.id for m in client.agents.messages.list(agent.id, limit=100)}
    assert {r.message_id for r in found} <= stored

    fts = client.messages.search(query="rainy weather", agent_id=agent.id, search_mode="fts", limit=1)
    assert [(r.message_type, r.content) for r in fts] == [("user_message", "the weather is rainy today")]
    assert client.messages.search(query="mango", agent_id=agent.id, end_date="2000-01-01T00:00:00Z") == []
    future = (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat()
    assert client.messages.search(query="mango", agent_id=agent.id, start_date=future) == []
    assert client.messages.search(query="xylophone quartz", agent_id=agent.id) == []

    with pytest.raises(letta_client.BadRequestError) as ei:
        client.messages.search(query="mango")
    assert_error_body(ei.value, 400)
    with pytest.raises(letta_client.NotFoundError) as ei:
        client.messages.search(query="mango", agent_id=random_id("agent"))
    assert_error_body(ei.value, 404)


def test_message_search_by_vector_with_an_embedding_model(client, fake, uid):
    agent = make_agent(client, f"recall-{uid}", embedding=EMBEDDING)
    fake.text("noted")
    client.agents.messages.create(agent_id=agent.id, input=f"kiwi {uid}")
    fake.text("noted too")
    client.agents.messages.create(agent_id=agent.id, input=f"banana {uid}")

    # recall vectors are computed in the background: wait (bounded) until they answer
    # The model loads on first use, which a loaded 2-core CI machine can take a while to do.
    deadline = time.monotonic() + 60
    while True:
        found = client.messages.search(query=f"banana {uid}", agent_id=agent.id, search_mode="vector")
        if len(found) >= 4 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert len(found) == 4, f"recall vectors not ready in 60s: {found}"
    # identical text, identical vector: the exact message ranks first
    assert (found[0].message_type, found[0].content) == ("user_message", f"banana {uid}")


# -- the agent's own tools ------------------------------------------------------------------------


def test_archival_memory_search_tool_puts_the_right_passage_first(client, fake, uid):
    # MAY FAIL because of the SERVER BUG described above the fresh-server tests at the end of
    # this file: when one of the turns below writes a message whose messages.seq equals the
    # target passage's passages.seq, the passage drops out of the search index (still listed,
    # never found again). Run as `pytest test_archives.py`, this happens at the last search
    # (tool return `{"status": "OK", "message": "[]"}`); run alone, the numbers differ and it
    # passes.
    agent = make_agent(client, f"tool-{uid}", tools=["archival_memory_insert", "archival_memory_search"])
    insert(client, agent.id, f"The cafeteria serves soup on Mondays {uid}")
    insert(client, agent.id, f"Parking passes renew every January {uid}")
    target = f"The launch code for project Orion is {uid}"
    fake.push(
        {"tool_calls": [{"name": "archival_memory_insert", "arguments": {"content": target, "tags": [f"secret-{uid}"]}}]},
        {"text": "Stored."},
    )
    resp = client.agents.messages.create(agent_id=agent.id, input="remember the launch code")
    assert [r.status for r in tool_returns(resp)] == ["success"]
    # the tool's insert is an ordinary passage of the agent's archive
    tagged = [p for p in client.agents.passages.list(agent.id) if p.text == target]
    assert len(tagged) == 1 and tagged[0].tags == [f"secret-{uid}"]

    fake.push(
        {"tool_calls": [{"name": "archival_memory_search", "arguments": {"query": "orion launch codes"}}]},
        {"text": "Found it."},
    )
    resp = client.agents.messages.create(agent_id=agent.id, input="what was the launch code?")
    rets = tool_returns(resp)
    assert len(rets) == 1 and rets[0].status == "success", rets
    out = rets[0].tool_return
    assert target in out, out
    for other in ("cafeteria", "Parking"):
        assert other not in out or out.index(target) < out.index(other), out
    assert f"secret-{uid}" in out
    assert of_type(resp.messages, "assistant_message")[0].content == "Found it."

    # tags filter the tool's search too
    fake.push(
        {"tool_calls": [{"name": "archival_memory_search", "arguments": {"query": uid, "tags": [f"secret-{uid}"]}}]},
        {"text": "ok"},
    )
    resp = client.agents.messages.create(agent_id=agent.id, input="only the secrets")
    out = tool_returns(resp)[0].tool_return
    assert target in out and "cafeteria" not in out and "Parking" not in out, out


def test_conversation_search_tool_finds_an_old_message(client, fake, agent, uid):
    fake.text("Sounds fun.")
    client.agents.messages.create(agent_id=agent.id, input=f"I went hiking in the Dolomites {uid}")
    fake.text("Noted.")
    client.agents.messages.create(agent_id=agent.id, input="my printer is broken again")

    fake.push(
        {"tool_calls": [{"name": "conversation_search", "arguments": {"query": "hike dolomites"}}]},
        {"text": "You hiked the Dolomites."},
    )
    resp = client.agents.messages.create(agent_id=agent.id, input="where did I go hiking?")
    rets = tool_returns(resp)
    assert len(rets) == 1 and rets[0].status == "success", rets
    out = rets[0].tool_return
    assert f"I went hiking in the Dolomites {uid}" in out, out
    assert "printer" not in out, out
    assert of_type(resp.messages, "assistant_message")[0].content == "You hiked the Dolomites."


# -- the search index on a fresh server -----------------------------------------------------------
#
# SERVER BUG (mneme 2026-11, crates/mneme-service/src/search.rs + mneme-search): passages and
# messages share one tantivy index whose documents are keyed by a bare u64 (`Doc.key`), and every
# applied change first does `delete_term(key)` over the whole index. The service feeds it
# `passages.seq` for passages and `messages.seq` for messages: two independent AUTOINCREMENT
# sequences (see `search_outbox` in migrations/sqlite/0002_search.sql). So indexing message N
# deletes passage N's document (and indexing/removing passage N deletes message N's), although
# the rows are still stored and listed. mneme-search's own `Doc` docs say "two kinds sharing one
# index need disjoint key spaces". On a fresh data directory the sequences overlap at once, which
# makes these two tests deterministic; on the long-lived session server the same collision makes
# other searches here fail only when the numbers happen to line up.


def test_new_messages_do_not_evict_passages_from_search(server_factory, fake, uid):
    # KNOWN FAILING against the current server: see "SERVER BUG" above. On a fresh server the
    # agent's system message is messages.seq 1, the 10 passages are passages.seq 1..10, and the
    # turn's user/assistant messages (messages.seq 2, 3) evict passages.seq 2 and 3:
    #   GET /v1/agents/{id}/archival-memory/search?query=alpha&top_k=20
    #   -> {"count": 8, ...}   ("alpha passage 1" and "alpha passage 2" are missing)
    # while GET /v1/agents/{id}/archival-memory still lists all 10.
    srv = server_factory()
    client = srv.client()
    try:
        agent = make_agent(client, f"fresh-{uid}")
        stored = [insert(client, agent.id, f"alpha passage {i}") for i in range(10)]
        assert client.agents.passages.search(agent.id, query="alpha", top_k=20).count == 10

        fake.text("ok")
        client.agents.messages.create(agent_id=agent.id, input="hello there")

        assert listed(client, agent.id) == passage_ids(stored)
        found = client.agents.passages.search(agent.id, query="alpha", top_k=20)
        missing = sorted({p.text for p in stored} - {r.content for r in found.results})
        assert missing == [], f"passages no longer found by search after a turn: {missing}"
        assert found.count == 10
    finally:
        client.close()


def test_new_passages_do_not_evict_messages_from_search(server_factory, fake, uid):
    # KNOWN FAILING against the current server: see "SERVER BUG" above. The user message below is
    # messages.seq 2; inserting passages (passages.seq 1..5) evicts it from the index:
    #   POST /v1/messages/search {"query": "hello", "agent_id": ...} -> []
    # while GET /v1/agents/{id}/messages still returns it.
    srv = server_factory()
    client = srv.client()
    try:
        agent = make_agent(client, f"fresh-{uid}")
        fake.text("ok")
        client.agents.messages.create(agent_id=agent.id, input=f"hello there {uid}")
        before = client.messages.search(query="hello", agent_id=agent.id)
        assert [(r.message_type, r.content) for r in before] == [("user_message", f"hello there {uid}")]

        for i in range(5):
            insert(client, agent.id, f"unrelated passage {i}")

        after = client.messages.search(query="hello", agent_id=agent.id)
        assert [(r.message_type, r.content) for r in after] == [("user_message", f"hello there {uid}")], (
            "the message is stored but no longer found by search after passages were inserted"
        )
    finally:
        client.close()
