#!/usr/bin/env python3
"""Save the fixture of the DB-path it-test (`crates/mneme/tests/it/from_letta_db.rs`) from a
running Letta 0.16.7 filled by populate.py: its database as SQL that loads without pgvector, and
what its REST API shows of the same data (the expected values).

    save_db_fixture.py --letta http://127.0.0.1:8284 \
        --database postgresql://postgres@127.0.0.1:15433/letta --pg-dump PATH/pg_dump \
        --out tests/fixtures/letta-db

Writes OUT/letta-0.16.7.sql.gz and OUT/letta-0.16.7.rest.json. The dump is `pg_dump --inserts
--no-owner --no-privileges` rewritten: pgvector dropped (its columns become `text`, which holds
the same `[1,2,...]` text form), psql's `\\restrict` lines dropped, and an `alembic_version`
table with 0.16.7's head revision added: the kit makes Letta's tables from its models, without
Alembic, while a deployment's database (made by Letta's migrations) has that table.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import Server, norm_message  # noqa: E402

REVISION = "1c28e167b74f"  # Letta 0.16.7's Alembic head


def rewrite(sql: str) -> str:
    out = []
    for line in sql.splitlines():
        if line.startswith("\\restrict") or line.startswith("\\unrestrict"):
            continue
        if "EXTENSION" in line and "vector" in line:
            continue
        out.append(re.sub(r"public\.vector\(\d+\)", "text", line))
    text = "\n".join(out)
    # Vector indexes (none in the kit's schema today): dropped with the extension.
    text = re.sub(r"CREATE INDEX [^;]* USING (hnsw|ivfflat)[^;]*;\n", "", text)
    text += (
        "\n-- Added by save_db_fixture.py: what Letta's migrations leave in a deployment.\n"
        "CREATE TABLE public.alembic_version (version_num character varying(32) NOT NULL PRIMARY KEY);\n"
        f"INSERT INTO public.alembic_version VALUES ('{REVISION}');\n"
    )
    return text


def rest(s: Server) -> dict:
    agents = {}
    messages = {}
    passages = {}
    for a in s.paged("/v1/agents/"):
        full = s.get(f"/v1/agents/{a['id']}")
        blocks = (full.get("memory") or {}).get("blocks") or full.get("blocks") or []
        agents[a["id"]] = {
            "name": full["name"],
            "agent_type": full["agent_type"],
            "system": full["system"],
            "tags": sorted(full.get("tags") or []),
            "tool_rules": full.get("tool_rules") or [],
            "message_ids": full.get("message_ids") or [],
            "blocks": sorted(
                ({"id": b["id"], "label": b["label"], "value": b["value"]} for b in blocks),
                key=lambda b: b["label"],
            ),
            "tools": sorted(t["name"] for t in full.get("tools") or []),
            "model": (full.get("llm_config") or {}).get("model"),
            "embedding_model": (full.get("embedding_config") or {}).get("embedding_model"),
        }
        messages[a["id"]] = [norm_message(m) for m in s.paged(
            f"/v1/agents/{a['id']}/messages", limit=1000, order="asc")]
        passages[a["id"]] = [
            {"id": p["id"], "text": p["text"], "tags": sorted(p.get("tags") or [])}
            for p in s.paged(f"/v1/agents/{a['id']}/archival-memory", limit=200, ascending="true")
        ]
    identities = []
    for i in s.paged("/v1/identities/"):
        identities.append({
            "id": i["id"], "identifier_key": i["identifier_key"], "name": i["name"],
            "identity_type": i["identity_type"],
            "agents": sorted(x["id"] for x in s.get(f"/v1/identities/{i['id']}/agents")),
            "blocks": sorted(x["id"] for x in s.get(f"/v1/identities/{i['id']}/blocks")),
        })
    keys = ("id", "manager_type", "agent_ids", "manager_agent_id", "shared_block_ids",
            "description", "max_turns", "sleeptime_agent_frequency")
    groups = [{k: g.get(k) for k in keys} for g in s.paged("/v1/groups/")]
    folders = {}
    for f in s.paged("/v1/folders/"):
        files = s.paged(f"/v1/folders/{f['id']}/files")
        folders[f["id"]] = {"name": f["name"], "files": sorted(x["id"] for x in files)}
    return {
        "agents": agents,
        "messages": messages,
        "passages": passages,
        "blocks": sorted(
            ({"id": b["id"], "label": b["label"], "value": b["value"]} for b in s.paged("/v1/blocks/")),
            key=lambda b: b["id"],
        ),
        "tools": sorted(
            ({"id": t["id"], "name": t["name"], "source_code": t.get("source_code")}
             for t in s.paged("/v1/tools/") if not (t.get("tool_type") or "").startswith("letta_")),
            key=lambda t: t["name"],
        ),
        "identities": identities,
        "groups": groups,
        "folders": folders,
        "mcp_servers": sorted(
            ({k: m.get(k) for k in ("id", "server_name", "mcp_server_type", "command", "args", "env")}
             for m in s.get("/v1/mcp-servers/")),
            key=lambda m: m["server_name"],
        ),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--letta", required=True)
    ap.add_argument("--database", required=True)
    ap.add_argument("--pg-dump", default="pg_dump")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    dump = subprocess.run(
        [args.pg_dump, "--inserts", "--no-owner", "--no-privileges", args.database],
        check=True, capture_output=True, text=True,
    ).stdout
    with gzip.open(os.path.join(args.out, "letta-0.16.7.sql.gz"), "wt", compresslevel=9) as f:
        f.write(rewrite(dump))
    with open(os.path.join(args.out, "letta-0.16.7.rest.json"), "w") as f:
        json.dump(rest(Server("letta", args.letta)), f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
