// One Letta message (`LettaMessageUnion`) as a compact line: who, what kind, and its text,
// tool call or tool return. Shared by the runs, groups and conversations panels.
import { html } from "../lib.js";
import { fmtDate, truncate } from "../components.js";

/** The text of a message's `content`: a string, or a list of content parts. */
export function contentText(content) {
  if (content === null || content === undefined) return "";
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content.map((p) => (typeof p === "string" ? p : p?.text ?? p?.content ?? `[${p?.type || "part"}]`)).join("\n");
  }
  return JSON.stringify(content);
}

function toolCalls(m) {
  if (Array.isArray(m.tool_calls) && m.tool_calls.length) return m.tool_calls;
  return m.tool_call ? [m.tool_call] : [];
}

/** What a message says, as text: the part a person reads. */
export function messageText(m) {
  switch (m.message_type) {
    case "reasoning_message":
      return m.reasoning || "";
    case "hidden_reasoning_message":
      return "(hidden reasoning)";
    case "tool_call_message":
    case "approval_request_message":
      return toolCalls(m)
        .map((c) => `${c.name}(${truncate(c.arguments ?? "", 300)})`)
        .join("\n");
    case "tool_return_message":
      return `${m.status === "error" ? "error: " : ""}${truncate(m.tool_return ?? "", 600)}`;
    default:
      return contentText(m.content ?? m.summary);
  }
}

const KIND = {
  user_message: "user",
  assistant_message: "assistant",
  reasoning_message: "reasoning",
  hidden_reasoning_message: "reasoning",
  tool_call_message: "tool call",
  tool_return_message: "tool return",
  system_message: "system",
  approval_request_message: "approval request",
  approval_response_message: "approval",
  summary_message: "summary",
  event_message: "event",
};

// The kinds of message an agent says itself (whose run it is tells who spoke).
const SAID = new Set(["assistant_message", "reasoning_message", "hidden_reasoning_message", "tool_call_message", "tool_return_message"]);

/** Who a message is from: its `name`, else the agent whose run produced it (`runAgents`). */
function speaker(m, names, runAgents) {
  if (m.name) return m.name;
  if (!names) return "";
  if (m.sender_id && names.has(m.sender_id)) return names.get(m.sender_id);
  const agent = SAID.has(m.message_type) && runAgents ? runAgents.get(m.run_id) : null;
  return agent ? names.get(agent) || "" : "";
}

/**
 * A message line; `names` maps agent ids to names and `runAgents` run ids to agent ids, so a
 * group's messages say which agent spoke.
 */
export function MessageLine({ message: m, names, runAgents }) {
  const kind = KIND[m.message_type] || m.message_type;
  return html`<li class="msg-line msg-${m.message_type}" data-message-type=${m.message_type}>
    <span class="msg-kind">${kind}</span>
    <span class="msg-who">${speaker(m, names, runAgents)}</span>
    <span class="msg-text">${messageText(m)}</span>
    <span class="msg-date muted small" title=${m.date}>${fmtDate(m.date)}</span>
  </li>`;
}

export function MessageList({ messages, names, runAgents, empty = "No messages." }) {
  if (!messages?.length) return html`<div class="muted small">${empty}</div>`;
  return html`<ul class="msg-list">
    ${messages.map(
      (m, i) => html`<${MessageLine} key=${(m.id || "") + m.message_type + i} message=${m} names=${names} runAgents=${runAgents} />`,
    )}
  </ul>`;
}
