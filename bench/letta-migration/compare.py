#!/usr/bin/env python3
"""Compare everything a Letta server holds with what a mneme server holds after
`mneme migrate from-letta`, over plain HTTP (stdlib only, no SDK).

    compare.py --letta http://127.0.0.1:8284 --mneme http://127.0.0.1:8283 [--json OUT]

Objects are matched by id (tools by name: built-in tools are the server's own) and compared on
the fields a user relies on, timestamps left out. Exit 0 when nothing differs, 1 with a readable
list otherwise, 2 when a server cannot be read.

Fields mneme documents as differing from Letta (DESIGN.md) are not compared; see IGNORED below.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

PAGE = 100  # page size for every paged list
MSG_PAGE = 1000
PASSAGE_PAGE = 200  # Letta sends each passage's embedding (4096 floats): keep pages small

# Differences mneme documents (DESIGN.md, "Decisions"): what compare.py does not hold against it.
IGNORED = {
    # DESIGN 2026-12-06 (identities): 0.16.7 answers these always empty; the link routes are
    # compared instead (/identities/{id}/agents, /blocks).
    "identity.agent_ids", "identity.block_ids",
}


class Server:
    def __init__(self, name: str, base: str, token: str | None = None):
        self.name = name
        self.base = base.rstrip("/")
        self.token = token

    def get(self, path: str, **params: Any) -> Any:
        q = {k: v for k, v in params.items() if v is not None}
        url = self.base + path + ("?" + urllib.parse.urlencode(q, doseq=True) if q else "")
        req = urllib.request.Request(url, headers={"accept": "application/json"})
        if self.token:
            req.add_header("authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=120) as r:
                return json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            body = e.read()[:300].decode("utf-8", "replace")
            raise HttpError(f"{self.name}: GET {path} -> {e.code} {body}", e.code) from None

    def try_get(self, path: str, **params: Any) -> Any:
        """None on 404/405/501 (a route the server does not serve)."""
        try:
            return self.get(path, **params)
        except HttpError as e:
            if e.code in (404, 405, 501):
                return None
            raise

    def paged(self, path: str, limit: int = PAGE, **params: Any) -> list[dict]:
        """Every item of a list route, paged with `after` = last id, until an empty page."""
        out: list[dict] = []
        after = None
        seen: set[str] = set()
        while True:
            page = self.get(path, limit=limit, after=after, **params)
            if isinstance(page, dict):  # some routes wrap lists
                page = page.get("data") or page.get("items") or page.get("messages") or []
            new = [x for x in page if x.get("id") not in seen]
            out.extend(new)
            seen.update(x.get("id") for x in new)
            # Not `len(page) < limit`: a server may cap the limit lower than asked.
            if not new:
                return out
            after = page[-1]["id"]


class HttpError(Exception):
    def __init__(self, msg: str, code: int):
        super().__init__(msg)
        self.code = code


# ----------------------------------------------------------------------------- normalizers


def sorted_tags(tags: Any) -> list[str]:
    return sorted(tags or [])


def norm_rule(r: dict) -> dict:
    keep = {k: v for k, v in r.items() if v is not None}
    return keep


def text_of(content: Any) -> str | None:
    """Text of a message's content: a string or a list of parts."""
    if content is None:
        return None
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for p in content:
            if isinstance(p, dict):
                parts.append(p.get("text") or p.get("reasoning") or p.get("data") or "")
            else:
                parts.append(str(p))
        return "".join(parts)
    return json.dumps(content, sort_keys=True)


def norm_message(m: dict) -> dict:
    t = m.get("message_type")
    out: dict[str, Any] = {"id": m.get("id"), "message_type": t}
    if t in ("user_message", "assistant_message", "system_message"):
        out["text"] = text_of(m.get("content"))
    elif t == "reasoning_message":
        out["text"] = m.get("reasoning")
    elif t == "hidden_reasoning_message":
        out["text"] = m.get("hidden_reasoning")
    elif t in ("tool_call_message", "approval_request_message"):
        calls = m.get("tool_calls") or ([m["tool_call"]] if m.get("tool_call") else [])
        out["tool_calls"] = [
            {"name": c.get("name"), "arguments": _json_or_text(c.get("arguments"))} for c in calls
        ]
    elif t == "tool_return_message":
        rets = m.get("tool_returns") or [m]
        out["tool_returns"] = [
            {"status": r.get("status"), "tool_return": _json_or_text(r.get("tool_return"))}
            for r in rets
        ]
    else:
        out["text"] = text_of(m.get("content"))
    return out


