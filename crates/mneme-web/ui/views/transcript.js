// The chat's transcript as data: LettaMessages (listed whole, or streamed as token deltas)
// folded into display items. Pure functions, no rendering: views/chat.js draws the items.
//
// An item is { key, kind, ... } with kind one of: user, assistant, reasoning, hidden, tool,
// approval, system, summary, error, run. Parts of one stored message share its `id` (its
// reasoning and its reply, say), so text items are keyed by id and type; tool calls by their
// tool_call_id, which their returns carry too.

/** The tools whose calls change core memory: the panel reloads after their returns. */
export function editsMemory(name) {
  return /^(core_memory_|memory)/.test(name || "");
}

/** The text of a message content: a string, or a list of parts (text kept, others named). */
export function contentText(content) {
  if (content === null || content === undefined) return "";
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return JSON.stringify(content);
  return content
    .map((part) => (part?.type === "text" || typeof part?.text === "string" ? part.text : `[${part?.type || "part"}]`))
    .join("\n");
}

/** `mode` "set" (a listed message: the whole text) or "append" (a streamed delta). */
export function applyMessage(items, m, mode) {
  switch (m.message_type) {
    case "user_message":
      return upsertText(items, m, "user", contentText(m.content), mode);
    case "assistant_message":
      return upsertText(items, m, "assistant", contentText(m.content), mode);
    case "reasoning_message":
      return upsertText(items, m, "reasoning", m.reasoning || "", mode);
    case "hidden_reasoning_message":
      return upsertText(items, m, "hidden", m.hidden_reasoning || "", mode);
    case "system_message":
      return upsertText(items, m, "system", contentText(m.content), "set");
    case "tool_call_message":
      return applyCalls(items, m, "tool", mode);
    case "approval_request_message":
      return applyCalls(items, m, "approval", mode);
    case "approval_response_message":
      return applyApprovalResponse(items, m);
    case "tool_return_message":
      return applyReturns(items, m);
    case "summary_message":
      return upsertText(items, m, "summary", m.summary || "", "set");
    case "event_message":
      return upsertText(items, m, "summary", `${m.event_type || "event"}`, "set");
    case "error_message":
      return [...items, errorItem(m.message || m.detail || "error", m.id || m.run_id)];
    default:
      return items; // pings, stop reasons and usage are the stream's, not the transcript's
  }
}

/** Items for a page of listed messages, oldest first. */
export function fromHistory(messages) {
  return messages.reduce((items, m) => applyMessage(items, m, "set"), []);
}

let localCount = 0;

/** An item the page made itself (the user's message as sent, an error, a run's summary). */
export function localItem(kind, fields) {
  localCount += 1;
  return { key: `local-${localCount}`, kind, ...fields };
}

export function errorItem(text) {
  return localItem("error", { text: String(text) });
}

function replaceAt(items, i, item) {
  const next = items.slice();
  next[i] = item;
  return next;
}

function upsertText(items, m, kind, text, mode) {
  const key = `${m.id}:${kind}`;
  const i = items.findIndex((it) => it.key === key);
  if (i < 0) return [...items, { key, kind, text, date: m.date, id: m.id }];
  const old = items[i];
  return replaceAt(items, i, { ...old, text: mode === "append" ? old.text + text : text });
}

/** The calls a tool_call_message carries: `tool_calls` (a list, or one delta), else `tool_call`. */
function callsOf(m) {
  if (Array.isArray(m.tool_calls)) return m.tool_calls;
  if (m.tool_calls) return [m.tool_calls];
  return m.tool_call ? [m.tool_call] : [];
}

function applyCalls(items, m, kind, mode) {
  let next = items;
  for (const call of callsOf(m)) {
    // A delta without its call id continues the last call of the same message.
    const id = call.tool_call_id || lastCallOf(next, m.id)?.callId || `${m.id}`;
    const key = `call:${id}`;
    const i = next.findIndex((it) => it.key === key);
    if (i < 0) {
      next = [...next, { key, kind, callId: id, id: m.id, name: call.name || "", args: call.arguments || "", date: m.date }];
      continue;
    }
    const old = next[i];
    const args = mode === "append" ? old.args + (call.arguments || "") : call.arguments || "";
    next = replaceAt(next, i, { ...old, kind, name: old.name || call.name || "", args });
  }
  return next;
}

function lastCallOf(items, messageId) {
  for (let i = items.length - 1; i >= 0; i--) {
    if (items[i].callId && items[i].id === messageId) return items[i];
  }
  return null;
}

/** The returns a tool_return_message carries: `tool_returns`, else its own fields. */
function returnsOf(m) {
  if (Array.isArray(m.tool_returns) && m.tool_returns.length) return m.tool_returns;
  return [{ tool_call_id: m.tool_call_id, status: m.status, tool_return: m.tool_return, stdout: m.stdout, stderr: m.stderr }];
}

function applyReturns(items, m) {
  let next = items;
  for (const r of returnsOf(m)) {
    const ret = { status: r.status, value: r.tool_return ?? r.func_response ?? "", stdout: r.stdout, stderr: r.stderr };
    const key = `call:${r.tool_call_id}`;
    const i = next.findIndex((it) => it.key === key);
    if (i < 0) {
      next = [...next, { key, kind: "tool", callId: r.tool_call_id, id: m.id, name: m.name || "", args: "", ret, date: m.date }];
    } else {
      next = replaceAt(next, i, { ...next[i], kind: "tool", ret });
    }
  }
  return next;
}

function applyApprovalResponse(items, m) {
  let next = items;
  for (const a of m.approvals || []) {
    const i = next.findIndex((it) => it.key === `call:${a.tool_call_id}`);
    if (i >= 0) next = replaceAt(next, i, { ...next[i], decision: a.approve === false ? "denied" : "approved" });
  }
  return next;
}

/** The names of the tools whose returns `m` carries (for the memory panel's refresh). */
export function returnedToolNames(items, m) {
  if (m.message_type !== "tool_return_message") return [];
  return returnsOf(m).map((r) => items.find((it) => it.key === `call:${r.tool_call_id}`)?.name || m.name || "");
}

/** JSON text pretty-printed; anything else as it is. */
export function pretty(text) {
  if (typeof text !== "string") return JSON.stringify(text, null, 2);
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch (_) {
    return text; // partial (still streaming) or plain text
  }
}

/** A call's arguments on one line: `label: "human", content: "likes tea"`. */
export function argsLine(text) {
  try {
    const v = JSON.parse(text);
    if (v && typeof v === "object" && !Array.isArray(v)) {
      return Object.entries(v)
        .map(([k, x]) => `${k}: ${JSON.stringify(x)}`)
        .join(", ");
    }
  } catch (_) {
    /* still streaming: shown raw */
  }
  return text || "";
}
