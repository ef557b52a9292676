#!/usr/bin/env python3
"""Save Letta's raw answers for the objects populate.py made into samples/ (for whoever writes
the migration: what each route returns, field by field).

    save_samples.py --letta http://127.0.0.1:8284 [--dir samples]

Long strings (system prompts, tool source) are cut to 400 characters, marked `...[cut N]`, and
embeddings to their first 3 numbers, so the directory stays small; everything else is verbatim.
"""
from __future__ import annotations

import argparse
import json
import urllib.error
import urllib.request
from pathlib import Path

CUT = 400


def get(base: str, path: str):
    try:
        with urllib.request.urlopen(base + path, timeout=120) as r:
            return json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return {"_status": e.code, "_body": e.read().decode("utf-8", "replace")[:2000]}


def cut(v, limit=CUT):
    if isinstance(v, str) and len(v) > limit:
        return v[:limit] + f"...[cut {len(v) - limit}]"
    if isinstance(v, list):
        if len(v) > 8 and all(isinstance(x, float) for x in v):  # an embedding
            return v[:3] + [f"...[{len(v)} floats in all]"]
        return [cut(x, limit) for x in v]
    if isinstance(v, dict):
        return {k: cut(x, limit) for k, x in v.items()}
    return v


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--letta", default="http://127.0.0.1:8284")
    ap.add_argument("--dir", default=str(Path(__file__).resolve().parent / "samples"))
    args = ap.parse_args()
    base = args.letta.rstrip("/")
    out = Path(args.dir)
    out.mkdir(parents=True, exist_ok=True)

    def save(name: str, path: str, limit: int = CUT, keep=None):
        data = get(base, path)
        if keep is not None and isinstance(data, list):
            data = keep(data)
        doc = {"request": f"GET {path}", "response": cut(data, limit)}
        (out / f"{name}.json").write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
        return data

    agents = get(base, "/v1/agents/?limit=1000")
    by_name = {a["name"]: a for a in agents}
    v2 = by_name["bench-memgpt-v2"]["id"]
    v1 = by_name["bench-letta-v1"]["id"]
    sleepy = by_name["bench-sleeptime"]["id"]
    companion = next(a["id"] for a in agents if a["agent_type"] == "sleeptime_agent")

    save("health", "/v1/health/")
    save("agents-list", "/v1/agents/?limit=1000",
         keep=lambda xs: [{k: a.get(k) for k in ("id", "name", "agent_type", "tags", "hidden",
                                                  "multi_agent_group", "managed_group",
                                                  "enable_sleeptime", "message_ids")} for a in xs])
    save("agent-memgpt-v2", f"/v1/agents/{v2}")
    save("agent-sleeptime-main", f"/v1/agents/{sleepy}")
    save("agent-sleeptime-companion", f"/v1/agents/{companion}")
    save("agent-memgpt-v2-messages", f"/v1/agents/{v2}/messages?limit=1000&order=asc")
    save("agent-letta-v1-messages", f"/v1/agents/{v1}/messages?limit=1000&order=asc")
    save("agent-memgpt-v2-archival-memory", f"/v1/agents/{v2}/archival-memory?limit=100", limit=200)
    save("agent-memgpt-v2-export", f"/v1/agents/{v2}/export", limit=200)
    save("agent-memgpt-v2-folders", f"/v1/agents/{v2}/folders")
    save("agent-memgpt-v2-groups", f"/v1/agents/{sleepy}/groups")
    save("agent-letta-v1-core-memory-blocks", f"/v1/agents/{v1}/core-memory/blocks")
    save("blocks", "/v1/blocks/?limit=1000",
         keep=lambda xs: [b for b in xs if b.get("label") in ("project", "scratch", "human")][:4])
    save("tools-custom", "/v1/tools/?name=roll_dice")
    save("tools-list-names", "/v1/tools/?limit=1000",
         keep=lambda xs: [{k: t.get(k) for k in ("id", "name", "tool_type", "tags")} for t in xs])
    idents = save("identities", "/v1/identities/")
    if idents and isinstance(idents, list):
        iid = idents[0]["id"]
        save("identity-agents", f"/v1/identities/{iid}/agents",
             keep=lambda xs: [{"id": a["id"], "name": a["name"]} for a in xs])
        save("identity-blocks", f"/v1/identities/{iid}/blocks")
    save("groups", "/v1/groups/")
    folders = save("folders", "/v1/folders/")
    if folders and isinstance(folders, list):
        fid = folders[0]["id"]
        files = save("folder-files", f"/v1/folders/{fid}/files")
        save("folder-agents", f"/v1/folders/{fid}/agents")
        save("folder-passages", f"/v1/folders/{fid}/passages?limit=3", limit=200)
        if files and isinstance(files, list):
            save("folder-file-with-content", f"/v1/folders/{fid}/files/{files[0]['id']}?include_content=true")
    save("sources", "/v1/sources/")
    mcp = save("mcp-servers", "/v1/mcp-servers/")
    if mcp and isinstance(mcp, list):
        save("mcp-server-tools", f"/v1/mcp-servers/{mcp[0]['id']}/tools")
    save("mcp-servers-legacy", "/v1/tools/mcp/servers")
    save("providers", "/v1/providers/")
    save("models", "/v1/models/")
    save("models-embedding", "/v1/models/embedding")
    archives = save("archives", "/v1/archives/")
    save("agent-memgpt-v2-archives", f"/v1/archives/?agent_id={v2}")
    total = sum(p.stat().st_size for p in out.glob("*.json"))
    print(f"{len(list(out.glob('*.json')))} samples, {total // 1024} KiB in {out}")


if __name__ == "__main__":
    main()