def _json_or_text(s: Any) -> Any:
    if isinstance(s, str):
        try:
            v = json.loads(s)
        except ValueError:
            return s
        # Letta's send_message/tool returns carry a "time" field: a timestamp.
        if isinstance(v, dict):
            v.pop("time", None)
        return v
    return s


def norm_block(b: dict) -> dict:
    return {
        "id": b.get("id"),
        "label": b.get("label"),
        "value": b.get("value"),
        "limit": b.get("limit"),
        "description": b.get("description"),
        "metadata": b.get("metadata") or {},
        "read_only": bool(b.get("read_only")),
        "is_template": bool(b.get("is_template")),
    }


def norm_agent(a: dict) -> dict:
    llm = a.get("llm_config") or {}
    emb = a.get("embedding_config") or {}
    blocks = (a.get("memory") or {}).get("blocks") or a.get("blocks") or []
    return {
        "name": a.get("name"),
        "system": a.get("system"),
        "agent_type": a.get("agent_type"),
        "description": a.get("description"),
        "tags": sorted_tags(a.get("tags")),
        "metadata": a.get("metadata") or {},
        "tool_rules": sorted(
            (norm_rule(r) for r in a.get("tool_rules") or []),
            key=lambda r: (r.get("tool_name", ""), r.get("type", "")),
        ),
        "llm.model": llm.get("model"),
        "llm.context_window": llm.get("context_window"),
        "embedding.model": emb.get("embedding_model"),
        "embedding.dim": emb.get("embedding_dim"),
        "blocks": sorted(
            (
                {k: norm_block(b)[k] for k in ("id", "label", "value", "limit", "description", "read_only")}
                for b in blocks
            ),
            key=lambda b: b["label"] or "",
        ),
        "tools": sorted(t.get("name") for t in a.get("tools") or []),
        "message_ids": a.get("message_ids") or [],
        "identity_ids": sorted(a.get("identity_ids") or [i.get("id") for i in a.get("identities") or []]),
        "multi_agent_group": (a.get("multi_agent_group") or {}).get("id"),
        "enable_sleeptime": bool(a.get("enable_sleeptime")),
        "message_buffer_autoclear": bool(a.get("message_buffer_autoclear")),
        "timezone": a.get("timezone"),
    }


def norm_tool(t: dict) -> dict:
    return {
        "id": t.get("id"),
        "tool_type": t.get("tool_type"),
        "source_code": t.get("source_code"),
        "json_schema.name": (t.get("json_schema") or {}).get("name"),
        "json_schema.parameters": (t.get("json_schema") or {}).get("parameters"),
        "description": t.get("description"),
        "tags": sorted_tags(t.get("tags")),
        "return_char_limit": t.get("return_char_limit"),
        "pip_requirements": t.get("pip_requirements"),
    }


def norm_identity(i: dict) -> dict:
    return {
        "identifier_key": i.get("identifier_key"),
        "name": i.get("name"),
        "identity_type": i.get("identity_type"),
        "properties": sorted(
            (json.dumps(p, sort_keys=True) for p in i.get("properties") or [])
        ),
        "agent_ids": sorted(i.get("agent_ids") or []),
        "block_ids": sorted(i.get("block_ids") or []),
    }


def norm_group(g: dict) -> dict:
    keys = (
        "manager_type", "description", "manager_agent_id", "termination_token", "max_turns",
        "sleeptime_agent_frequency", "max_message_buffer_length", "min_message_buffer_length",
        "hidden", "turns_counter", "last_processed_message_id",
    )
    out = {k: g.get(k) for k in keys}
    out["agent_ids"] = g.get("agent_ids") or []
    out["shared_block_ids"] = sorted(g.get("shared_block_ids") or [])
    return out


