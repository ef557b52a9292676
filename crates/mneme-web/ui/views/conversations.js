// An agent's conversations: separate message threads sharing its memory. Lists them, creates
// one (with an optional summary), deletes one, and opens one in the chat.
import { html, useState } from "../lib.js";
import { api, listAll } from "../api.js";
import { useAsync, notify, notifyError, Loaded, Empty, ConfirmButton, fmtDate } from "../components.js";
import { Chat } from "./chat.js";

export function Conversations({ agent }) {
  const state = useAsync(() => listAll("/v1/conversations/", { agent_id: agent.id }, 500), [agent.id]);
  const [openId, setOpenId] = useState(null);
  const open = state.data?.find((c) => c.id === openId);
  // Back from a conversation, the list is reloaded: its last message may have changed.
  const back = () => {
    setOpenId(null);
    state.reload();
  };
  if (open) return html`<${OpenConversation} agent=${agent} conversation=${open} onBack=${back} />`;
  const created = (c) => {
    state.setData((list) => [c, ...(list || [])]);
    setOpenId(c.id);
  };
  const removed = (id) => state.setData((list) => list.filter((c) => c.id !== id));
  return html`<div class="panel conversations">
    <${NewConversation} agentId=${agent.id} onCreated=${created} />
    <${Loaded} state=${state}>
      ${(list) => html`<${ConversationTable} list=${list} onOpen=${setOpenId} onRemoved=${removed} />`}
    <//>
  </div>`;
}

function NewConversation({ agentId, onCreated }) {
  const [summary, setSummary] = useState("");
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    try {
      const body = summary.trim() ? { summary: summary.trim() } : {};
      const c = await api.post("/v1/conversations/", body, { query: { agent_id: agentId } });
      setSummary("");
      notify("Conversation created.");
      onCreated(c);
    } catch (err) {
      notifyError(err);
    } finally {
      setBusy(false);
    }
  };
  return html`<form class="row card new-conversation" onSubmit=${submit} aria-label="New conversation">
    <label class="grow">Summary
      <input name="summary" placeholder="(optional) what this thread is about" value=${summary}
        onInput=${(e) => setSummary(e.target.value)} />
    </label>
    <button class="primary" type="submit" disabled=${busy}>New conversation</button>
  </form>`;
}

function ConversationTable({ list, onOpen, onRemoved }) {
  if (!list.length) return html`<${Empty}>No conversations yet: messages go to the agent's default thread.<//>`;
  const remove = async (id) => {
    try {
      await api.del(`/v1/conversations/${id}`);
      onRemoved(id);
      notify("Conversation deleted.");
    } catch (err) {
      notifyError(err);
    }
  };
  return html`<table class="list conversations-table" aria-label="Conversations">
    <thead><tr><th>Summary</th><th>Id</th><th>Created</th><th>Last message</th><th></th></tr></thead>
    <tbody>
      ${list.map(
        (c) => html`<tr key=${c.id} data-conversation-id=${c.id}>
          <td><button class="link conv-open" onClick=${() => onOpen(c.id)}>${c.summary || "(no summary)"}</button></td>
          <td><code class="small">${c.id}</code></td>
          <td>${fmtDate(c.created_at)}</td>
          <td>${fmtDate(c.last_message_at)}</td>
          <td class="actions">
            <button onClick=${() => onOpen(c.id)}>Open</button>
            <${ConfirmButton} label="Delete" onConfirm=${() => remove(c.id)} />
          </td>
        </tr>`,
      )}
    </tbody>
  </table>`;
}

function OpenConversation({ agent, conversation: c, onBack }) {
  return html`<div class="panel open-conversation" data-conversation-id=${c.id}>
    <div class="row section-head">
      <button class="link" onClick=${onBack}>← All conversations</button>
      <h3 class="grow">${c.summary || "(no summary)"} <code class="small muted">${c.id}</code></h3>
    </div>
    <${Chat} agent=${agent} conversationId=${c.id} key=${c.id} />
  </div>`;
}
