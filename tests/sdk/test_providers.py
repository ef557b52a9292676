"""Providers, the model catalogue and handle checks through letta-client (and plain HTTP for
``/v1/providers``, which the 1.x SDK has no resource for).

A created provider points at the scripted fake; its key must never come back in a response
nor appear in the server's log.
"""

from __future__ import annotations

import uuid

import letta_client
import pytest

from _helpers import assert_error_body, assert_http_error, assert_id, make_agent

KEY = "sk-sdk-byok-0123456789abcdefTOPSECRET"
REFUSED_KEY = "sk-refused"  # the fake answers 401 to it


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def no_key(text: str) -> None:
    assert KEY not in text and "TOPSECRET" not in text, text


@pytest.fixture
def provider(server, fake):
    """A byok provider of type openai at the fake; deleted afterwards."""
    with server.http() as http:
        body = {"name": unique("box"), "provider_type": "openai", "api_key": KEY,
                "base_url": fake.base_url}
        resp = http.post("/v1/providers/", json=body)
        assert resp.status_code == 200, resp.text
        no_key(resp.text)
        created = resp.json()
        yield created
        http.delete(f"/v1/providers/{created['id']}")


def test_provider_crud_masks_the_key(server, provider):
    assert_id(provider["id"], "provider")
    assert provider["provider_category"] == "byok"
    assert provider["api_key"] == "****CRET"
    pid = provider["id"]
    with server.http() as http:
        for resp in (
            http.get("/v1/providers/"),
            http.get("/v1/providers/", params={"name": provider["name"]}),
            http.get(f"/v1/providers/{pid}"),
            http.patch(f"/v1/providers/{pid}", json={"api_key": KEY, "api_version": "v9"}),
            http.post(f"/v1/providers/{pid}/check"),
            http.patch(f"/v1/providers/{pid}/refresh"),
        ):
            assert resp.status_code == 200, resp.text
            no_key(resp.text)
        listed = http.get("/v1/providers/", params={"name": provider["name"]}).json()
        assert [p["id"] for p in listed] == [pid]
        assert http.get(f"/v1/providers/{pid}").json()["api_version"] == "v9"
        assert http.get("/v1/providers/", params={"provider_type": "anthropic"}).json() == []
    no_key(server.log_tail(2000))


def test_checks_answer_letta_shapes(server, fake):
    with server.http() as http:
        ok = http.post("/v1/providers/check", json={
            "provider_type": "openai", "api_key": KEY, "base_url": fake.base_url})
        assert ok.status_code == 200 and "Valid api key" in ok.json()["message"]
        bad = http.post("/v1/providers/check", json={
            "provider_type": "openai", "api_key": REFUSED_KEY, "base_url": fake.base_url})
        assert_http_error(bad, 401)
        down = http.post("/v1/providers/check", json={
            "provider_type": "openai", "api_key": KEY, "base_url": "http://127.0.0.1:9/v1"})
        assert_http_error(down, 502)
        no_key(down.text)


def test_a_byok_handle_answers_through_the_fake(client, server, provider, fake):
    handle = f"{provider['name']}/gpt-4o-mini"
    agent = make_agent(client, unique("byok"), model=handle)
    assert agent.llm_config.provider_name == provider["name"]
    assert agent.llm_config.provider_category == "byok"
    fake.text("hello through byok")
    res = client.agents.messages.create(agent.id, messages=[{"role": "user", "content": "hi"}])
    assert any(getattr(m, "content", None) == "hello through byok" for m in res.messages)
    chat = [r for r in fake.recorded() if r["path"].endswith("/chat/completions")]
    assert chat and chat[-1]["authorization"] == f"Bearer {KEY}"
    byok = client.models.list(provider_category=["byok"])
    assert f"{provider['name']}/gpt-4o-mini" in [m.handle for m in byok]
    no_key(server.log_tail(2000))


def test_models_list_what_the_fake_serves(client):
    handles = [m.handle for m in client.models.list()]
    assert "openai/qwen3-8b" in handles and "openai/gpt-4o-mini" in handles
    assert "openai/gpt-4-32k" not in handles  # the fake does not serve it
    assert "openai/text-embedding-3-small" not in handles  # embedders are listed apart
    only_openai = client.models.list(provider_name="openai")
    assert all(m.provider_name == "openai" for m in only_openai)
    embeddings = [m.handle for m in client.models.embeddings.list()]
    assert "openai/text-embedding-3-small" in embeddings


def test_unconfigured_and_unknown_handles_are_refused(client):
    with pytest.raises(letta_client.APIStatusError) as e:
        make_agent(client, unique("nokey"), model="groq/llama-3.3-70b-versatile")
    assert_error_body(e.value, 404)
    with pytest.raises(letta_client.APIStatusError) as e:
        make_agent(client, unique("unknown"), model="openai/not-served-here")
    assert_error_body(e.value, 404)


def test_override_model_is_checked_and_used(client, fake):
    agent = make_agent(client, unique("override"))
    with pytest.raises(letta_client.APIStatusError) as e:
        client.agents.messages.create(
            agent.id, messages=[{"role": "user", "content": "hi"}],
            override_model="openai/not-served-here")
    assert_error_body(e.value, 404)
    assert fake.requests() == []
    fake.text("from gpt-4.1")
    client.agents.messages.create(
        agent.id, messages=[{"role": "user", "content": "hi"}], override_model="openai/gpt-4.1")
    assert fake.requests()[-1]["model"] == "gpt-4.1"
    assert client.agents.retrieve(agent.id).llm_config.model == "gpt-4o-mini"