def norm_passage(p: dict) -> dict:
    return {"text": p.get("text"), "tags": sorted_tags(p.get("tags")),
            "metadata": p.get("metadata") or {}}


def norm_folder(f: dict) -> dict:
    emb = f.get("embedding_config") or {}
    return {
        "name": f.get("name"),
        "description": f.get("description"),
        "instructions": f.get("instructions"),
        "metadata": f.get("metadata") or {},
        "embedding.model": emb.get("embedding_model"),
    }


def norm_file(f: dict) -> dict:
    return {
        "file_name": f.get("file_name"),
        "original_file_name": f.get("original_file_name"),
        "file_type": f.get("file_type"),
        "file_size": f.get("file_size"),
        "processing_status": f.get("processing_status"),
        # Not total_chunks: the target chunks and embeds the files anew with its own splitter.
    }


def norm_mcp(s: dict) -> dict:
    keys = ("server_name", "mcp_server_type", "command", "args", "env", "server_url")
    return {k: s.get(k) for k in keys if k in s}


def norm_archive(a: dict) -> dict:
    emb = a.get("embedding_config") or {}
    return {"name": a.get("name"), "description": a.get("description"),
            "metadata": a.get("metadata") or {}, "vector_db_provider": a.get("vector_db_provider"),
            "embedding.model": emb.get("embedding_model")}


# ----------------------------------------------------------------------------- snapshot


def snapshot(s: Server, passages_per_agent: int = 0) -> dict[str, Any]:
    """Everything comparable on one server, keyed by kind then id."""
    snap: dict[str, Any] = {}
    agents = s.paged("/v1/agents/", include=["agent.blocks", "agent.tools", "agent.tags",
                                              "agent.identities", "agent.managed_group"])
    # Some agents lack fields in the list view on some versions: read each one.
    full = {}
    for a in agents:
        full[a["id"]] = s.get(f"/v1/agents/{a['id']}")
    snap["agents"] = {i: norm_agent(a) for i, a in full.items()}

    msgs: dict[str, list] = {}
    passages: dict[str, dict] = {}
    counts_: dict[str, dict] = {}
    agent_folders: dict[str, list] = {}
    for aid in full:
        msgs[aid] = [norm_message(m) for m in s.paged(
            f"/v1/agents/{aid}/messages", limit=MSG_PAGE, order="asc")]
        if passages_per_agent:
            # Letta sends every passage's 4096-float embedding: at scale, read the oldest N and
            # compare the counts (below) for the rest.
            ps = s.get(f"/v1/agents/{aid}/archival-memory", limit=passages_per_agent, ascending="true")
        else:
            ps = s.paged(f"/v1/agents/{aid}/archival-memory", limit=PASSAGE_PAGE, ascending="true")
        passages[aid] = {p["id"]: norm_passage(p) for p in ps}
        ctx = s.try_get(f"/v1/agents/{aid}/context") or {}
        counts_[aid] = {k: ctx.get(k) for k in ("num_archival_memory", "num_recall_memory")}
        fl = s.try_get(f"/v1/agents/{aid}/folders")
        agent_folders[aid] = sorted(f["id"] for f in fl or [])
    snap["messages"] = msgs
    snap["passages"] = passages
    snap["agent_folders"] = agent_folders
    snap["agent_counts"] = counts_

    snap["blocks"] = {b["id"]: norm_block(b) for b in s.paged("/v1/blocks/")}
    tools = s.paged("/v1/tools/")
    # Built-in tools (`letta_*` types) are each server's own (mneme's have their own ids and
    # descriptions): only their names are compared, through each agent's tool list.
    snap["tools"] = {t["name"]: norm_tool(t) for t in tools
                     if not (t.get("tool_type") or "").startswith("letta_")}

    ids = {}
    for i in s.paged("/v1/identities/"):
        n = norm_identity(i)
        n["linked_agents"] = sorted(a["id"] for a in s.get(f"/v1/identities/{i['id']}/agents") or [])
        n["linked_blocks"] = sorted(b["id"] for b in s.get(f"/v1/identities/{i['id']}/blocks") or [])
        ids[i["id"]] = n
    snap["identities"] = ids

    snap["groups"] = {g["id"]: norm_group(g) for g in s.paged("/v1/groups/")}

    folders = {}
    files = {}
    for f in s.paged("/v1/folders/"):
        folders[f["id"]] = norm_folder(f)
        fs = s.paged(f"/v1/folders/{f['id']}/files")
        files[f["id"]] = {x["id"]: norm_file(x) for x in fs}
    snap["folders"] = folders
    snap["folder_files"] = files

    mcp = s.try_get("/v1/mcp-servers/")
    if mcp is None:
        mcp = s.try_get("/v1/tools/mcp/servers") or {}
        mcp = list(mcp.values()) if isinstance(mcp, dict) else mcp
    snap["mcp_servers"] = {m.get("id") or m.get("server_name"): norm_mcp(m) for m in mcp}

    arch = s.try_get("/v1/archives/", limit=1000)
    if arch is not None:
        archives = {}
        for a in arch:
            n = norm_archive(a)
            ag = s.try_get(f"/v1/archives/{a['id']}/agents") or []
            n["agents"] = sorted(x["id"] for x in ag)
            archives[a["id"]] = n
        snap["archives"] = archives
    return snap


