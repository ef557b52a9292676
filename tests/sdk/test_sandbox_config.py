"""Sandbox configurations (`/v1/sandbox-config`): one configuration of each type, their
environment variables, and the local one's virtualenv as tool runs use it.

letta-client 1.12.1 has no sandbox-config resource: the routes are driven with the SDK's own
`get`/`post`/`patch`/`delete` (typed as plain objects), or over plain HTTP where a status code is
the point. Every test runs on a private server: the configurations are server-wide, and an E2B
one without a local one makes every tool run fail (on purpose).
"""

from __future__ import annotations

import zipfile

import letta_client
import pytest

from _helpers import assert_http_error, assert_id, make_agent, random_id, tool_returns

CONFIG_KEYS = ["created_by_id", "last_updated_by_id", "created_at", "updated_at", "id", "type",
               "organization_id", "config"]
ENV_VAR_KEYS = ["created_by_id", "last_updated_by_id", "created_at", "updated_at", "id", "key",
                "value", "description", "organization_id", "value_enc", "sandbox_config_id"]


@pytest.fixture
def srv(server_factory):
    return server_factory()


@pytest.fixture
def sdk(srv) -> letta_client.Letta:
    return srv.client()


@pytest.fixture
def web(srv):
    h = srv.http()
    yield h
    h.close()


def post(sdk: letta_client.Letta, path: str, body: dict | None = None) -> dict:
    return sdk.post(path, body=body or {}, cast_to=object)


def test_one_configuration_of_each_type(sdk, web):
    assert sdk.get("/v1/sandbox-config/", cast_to=object) == []
    local = post(sdk, "/v1/sandbox-config/", {"config": {}})
    assert list(local) == CONFIG_KEYS
    assert_id(local["id"], "sandbox")
    assert local["type"] == "local"
    assert list(local["config"]) == ["sandbox_dir", "use_venv", "venv_name", "pip_requirements"]
    assert local["config"]["sandbox_dir"].endswith("tool_execution_dir")
    assert (local["config"]["use_venv"], local["config"]["venv_name"]) == (False, "venv")

    # Creating a local configuration again replaces the settings of the one there is.
    again = post(sdk, "/v1/sandbox-config/local",
                 {"sandbox_dir": "/tmp/elsewhere", "pip_requirements": [{"name": "numpy", "version": "2.0"}]})
    assert again["id"] == local["id"]
    assert again["config"]["sandbox_dir"] == "/tmp/elsewhere"
    assert again["config"]["pip_requirements"] == [{"name": "numpy", "version": "2.0"}]
    # The default route hands back the existing one unchanged.
    assert post(sdk, "/v1/sandbox-config/local/default") == again

    e2b = post(sdk, "/v1/sandbox-config/e2b/default")
    assert (e2b["type"], e2b["config"]) == ("e2b", {"timeout": 300})
    assert e2b["id"] != local["id"]
    # A config whose keys only E2B knows is the E2B one.
    templated = post(sdk, "/v1/sandbox-config/", {"config": {"template": "my-image", "timeout": 60}})
    assert templated["id"] == e2b["id"]
    assert templated["config"] == {"timeout": 60, "template": "my-image"}
    modal = post(sdk, "/v1/sandbox-config/", {"config": {"language": "typescript"}})
    assert (modal["type"], modal["config"]) == ("modal", {"timeout": 60, "language": "typescript"})

    listed = sdk.get("/v1/sandbox-config/", cast_to=object)
    assert [c["id"] for c in listed] == [local["id"], e2b["id"], modal["id"]]
    only_e2b = web.get("/v1/sandbox-config/", params={"sandbox_type": "e2b"}).json()
    assert [c["id"] for c in only_e2b] == [e2b["id"]]
    after = web.get("/v1/sandbox-config/", params={"after": local["id"], "limit": 1}).json()
    assert [c["id"] for c in after] == [e2b["id"]]


def test_a_configuration_is_patched_with_settings_of_its_type(sdk, web):
    local = post(sdk, "/v1/sandbox-config/local", {"sandbox_dir": "/tmp/a"})
    patched = sdk.patch(f"/v1/sandbox-config/{local['id']}",
                        body={"config": {"sandbox_dir": "/tmp/b", "use_venv": True}}, cast_to=object)
    assert patched["config"]["sandbox_dir"] == "/tmp/b"
    assert patched["config"]["use_venv"] is True
    assert patched["created_at"] == local["created_at"]

    wrong = web.patch(f"/v1/sandbox-config/{local['id']}", json={"config": {"timeout": 30}})
    assert_http_error(wrong, 422)
    assert "Mismatched type" in wrong.json()["detail"]
    bad = web.post("/v1/sandbox-config/", json={"config": {"use_venv": "maybe"}})
    assert_http_error(bad, 422)
    assert_http_error(web.patch(f"/v1/sandbox-config/{random_id('sandbox')}", json={}), 404)
    assert_http_error(web.patch("/v1/sandbox-config/sandbox-nope", json={}), 422)

    assert web.delete(f"/v1/sandbox-config/{local['id']}").status_code == 204
    assert sdk.get("/v1/sandbox-config/", cast_to=object) == []
    assert_http_error(web.delete(f"/v1/sandbox-config/{local['id']}"), 404)


