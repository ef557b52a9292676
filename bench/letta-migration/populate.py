#!/usr/bin/env python3
"""Fill a Letta 0.16.7 server with one of everything a user relies on, for the migration bench.

Run it with the Letta venv's interpreter (it has `letta_client` and `httpx`):

    /tmp/letta-ref/venv/bin/python populate.py --letta http://127.0.0.1:8284 \
        --fake http://127.0.0.1:8765 [--out summary.json]
    /tmp/letta-ref/venv/bin/python populate.py --letta ... --scale \
        [--agents 100] [--messages 100000] [--passages 50000]

The normal mode prints a JSON summary of the ids it made; `--scale` imports N agents from
generated Agent Files (messages never go through the LLM) and inserts passages in batches
through `/v1/archives/{id}/passages/batch`, then prints how long each phase took.
"""
from __future__ import annotations

import argparse
import copy
import concurrent.futures as cf
import json
import os
import sys
import time
from pathlib import Path

import httpx
from letta_client import Letta

HERE = Path(__file__).resolve().parent
# The shared material beside the clone (run.sh sets BENCH_DOCS from the repo's place).
DOCS = Path(os.environ.get("BENCH_DOCS", Path(__file__).resolve().parents[3] / "shared/fixtures/documents"))
MODEL = os.environ.get("BENCH_MODEL", "openai-proxy/gpt-4o-mini")
EMBEDDING = os.environ.get("BENCH_EMBEDDING", "openai/text-embedding-3-small")

TOOL_SOURCE = '''
def roll_dice(sides: int) -> str:
    """Rolls a die with the given number of sides (the bench's custom tool).

    Args:
        sides (int): How many sides the die has.

    Returns:
        str: The result of the roll.
    """
    import random
    return f"rolled {random.randint(1, sides)} of {sides}"
'''.strip()


def log(*a) -> None:
    print(*a, file=sys.stderr, flush=True)


class Fake:
    """The fake LLM's control API (`/_fake/...`); a no-op when no URL is given."""

    def __init__(self, root: str | None):
        self.http = httpx.Client(base_url=root.rstrip("/"), timeout=30) if root else None

    def rule(self, when_last_user_contains: str, reply: dict, times: int | None = None) -> None:
        if self.http:
            body = {"when_last_user_contains": when_last_user_contains, "reply": reply}
            if times is not None:
                body["times"] = times
            self.http.post("/_fake/rules", json=body).raise_for_status()

    def system_rule(self, when_system_contains: str, reply: dict) -> None:
        if self.http:
            body = {"when_system_contains": when_system_contains, "reply": reply}
            self.http.post("/_fake/rules", json=body).raise_for_status()


def ok(resp: httpx.Response) -> dict | list:
    if resp.status_code >= 400:
        raise RuntimeError(f"{resp.request.method} {resp.request.url} -> {resp.status_code} {resp.text[:500]}")
    return resp.json() if resp.content else {}


# ------------------------------------------------------------------------------------- normal