# ----------------------------------------------------------------------------- diff


def diff_value(path: str, a: Any, b: Any, out: list[str]) -> None:
    if a == b:
        return
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b), key=str):
            if f"{path.split('[')[0]}.{k}" in IGNORED:
                continue
            if k not in a:
                out.append(f"{path}.{k}: only on mneme: {short(b[k])}")
            elif k not in b:
                out.append(f"{path}.{k}: only on letta: {short(a[k])}")
            else:
                diff_value(f"{path}.{k}", a[k], b[k], out)
        return
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b) and a and isinstance(a[0], dict):
        for i, (x, y) in enumerate(zip(a, b)):
            diff_value(f"{path}[{i}]", x, y, out)
        return
    out.append(f"{path}: letta={short(a)} mneme={short(b)}")


# Kinds where an object only mneme has is expected and noted, not a difference: mneme gives
# every agent its archive when the agent is made, Letta at the first passage insert.
EXTRA_OK = {"archives"}
NOTES: list[str] = []


def diff_keyed(kind: str, a: dict, b: dict, out: list[str]) -> None:
    for k in sorted(set(a) | set(b)):
        if k not in b:
            out.append(f"{kind}[{k}]: missing on mneme")
        elif k not in a:
            if kind in EXTRA_OK:
                NOTES.append(f"{kind}[{k}]: only on mneme: {short(b[k])}")
            else:
                out.append(f"{kind}[{k}]: only on mneme: {short(b[k])}")
        else:
            diff_value(f"{kind}[{k}]", a[k], b[k], out)


def diff_messages(aid: str, a: list, b: list, out: list[str]) -> None:
    ia = {m["id"]: m for m in a}
    ib = {m["id"]: m for m in b}
    # Letta lists one tool-call message per call and splits assistant/reasoning parts of one
    # stored message into several list items with the same id: key by (id, type, n).
    ka = _keyed_msgs(a)
    kb = _keyed_msgs(b)
    missing = [k for k in ka if k not in kb]
    extra = [k for k in kb if k not in ka]
    for k in missing[:20]:
        out.append(f"messages[{aid}][{k}]: missing on mneme: {short(ka[k])}")
    if len(missing) > 20:
        out.append(f"messages[{aid}]: ... {len(missing) - 20} more missing on mneme")
    for k in extra[:20]:
        out.append(f"messages[{aid}][{k}]: only on mneme: {short(kb[k])}")
    if len(extra) > 20:
        out.append(f"messages[{aid}]: ... {len(extra) - 20} more only on mneme")
    n = 0
    for k in ka:
        if k in kb and ka[k] != kb[k]:
            n += 1
            if n <= 20:
                diff_value(f"messages[{aid}][{k}]", ka[k], kb[k], out)
    if n > 20:
        out.append(f"messages[{aid}]: ... {n - 20} more differing messages")
    order_a = [m["id"] for m in a if m["id"] in ib]
    order_b = [m["id"] for m in b if m["id"] in ia]
    if _dedup(order_a) != _dedup(order_b):
        out.append(f"messages[{aid}]: order differs")