def test_environment_variables_are_unique_by_key(sdk, web):
    config = post(sdk, "/v1/sandbox-config/local/default")
    base = f"/v1/sandbox-config/{config['id']}/environment-variable"
    var = post(sdk, base, {"key": "API_TOKEN", "value": "t-1", "description": "for the weather API"})
    assert list(var) == ENV_VAR_KEYS
    assert_id(var["id"], "sandbox-env")
    assert (var["key"], var["value"], var["sandbox_config_id"]) == ("API_TOKEN", "t-1", config["id"])
    assert var["value_enc"] is None

    # The same key again changes the variable's value and keeps its description.
    same = post(sdk, base, {"key": "API_TOKEN", "value": "t-2"})
    assert (same["id"], same["value"], same["description"]) == (var["id"], "t-2", "for the weather API")
    other = post(sdk, base, {"key": "REGION", "value": "eu"})
    listed = sdk.get(base, cast_to=object)
    assert [(v["key"], v["value"]) for v in listed] == [("API_TOKEN", "t-2"), ("REGION", "eu")]

    path = f"/v1/sandbox-config/environment-variable/{other['id']}"
    changed = sdk.patch(path, body={"value": "us", "description": "where"}, cast_to=object)
    assert (changed["key"], changed["value"], changed["description"]) == ("REGION", "us", "where")
    assert_http_error(web.patch(path, json={"key": "API_TOKEN"}), 409)
    assert_http_error(web.post(base, json={"key": "A=B", "value": "x"}), 422)
    assert_http_error(web.post(base, json={"key": "NO_VALUE"}), 422)

    assert web.delete(path).status_code == 204
    assert [v["key"] for v in sdk.get(base, cast_to=object)] == ["API_TOKEN"]
    assert_http_error(web.delete(path), 404)
    unknown = f"/v1/sandbox-config/{random_id('sandbox')}/environment-variable"
    assert_http_error(web.get(unknown), 404)
    assert_http_error(web.post(unknown, json={"key": "K", "value": "v"}), 404)

    # Deleting the configuration deletes its variables.
    web.delete(f"/v1/sandbox-config/{config['id']}")
    assert_http_error(web.patch(f"/v1/sandbox-config/environment-variable/{var['id']}", json={}), 404)


def write_wheel(directory, value: str):
    """A minimal wheel of the package `mneme_probe_pkg` (pip installs it offline)."""
    path = directory / "mneme_probe_pkg-0.1-py3-none-any.whl"
    info = "mneme_probe_pkg-0.1.dist-info"
    with zipfile.ZipFile(path, "w") as whl:
        whl.writestr("mneme_probe_pkg/__init__.py", f"VALUE = {value!r}\n")
        whl.writestr(f"{info}/METADATA", "Metadata-Version: 2.1\nName: mneme-probe-pkg\nVersion: 0.1\n")
        whl.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        whl.writestr(f"{info}/RECORD", "")
    return path


PROBE_TOOL = '''
def probe_package() -> str:
    """Report the probe package's value and the interpreter.

    Returns:
        str: The value.
    """
    import sys
    import mneme_probe_pkg
    return mneme_probe_pkg.VALUE + " from " + sys.prefix
'''


def test_recreate_venv_installs_the_requirements_tools_then_import(sdk, fake, tmp_path):
    wheel = write_wheel(tmp_path, "installed-offline")
    sandbox_dir = tmp_path / "tools"
    config = post(sdk, "/v1/sandbox-config/local", {
        "sandbox_dir": str(sandbox_dir), "use_venv": True,
        "pip_requirements": [{"name": str(wheel)}],
    })
    answered = post(sdk, "/v1/sandbox-config/local/recreate-venv")
    assert answered == config
    assert (sandbox_dir / "venv" / "bin" / "python").exists()

    tool = sdk.tools.create(source_code=PROBE_TOOL)
    agent = make_agent(sdk, "venv-probe", tool_ids=[tool.id])
    fake.push({"tool_calls": [{"name": "probe_package", "arguments": {}}]}, {"text": "done"})
    resp = sdk.agents.messages.create(agent_id=agent.id, input="probe")
    (ret,) = tool_returns(resp)
    assert ret.status == "success", ret.tool_return
    assert f"installed-offline from {sandbox_dir / 'venv'}" in ret.tool_return
