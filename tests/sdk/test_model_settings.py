"""`model_settings` and `response_format` on agents through letta-client 1.x: what create,
retrieve and modify show, and what reaches the model. The SDK exposes the field as
`api_model_settings` (pydantic reserves `model_settings`).

Tests here script the session's fake LLM, so they run serially against the shared server.
"""

from __future__ import annotations

import json

import letta_client
import pytest

from _helpers import MODEL, assert_error_body, make_agent

SCHEMA = {
    "name": "weather",
    "schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "celsius": {"type": "number"}},
        "required": ["city", "celsius"],
        "additionalProperties": False,
    },
    "strict": True,
}


def test_every_agent_shows_model_settings_derived_from_its_config(client, uid):
    agent = make_agent(client, f"ms-default-{uid}")
    ms = agent.api_model_settings
    assert ms is not None
    assert ms.provider_type == "openai"
    assert ms.temperature == agent.llm_config.temperature
    assert ms.max_output_tokens == (agent.llm_config.max_tokens or 4096)
    assert ms.parallel_tool_calls is False
    assert ms.response_format is None
    again = client.agents.retrieve(agent.id)
    assert again.api_model_settings.model_dump() == ms.model_dump()
    listed = [a for a in client.agents.list(name=agent.name)]
    assert listed[0].api_model_settings.provider_type == "openai"


def test_model_settings_on_create_reach_llm_config_and_round_trip(client, uid):
    agent = client.agents.create(
        name=f"ms-create-{uid}",
        model=MODEL,
        model_settings={
            "provider_type": "openai",
            "temperature": 0.2,
            "max_output_tokens": 1234,
            "parallel_tool_calls": True,
            "response_format": {"type": "json_object"},
        },
    )
    assert (agent.llm_config.temperature, agent.llm_config.max_tokens) == (0.2, 1234)
    assert agent.llm_config.parallel_tool_calls is True
    ms = client.agents.retrieve(agent.id).api_model_settings
    assert ms.provider_type == "openai"
    assert (ms.temperature, ms.max_output_tokens, ms.parallel_tool_calls) == (0.2, 1234, True)
    assert ms.response_format.type == "json_object"
    assert agent.response_format.type == "json_object"


def test_model_settings_on_modify_change_only_what_they_say(client, uid):
    agent = make_agent(client, f"ms-modify-{uid}", max_tokens=777)
    updated = client.agents.update(
        agent.id,
        model_settings={"provider_type": "openai", "temperature": 0.1, "response_format": {"type": "json_schema", "json_schema": SCHEMA}},
    )
    # max_output_tokens left out keeps max_tokens, as in Letta
    assert updated.llm_config.max_tokens == 777
    assert updated.llm_config.temperature == 0.1
    ms = client.agents.retrieve(agent.id).api_model_settings
    assert ms.response_format.type == "json_schema"
    assert ms.response_format.json_schema["name"] == "weather"
    # settings without a response format clear it
    cleared = client.agents.update(agent.id, model_settings={"provider_type": "openai", "temperature": 0.1})
    assert cleared.api_model_settings.response_format is None
    assert cleared.response_format is None


def test_an_invalid_provider_type_is_refused(client, uid):
    with pytest.raises(letta_client.APIStatusError) as exc:
        client.agents.create(
            name=f"ms-bad-{uid}", model=MODEL, model_settings={"provider_type": "nope", "temperature": 1}
        )
    assert_error_body(exc.value, 422)


def test_a_json_schema_response_format_reaches_the_model(client, fake, uid):
    agent = client.agents.create(
        name=f"rf-{uid}",
        model=MODEL,
        memory_blocks=[{"label": "human", "value": "Ada"}],
        model_settings={"provider_type": "openai", "response_format": {"type": "json_schema", "json_schema": SCHEMA}},
    )
    answer = json.dumps({"city": "Paris", "celsius": 21})
    fake.text(answer)
    resp = client.agents.messages.create(agent_id=agent.id, messages=[{"role": "user", "content": "weather?"}])
    sent = fake.requests()[0]["response_format"]
    assert sent == {"type": "json_schema", "json_schema": SCHEMA}
    assert [m.message_type for m in resp.messages] == ["assistant_message"]
    assert json.loads(resp.messages[0].content) == {"city": "Paris", "celsius": 21}