def _dedup(ids: list[str]) -> list[str]:
    out: list[str] = []
    for i in ids:
        if not out or out[-1] != i:
            out.append(i)
    return out


def _keyed_msgs(ms: list[dict]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    count: dict[tuple, int] = {}
    for m in ms:
        key = (m["id"], m["message_type"])
        n = count.get(key, 0)
        count[key] = n + 1
        out[f"{m['id']}/{m['message_type']}" + (f"#{n}" if n else "")] = m
    return out


def compare(a: dict, b: dict) -> list[str]:
    out: list[str] = []
    for kind in ("agents", "blocks", "tools", "identities", "groups", "folders", "mcp_servers",
                 "archives", "agent_folders", "agent_counts"):
        if kind in a or kind in b:
            diff_keyed(kind, a.get(kind, {}), b.get(kind, {}), out)
    for aid in sorted(set(a["passages"]) & set(b["passages"])):
        diff_keyed(f"passages[{aid}]", a["passages"][aid], b["passages"][aid], out)
    for fid in sorted(set(a["folder_files"]) & set(b["folder_files"])):
        diff_keyed(f"folder_files[{fid}]", a["folder_files"][fid], b["folder_files"][fid], out)
    for aid in sorted(set(a["messages"]) & set(b["messages"])):
        diff_messages(aid, a["messages"][aid], b["messages"][aid], out)
    return out


def short(v: Any, n: int = 160) -> str:
    s = json.dumps(v, sort_keys=True, ensure_ascii=False) if not isinstance(v, str) else repr(v)
    return s if len(s) <= n else s[: n - 3] + "..."


def counts(snap: dict) -> dict[str, int]:
    return {
        "agents": len(snap["agents"]),
        "messages": sum(len(v) for v in snap["messages"].values()),
        "passages": sum(len(v) for v in snap["passages"].values()),
        "blocks": len(snap["blocks"]),
        "tools": len(snap["tools"]),
        "identities": len(snap["identities"]),
        "groups": len(snap["groups"]),
        "folders": len(snap["folders"]),
        "files": sum(len(v) for v in snap["folder_files"].values()),
        "mcp_servers": len(snap["mcp_servers"]),
        "archives": len(snap.get("archives", {})),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--letta", required=True)
    ap.add_argument("--mneme", required=True)
    ap.add_argument("--letta-token")
    ap.add_argument("--mneme-token")
    ap.add_argument("--json", help="write both snapshots and the differences here")
    ap.add_argument("--passages-per-agent", type=int, default=0,
                    help="read only each agent's oldest N passages (and compare the counts)")
    args = ap.parse_args()
    try:
        t0 = time.monotonic()
        left = snapshot(Server("letta", args.letta, args.letta_token), args.passages_per_agent)
        t1 = time.monotonic()
        right = snapshot(Server("mneme", args.mneme, args.mneme_token), args.passages_per_agent)
        t2 = time.monotonic()
        print(f"read letta in {t1 - t0:.1f} s, mneme in {t2 - t1:.1f} s")
    except (HttpError, urllib.error.URLError, OSError) as e:
        print(f"compare.py: cannot read a server: {e}", file=sys.stderr)
        return 2
    diffs = compare(left, right)
    print("letta:", json.dumps(counts(left)))
    print("mneme:", json.dumps(counts(right)))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"letta": left, "mneme": right, "differences": diffs, "notes": NOTES}, f,
                      indent=1)
    for n in NOTES:
        print("note: " + n)
    if diffs:
        print(f"{len(diffs)} difference(s):")
        for d in diffs:
            print("  " + d)
        return 1
    print("no differences")
    return 0


if __name__ == "__main__":
    sys.exit(main())
