#!/usr/bin/env python3
"""Send one more message to each agent on both servers and compare what the fake LLM was sent.

    replay.py --letta URL --mneme URL --fake http://127.0.0.1:8765 [--json OUT]
    replay.py --letta URL --mneme URL --sides letta --text "..."   # traffic on Letta only

For every agent the user made (sleep-time companions are left out: Letta runs them in the
background), the same user message goes to Letta, then to mneme; the chat requests the fake
LLM recorded for each (`GET /_fake/requests`) are compared after ids, timestamps and counts
that cannot match are masked. Only the first request of each turn is compared (a turn's later
steps depend on the model's answers, which are the fake's and identical anyway).
Exit 1 when a request differs.
"""
from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
import time
import urllib.request

ID_RE = re.compile(
    r"\b(agent|message|block|tool|passage|file|source|folder|identity|group|run|step|archive|"
    r"mcp_server|call|req|conversation)[-_][0-9a-fA-F-]{8,}\b"
)
UUID_RE = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
CALL_RE = re.compile(r"\bcall_[A-Za-z0-9]{6,}\b")
TIME_RES = [
    re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d+)?( ?(AM|PM))?( ?[A-Z]{3}[+-]\d{4}|Z|[+-]\d{2}:?\d{2})?"),
    re.compile(r"\d{4}-\d{2}-\d{2}"),
    re.compile(r"\d{1,2}:\d{2}(:\d{2})? ?(AM|PM)"),
]


def req(method: str, url: str, body: dict | None = None):
    data = json.dumps(body).encode() if body is not None else None
    r = urllib.request.Request(url, data=data, method=method,
                               headers={"content-type": "application/json"})
    with urllib.request.urlopen(r, timeout=300) as resp:
        raw = resp.read()
        return json.loads(raw) if raw else None


def mask(v):
    if isinstance(v, str):
        s = ID_RE.sub(lambda m: f"<{m.group(1)}-id>", v)
        s = UUID_RE.sub("<uuid>", s)
        s = CALL_RE.sub("<call-id>", s)
        for r in TIME_RES:
            s = r.sub("<time>", s)
        return s
    if isinstance(v, list):
        return [mask(x) for x in v]
    if isinstance(v, dict):
        return {k: mask(x) for k, x in v.items() if k not in ("user", "stream_options")}
    return v


# DESIGN.md ("tool rules" invariant): mneme renders the rules into the system prompt's
# <tool_usage_rules> from creation on; Letta only at the first rebuild. Not held against it.
RULES_RE = re.compile(r"<tool_usage_rules>.*?</tool_usage_rules>\n*", re.S)


def view(body: dict) -> dict:
    """The parts of a chat request the agent's state decides (tool call ids left out: Letta
    sends them cut to 29 characters)."""
    msgs = []
    for m in body.get("messages", []):
        v = {k: m.get(k) for k in ("role", "content", "tool_calls", "name") if m.get(k) is not None}
        if m.get("role") == "system" and isinstance(v.get("content"), str):
            v["content"] = RULES_RE.sub("", v["content"])
        if v.get("tool_calls"):
            v["tool_calls"] = [{k: c.get(k) for k in ("type", "function")} for c in v["tool_calls"]]
        msgs.append(v)
    tools = sorted((t.get("function") or t).get("name", "") for t in body.get("tools") or [])
    return mask({"model": body.get("model"), "messages": msgs, "tools": tools,
                 "tool_choice": body.get("tool_choice")})