def populate(base: str, fake_root: str | None) -> dict:
    client = Letta(base_url=base, timeout=300)
    http = httpx.Client(base_url=base.rstrip("/"), timeout=300)
    fake = Fake(fake_root)
    out: dict = {"agents": {}}

    # A custom tool from source, and the shared block.
    tool = client.tools.upsert(source_code=TOOL_SOURCE, tags=["bench", "dice"])
    out["tool"] = tool.id
    shared = client.blocks.create(
        label="project", value="The migration bench: every object must survive.", limit=3000,
        description="Shared by two agents: what the project is about.",
        metadata={"owner": "bench"},
    )
    out["shared_block"] = shared.id
    lonely = client.blocks.create(label="scratch", value="A block no agent uses.", limit=500)
    out["lonely_block"] = lonely.id

    identity = ok(http.post("/v1/identities/", json={
        "identifier_key": "user-ada", "name": "Ada Lovelace", "identity_type": "user",
        "properties": [{"key": "plan", "value": "pro", "type": "string"},
                       {"key": "age", "value": 36, "type": "number"}],
    }))
    out["identity"] = identity["id"]
    ok(http.patch(f"/v1/blocks/{shared.id}/identities/attach/{identity['id']}"))

    def blocks(who: str) -> list[dict]:
        return [
            {"label": "human", "value": f"The human talking to {who}: a tester.", "limit": 2000,
             "description": "What the agent knows about the human."},
            {"label": "persona", "value": f"I am {who}, a helpful assistant.", "limit": 4000,
             "description": "The agent's persona."},
        ]

    def make(name: str, agent_type: str, **kw) -> str:
        kw.setdefault("memory_blocks", blocks(name))
        a = client.agents.create(name=name, agent_type=agent_type, model=MODEL, embedding=EMBEDDING,
                                 **kw)
        out["agents"][name] = {"id": a.id, "agent_type": agent_type}
        log(f"agent {name} ({agent_type}): {a.id}")
        return a.id

    v2 = make("bench-memgpt-v2", "memgpt_v2_agent", block_ids=[shared.id], tool_ids=[tool.id],
              tags=["bench", "v2"], metadata={"team": "red", "n": 1},
              identity_ids=[identity["id"]],
              tool_rules=[{"type": "run_first", "tool_name": "roll_dice"},
                          {"type": "exit_loop", "tool_name": "send_message"}])
    v1 = make("bench-letta-v1", "letta_v1_agent", block_ids=[shared.id], tags=["bench", "v1"],
              metadata={"team": "blue"})
    v0 = make("bench-memgpt", "memgpt_agent", tags=["bench"])
    # A ReAct agent has no tools of its own and must call one every step: the custom tool ends
    # its turn.
    make("bench-react", "react_agent", tags=["bench"], tool_ids=[tool.id],
         tool_rules=[{"type": "exit_loop", "tool_name": "roll_dice"}])
    make("bench-workflow", "workflow_agent", tags=["bench"], tool_ids=[tool.id],
         tool_rules=[{"type": "run_first", "tool_name": "roll_dice"},
                     {"type": "exit_loop", "tool_name": "roll_dice"}])
    try:
        make("bench-sleeptime", "letta_v1_agent", enable_sleeptime=True, tags=["bench", "sleeptime"])
    except Exception as e:  # noqa: BLE001 - report and fall back to the MemGPT v2 type
        log(f"sleeptime on letta_v1_agent refused ({e}); using memgpt_v2_agent")
        make("bench-sleeptime", "memgpt_v2_agent", enable_sleeptime=True, tags=["bench", "sleeptime"])

    # An agent imported from an Agent File whose history is longer than its context (40
    # messages, the system message and the newest 8 in context), as after compaction.
    imported = import_agent(http, agent_file(export_template(http), "bench-imported", 40, 8,
                                             ["bench", "imported"]))
    out["agents"]["bench-imported"] = {"id": imported, "agent_type": "letta_v1_agent"}
    log(f"agent bench-imported (Agent File import): {imported}")

    # A round-robin group of two agents of its own.
    ra = make("bench-rr-a", "letta_v1_agent", tags=["bench", "group"])
    rb = make("bench-rr-b", "letta_v1_agent", tags=["bench", "group"])
    group = ok(http.post("/v1/groups/", json={
        "agent_ids": [ra, rb], "description": "Round robin of two.",
        "manager_config": {"manager_type": "round_robin", "max_turns": 2},
    }))
    out["group"] = group["id"]

    # Archival passages on two agents, some tagged.
    out["passages"] = {}
    for aid, texts in ((v2, ["Ada likes tea.", "The launch is on Friday.", "Blue is the team colour."]),
                       (v1, ["Paris is the capital of France.", "Mneme keeps ids."])):
        ids = []
        for i, text in enumerate(texts):
            kw = {"tags": ["fact", f"n{i}"]} if i % 2 == 0 else {}
            p = ok(http.post(f"/v1/agents/{aid}/archival-memory", json={"text": text, **kw}))
            p = p[0] if isinstance(p, list) else p
            ids.append(p["id"])
        out["passages"][aid] = ids

    # A standalone archive with passages, attached to an agent without passages (0.16.7 allows
    # one archive per agent: unique constraint `unique_agent_archive` on archives_agents.agent_id).
    try:
        archive = ok(http.post("/v1/archives/", json={
            "name": "bench-archive", "description": "A shared archive.", "embedding": EMBEDDING}))
        ok(http.post(f"/v1/archives/{archive['id']}/passages",
                     json={"text": "Archives hold passages shared by agents.", "tags": ["archive"]}))
        ok(http.post(f"/v1/archives/{archive['id']}/passages/batch", json={"passages": [
            {"text": "Batch passage one."}, {"text": "Batch passage two.", "tags": ["b"]}]}))
        ok(http.patch(f"/v1/agents/{v0}/archives/attach/{archive['id']}"))
        out["archive"] = archive["id"]
    except RuntimeError as e:
        log(f"archive: {e}")
        out["archive_error"] = str(e)

    # A folder with two files, attached to the v2 agent once processed.
    folder = client.folders.create(name="bench-docs", embedding=EMBEDDING,
                                   description="Two documents.", instructions="Read them first.")
    out["folder"] = folder.id
    files = []
    for name, mime in (("test.txt", "text/plain"), ("test.md", "text/markdown")):
        f = client.folders.files.upload(folder.id, file=(name, (DOCS / name).read_bytes(), mime))
        files.append(f.id)
    deadline = time.monotonic() + 120
    for fid in files:
        while True:
            f = client.folders.files.retrieve(fid, folder_id=folder.id) if hasattr(
                client.folders.files, "retrieve") else None
            status = f.processing_status if f else _file_status(http, folder.id, fid)
            if status in ("completed", "error"):
                log(f"file {fid}: {status}")
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"file {fid} still {status}")
            time.sleep(0.5)
    out["files"] = files
    ok(http.patch(f"/v1/agents/{v2}/folders/attach/{folder.id}"))

    # An MCP server (stdio): our stub, run by Letta's Python.
    try:
        server = ok(http.post("/v1/mcp-servers/", json={
            "server_name": "bench-stub",
            "config": {"mcp_server_type": "stdio", "command": sys.executable,
                       "args": [str(HERE / "mcp_stub.py")], "env": {"BENCH": "1"}},
        }))
        out["mcp_server"] = server["id"]
        tools = ok(http.get(f"/v1/mcp-servers/{server['id']}/tools"))
        add = next((t for t in tools if t["name"] == "add"), None)
        if add:
            ok(http.patch(f"/v1/agents/{v1}/tools/attach/{add['id']}"))
            out["mcp_tool"] = add["id"]
    except RuntimeError as e:
        log(f"mcp: {e}")
        out["mcp_error"] = str(e)

    # A few messages to every agent through the fake LLM. The agents whose run_first rule names
    # the custom tool get that call scripted (once per turn); the rest take the fake's default
    # (an echo, through send_message when the agent has it).
    dice_agents = {v2, out["agents"]["bench-workflow"]["id"], out["agents"]["bench-react"]["id"]}
    for name, info in out["agents"].items():
        for text in ("Hello there, please roll a die for me.", "Remember that my name is Ada."):
            if info["id"] in dice_agents:
                fake.rule(text, {"tool_calls": [{"name": "roll_dice",
                                                 "arguments": {"sides": 6, "request_heartbeat": True}}]},
                          times=1)
            t0 = time.monotonic()
            try:
                r = ok(http.post(f"/v1/agents/{info['id']}/messages",
                                 json={"messages": [{"role": "user", "content": text}]}))
                types = [m.get("message_type") for m in r.get("messages", [])]
                log(f"  {name}: {types} ({time.monotonic() - t0:.1f}s)")
            except RuntimeError as e:
                log(f"  {name}: FAILED {e}")
                info.setdefault("errors", []).append(str(e)[:300])

    # What Letta made on its own (the sleep-time companion and its group).
    agents = ok(http.get("/v1/agents/", params={"limit": 1000}))
    out["all_agents"] = {a["id"]: {"name": a["name"], "agent_type": a["agent_type"]} for a in agents}
    out["all_groups"] = [{"id": g["id"], "manager_type": g["manager_type"], "agent_ids": g["agent_ids"]}
                         for g in ok(http.get("/v1/groups/"))]
    return out


