#!/usr/bin/env python3
"""Writes a large current-format Agent File: one agent, N messages (default 100,000, ~50 MB).

    bench/agent-file/make_big_af.py [-o big.af] [--messages 100000] [--seed 1]

The history repeats a realistic turn shape: a user message, then either a plain assistant answer
or an assistant tool call (with reasoning text) followed by the tool's return and an assistant
answer. Texts are sentences drawn from a fixed vocabulary with a seeded RNG, so the same seed
gives the same bytes. The in-context window is the system message plus the last 40 messages,
starting at a user message (no tool return without its call). Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import uuid
from datetime import datetime, timedelta, timezone

WORDS = (
    "the agent remembers a project deadline meeting notes budget draft review customer ticket "
    "release branch database migration memory block archival search result weather forecast "
    "travel plan recipe grocery list invoice contract schedule reminder summary question answer "
    "yesterday tomorrow morning evening quickly carefully because although however therefore "
    "please thanks update check send find write read compare explain describe"
).split()

SYSTEM = (
    "You are a helpful assistant with a long memory. You keep notes about the user in your core "
    "memory blocks and look older conversations up with conversation_search."
)
TOOL = "lookup_notes"
TOOL_SOURCE = f'''def {TOOL}(query: str) -> str:
    """Looks the user's notes up.

    Args:
        query: What to look for.

    Returns:
        The matching notes.
    """
    return "no notes"
'''


def sentence(rng: random.Random, lo: int, hi: int) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(lo, hi))]
    return " ".join(words).capitalize() + "."


def paragraph(rng: random.Random, sentences: int) -> str:
    return " ".join(sentence(rng, 5, 14) for _ in range(sentences))


def text(value: str) -> list[dict]:
    return [{"type": "text", "text": value}]


def message(i: int, role: str, at: datetime, content: list[dict], **extra) -> dict:
    base = {
        "type": "message",
        "role": role,
        "content": content,
        "name": None,
        "otid": None,
        "sender_id": None,
        "batch_item_id": None,
        "group_id": None,
        "id": f"message-{i}",
        "model": "gpt-4o-mini",
        "agent_id": "agent-0",
        "tool_calls": None,
        "tool_call_id": None,
        "tool_returns": [],
        "created_at": at.isoformat(),
        "approve": None,
        "approval_request_id": None,
        "denial_reason": None,
    }
    base.update(extra)
    return base


def turn(rng: random.Random, start: int, at: datetime) -> list[dict]:
    """One exchange: user, then an answer or a tool call, its return and an answer."""
    out = [message(start, "user", at, text(paragraph(rng, rng.randint(1, 2))))]
    if rng.random() < 0.4:
        call_id = f"call_{uuid.UUID(int=rng.getrandbits(128)).hex[:24]}"
        args = json.dumps({"query": sentence(rng, 2, 6)})
        call = {"id": call_id, "type": "function", "function": {"name": TOOL, "arguments": args}}
        out.append(message(start + 1, "assistant", at, text(sentence(rng, 5, 12)), tool_calls=[call]))
        ret = json.dumps({"status": "OK", "message": paragraph(rng, rng.randint(1, 3))})
        out.append(message(start + 2, "tool", at, text(ret), name=TOOL, tool_call_id=call_id))
    out.append(message(start + len(out), "assistant", at, text(paragraph(rng, rng.randint(1, 3)))))
    return out


def history(rng: random.Random, count: int) -> list[dict]:
    at = datetime(2025, 1, 1, tzinfo=timezone.utc)
    msgs = [message(0, "system", at, text(SYSTEM))]
    while len(msgs) < count:
        at += timedelta(seconds=rng.randint(5, 600))
        msgs.extend(turn(rng, len(msgs), at))
    msgs = msgs[:count]
    if msgs[-1]["tool_calls"]:  # cut after a call: no call without its return
        msgs[-1]["tool_calls"] = None
    return msgs


def in_context(msgs: list[dict], tail: int = 40) -> list[str]:
    start = max(1, len(msgs) - tail)
    while start < len(msgs) and msgs[start]["role"] != "user":
        start += 1
    return [msgs[0]["id"]] + [m["id"] for m in msgs[start:]]


def llm_config() -> dict:
    return {
        "model": "gpt-4o-mini",
        "model_endpoint_type": "openai",
        "model_endpoint": "https://api.openai.com/v1",
        "provider_name": "openai",
        "provider_category": "base",
        "model_wrapper": None,
        "context_window": 128000,
        "put_inner_thoughts_in_kwargs": False,
        "handle": "openai/gpt-4o-mini",
        "temperature": 0.7,
        "max_tokens": 4096,
        "enable_reasoner": False,
        "reasoning_effort": None,
        "max_reasoning_tokens": 0,
        "frequency_penalty": None,
        "compatibility_type": None,
        "verbosity": None,
        "tier": None,
    }


def embedding_config() -> dict:
    return {
        "embedding_endpoint_type": "openai",
        "embedding_endpoint": "https://api.openai.com/v1",
        "embedding_model": "text-embedding-3-small",
        "embedding_dim": 1536,
        "embedding_chunk_size": 300,
        "handle": "openai/text-embedding-3-small",
        "batch_size": 32,
        "azure_endpoint": None,
        "azure_version": None,
        "azure_deployment": None,
    }


def block(i: int, label: str, value: str) -> dict:
    return {"id": f"block-{i}", "label": label, "value": value, "limit": 20000, "description": None,
            "metadata": {}, "read_only": False, "hidden": None, "is_template": False,
            "template_name": None, "template_id": None, "base_template_id": None, "deployment_id": None,
            "entity_id": None, "preserve_on_migration": False, "project_id": None}


def tool() -> dict:
    schema = {"name": TOOL, "description": "Looks the user's notes up.",
              "parameters": {"type": "object",
                             "properties": {"query": {"type": "string", "description": "What to look for."}},
                             "required": ["query"]}}
    return {"id": "tool-0", "tool_type": "custom", "description": "Looks the user's notes up.",
            "source_type": "python", "name": TOOL, "tags": [], "source_code": TOOL_SOURCE,
            "json_schema": schema, "args_json_schema": None, "return_char_limit": 50000,
            "pip_requirements": None, "npm_requirements": None, "default_requires_approval": None,
            "metadata_": {}}


def agent(msgs: list[dict]) -> dict:
    return {
        "id": "agent-0", "name": "big-history", "agent_type": "memgpt_v2_agent", "system": SYSTEM,
        "memory_blocks": [], "tools": [], "tool_ids": ["tool-0"], "source_ids": [],
        "block_ids": ["block-0", "block-1"],
        "tool_rules": [{"tool_name": TOOL, "type": "continue_loop", "prompt_template": None}],
        "tags": ["bench"], "llm_config": llm_config(), "embedding_config": embedding_config(),
        "description": "A generated agent with a long history (bench/agent-file).",
        "metadata": None, "tool_exec_environment_variables": {}, "secrets": None,
        "message_buffer_autoclear": False, "enable_sleeptime": False, "timezone": "UTC",
        "max_files_open": 5, "per_file_view_window_char_limit": 15000,
        "in_context_message_ids": in_context(msgs), "messages": msgs, "files_agents": [],
        "group_ids": [],
    }


def document(count: int, seed: int) -> dict:
    rng = random.Random(seed)
    msgs = history(rng, count)
    blocks = [block(0, "human", "Name: Sam. Works on " + sentence(rng, 4, 8)),
              block(1, "persona", "I am a patient assistant with a long memory.")]
    return {"agents": [agent(msgs)], "groups": [], "blocks": blocks, "files": [], "sources": [],
            "tools": [tool()], "mcp_servers": [], "skills": [],
            "metadata": {"revision_id": "bench"}, "created_at": datetime.now(timezone.utc).isoformat()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-o", "--output", default="big.af")
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--indent", type=int, default=None, help="pretty-print (Letta exports use 2)")
    args = ap.parse_args()
    doc = document(args.messages, args.seed)
    with open(args.output, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=args.indent)
    msgs = doc["agents"][0]["messages"]
    size = os.path.getsize(args.output)
    print(f"{args.output}: {len(msgs)} messages, {len(doc['agents'][0]['in_context_message_ids'])} in context, "
          f"{size / 1e6:.1f} MB", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