def explain(path: str, a, b, out: list[str]) -> None:
    """Readable differences: dicts and lists item by item, strings by the part that differs."""
    if a == b:
        return
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            explain(f"{path}.{k}", a.get(k), b.get(k), out)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out.append(f"{path}: {len(a)} items on letta, {len(b)} on mneme")
        for i, (x, y) in enumerate(zip(a, b)):
            explain(f"{path}[{i}]", x, y, out)
        for i, x in enumerate(a[len(b):], len(b)):
            out.append(f"{path}[{i}] only on letta: {json.dumps(x)[:300]}")
        for i, y in enumerate(b[len(a):], len(a)):
            out.append(f"{path}[{i}] only on mneme: {json.dumps(y)[:300]}")
    elif isinstance(a, str) and isinstance(b, str):
        # Every group of lines that differs (up to 6).
        la, lb = a.splitlines(), b.splitlines()
        ops = [o for o in difflib.SequenceMatcher(None, la, lb, autojunk=False).get_opcodes()
               if o[0] != "equal"]
        for tag, i1, i2, j1, j2 in ops[:6]:
            out.append(f"{path} (line {i1 + 1}):\n      letta: {chr(10).join(la[i1:i2])[:400]!r}"
                       f"\n      mneme: {chr(10).join(lb[j1:j2])[:400]!r}")
        if len(ops) > 6:
            out.append(f"{path}: ... {len(ops) - 6} more differing line groups")
    else:
        out.append(f"{path}: letta={json.dumps(a)[:300]} mneme={json.dumps(b)[:300]}")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--letta", required=True)
    ap.add_argument("--mneme", required=True)
    ap.add_argument("--fake", default="http://127.0.0.1:8765")
    ap.add_argument("--text", default="One more message after the migration.")
    ap.add_argument("--only", default="", help="a regular expression agent names must match")
    ap.add_argument("--sides", default="letta,mneme",
                    help="'letta' alone: traffic on Letta only (a cut-over's), nothing compared")
    ap.add_argument("--json")
    args = ap.parse_args()
    sides = [s for s in (("letta", args.letta), ("mneme", args.mneme)) if s[0] in args.sides.split(",")]
    fake = args.fake.rstrip("/")
    agents = req("GET", f"{args.letta}/v1/agents/?limit=1000")
    agents = [a for a in agents if a["agent_type"] != "sleeptime_agent" and re.search(args.only, a["name"])]
    diffs: list[str] = []
    report = {}
    for a in sorted(agents, key=lambda a: a["name"]):
        tools = {t["name"] for t in a.get("tools") or []}
        firsts = {}
        for side, base in sides:
            if "roll_dice" in tools:  # its run_first rule wants the custom tool called first
                req("POST", f"{fake}/_fake/rules", {"when_last_user_contains": args.text, "times": 1,
                    "reply": {"tool_calls": [{"name": "roll_dice", "arguments": {"sides": 6, "request_heartbeat": True}}]}})
            before = len(req("GET", f"{fake}/_fake/requests"))
            t0 = time.monotonic()
            try:
                req("POST", f"{base}/v1/agents/{a['id']}/messages",
                    {"messages": [{"role": "user", "content": args.text}]})
            except Exception as e:  # noqa: BLE001
                diffs.append(f"{a['name']}: {side} send failed: {e}")
                continue
            sent = req("GET", f"{fake}/_fake/requests")[before:]
            firsts[side] = [view(b) for b in sent if args.text in json.dumps(b)][:1]
            report.setdefault(a["id"], {})[side] = {"requests": len(sent),
                                                    "seconds": round(time.monotonic() - t0, 2)}
        if len(firsts) == 2:
            l, m = firsts["letta"], firsts["mneme"]
            if l != m:
                lines: list[str] = []
                explain("request", l[0] if l else None, m[0] if m else None, lines)
                diffs.append(f"{a['name']} ({a['id']}): first request differs:\n    "
                             + "\n    ".join(lines[:30]) + ("\n    ..." if len(lines) > 30 else ""))
            report[a["id"]]["first_request"] = {"letta": l, "mneme": m}
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"agents": report, "differences": diffs}, f, indent=1)
    if diffs:
        print(f"{len(diffs)} agent(s) differ:")
        for d in diffs:
            print("  " + d)
        return 1
    if len(sides) < 2:
        print(f"replay: {len(agents)} agents, one message each on {args.sides}")
        return 0
    print(f"replay: {len(agents)} agents, the same requests on both servers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