def _file_status(http: httpx.Client, folder_id: str, file_id: str) -> str:
    return ok(http.get(f"/v1/folders/{folder_id}/files/{file_id}"))["processing_status"]


# ------------------------------------------------------------------------------- agent files


def export_template(http: httpx.Client) -> dict:
    """The Agent File of a fresh letta_v1_agent (created, exported, deleted): the template
    generated files start from, so that they are in 0.16.7's own format."""
    template = ok(http.post("/v1/agents/", json={
        "name": "af-template", "agent_type": "letta_v1_agent", "model": MODEL,
        "embedding": EMBEDDING, "memory_blocks": [
            {"label": "human", "value": "A tester.", "limit": 2000},
            {"label": "persona", "value": "A helpful assistant.", "limit": 2000}]}))
    af = ok(http.get(f"/v1/agents/{template['id']}/export"))
    ok(http.delete(f"/v1/agents/{template['id']}"))
    return af


def agent_file(af: dict, name: str, count: int, in_context: int, tags: list[str], seed: int = 0) -> bytes:
    """`af` with its agent renamed and `count` messages (the system message and user/assistant
    text pairs, two seconds apart), of which the system message and the newest `in_context`
    are in context: the rest is history outside the window, as after compaction."""
    doc = copy.deepcopy(af)
    a = doc["agents"][0]
    a["name"] = name
    a["tags"] = tags
    system = next(m for m in a["messages"] if m["role"] == "system")
    msgs = [dict(system, id="message-0")]
    t = time.time() - count * 2
    for k in range(1, count):
        user = k % 2 == 1
        text = (f"user {seed}/{k}: please remember item {k} of {name}." if user
                else f"assistant {seed}/{k}: noted item {k - 1}.")
        msgs.append({
            "type": "message", "role": "user" if user else "assistant",
            "content": [{"type": "text", "text": text}], "id": f"message-{k}",
            "agent_id": a.get("id", "agent-0"), "model": None if user else "gpt-4o-mini",
            "tool_calls": None, "tool_call_id": None, "tool_returns": [], "name": None,
            "otid": None, "sender_id": None, "batch_item_id": None, "group_id": None,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(t + 2 * k)),
        })
    a["messages"] = msgs
    a["in_context_message_ids"] = ["message-0"] + [m["id"] for m in msgs[1:][-in_context:]]
    return json.dumps(doc).encode()


