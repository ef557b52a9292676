#!/usr/bin/env python3
"""What Letta gains between a first migration and the cut-over run, besides a message to each
agent (replay.py --sides letta): an archival passage on every agent that has passages, and a
new value of every block two or more agents share.

    cutover.py --letta URL [--text "..."]

Prints what it changed as JSON (counts).
"""
from __future__ import annotations

import argparse
import json
import sys

from replay import req  # the same JSON-over-HTTP helper


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--letta", required=True)
    ap.add_argument("--text", default="Learned during the cut-over")
    args = ap.parse_args()
    base = args.letta.rstrip("/")
    agents = req("GET", f"{base}/v1/agents/?limit=1000&include=agent.blocks")
    passages = 0
    for a in agents:
        held = req("GET", f"{base}/v1/agents/{a['id']}/archival-memory?limit=1")
        if held:
            req("POST", f"{base}/v1/agents/{a['id']}/archival-memory",
                {"text": f"{args.text} by {a['name']}", "tags": ["cutover"]})
            passages += 1
    owners: dict[str, int] = {}
    for a in agents:
        for b in (a.get("memory") or {}).get("blocks") or a.get("blocks") or []:
            owners[b["id"]] = owners.get(b["id"], 0) + 1
    blocks = 0
    for block_id, n in sorted(owners.items()):
        if n < 2:
            continue
        b = req("GET", f"{base}/v1/blocks/{block_id}")
        req("PATCH", f"{base}/v1/blocks/{block_id}", {"value": b["value"] + f"\n{args.text}."})
        blocks += 1
    print(json.dumps({"passages": passages, "shared_blocks": blocks}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