def import_agent(http: httpx.Client, body: bytes) -> str:
    """`POST /v1/agents/import` (multipart `file`); the new agent's id. Letta 0.16.7 upserts the
    base tools in every import, and concurrent imports deadlock in PostgreSQL (a 400 "Import
    failed: ... deadlock detected"): such an import is retried."""
    for attempt in range(8):
        resp = http.post("/v1/agents/import", files={"file": ("agent.af", body, "application/json")},
                         data={"append_copy_suffix": "false"})
        if resp.status_code == 400 and "deadlock" in resp.text and attempt < 7:
            time.sleep(0.2 * (attempt + 1))
            continue
        break
    r = ok(resp)
    ids = (r.get("agent_ids") or [a["id"] for a in r.get("agents", [])]) if isinstance(r, dict) else r
    return ids[0]


# ------------------------------------------------------------------------------------- scale


def scale(base: str, n_agents: int, n_messages: int, n_passages: int, workers: int) -> dict:
    http = httpx.Client(base_url=base.rstrip("/"), timeout=600)
    timings: dict[str, float] = {}
    t_all = time.monotonic()

    af = export_template(http)
    per_agent = [n_messages // n_agents + (1 if i < n_messages % n_agents else 0) for i in range(n_agents)]

    def do_import(i: int) -> str:
        return import_agent(http, agent_file(af, f"scale-{i:04d}", per_agent[i], 20, ["scale"], i))

    t0 = time.monotonic()
    # Two at a time: Letta's imports deadlock on its tools table when more run together.
    with cf.ThreadPoolExecutor(min(workers, 2)) as pool:
        agent_ids = list(pool.map(do_import, range(n_agents)))
    timings["import_agents_s"] = round(time.monotonic() - t0, 1)
    log(f"imported {n_agents} agents, {n_messages} messages in {timings['import_agents_s']} s")

    per_agent_p = [n_passages // n_agents + (1 if i < n_passages % n_agents else 0) for i in range(n_agents)]

    def do_passages(i: int) -> int:
        aid, count = agent_ids[i], per_agent_p[i]
        if count == 0:
            return 0
        # The first insert creates the agent's own archive; the rest go in batches.
        ok(http.post(f"/v1/agents/{aid}/archival-memory", json={"text": f"passage 0 of {aid}", "tags": ["scale"]}))
        archives = ok(http.get("/v1/archives/", params={"agent_id": aid}))
        archive_id = archives[0]["id"]
        done = 1
        while done < count:
            n = min(250, count - done)
            batch = [{"text": f"passage {done + j} of agent {i}: fact number {done + j}.",
                      "tags": ["scale", f"g{(done + j) % 5}"]} for j in range(n)]
            ok(http.post(f"/v1/archives/{archive_id}/passages/batch", json={"passages": batch}))
            done += n
        return done

    t0 = time.monotonic()
    with cf.ThreadPoolExecutor(workers) as pool:
        inserted = sum(pool.map(do_passages, range(n_agents)))
    timings["insert_passages_s"] = round(time.monotonic() - t0, 1)
    log(f"inserted {inserted} passages in {timings['insert_passages_s']} s")
    timings["total_s"] = round(time.monotonic() - t_all, 1)
    return {"agents": n_agents, "messages": n_messages, "passages": inserted, "timings": timings,
            "agent_ids": agent_ids}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--letta", default="http://127.0.0.1:8284")
    ap.add_argument("--fake", default=os.environ.get("FAKE_LLM_ROOT", "http://127.0.0.1:8765"),
                    help="the fake LLM's root URL (for /_fake/ scripting); '' for none")
    ap.add_argument("--scale", action="store_true")
    ap.add_argument("--agents", type=int, default=100)
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--passages", type=int, default=50_000)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--out", help="also write the summary here")
    args = ap.parse_args()
    t0 = time.monotonic()
    if args.scale:
        summary = scale(args.letta, args.agents, args.messages, args.passages, args.workers)
    else:
        summary = populate(args.letta, args.fake or None)
    summary["populate_seconds"] = round(time.monotonic() - t0, 1)
    text = json.dumps(summary, indent=1)
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
