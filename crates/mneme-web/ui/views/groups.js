// Multi-agent groups: the list (manager type, members, description), a form to make one,
// delete, and one group's messages with a box to send it a message.
import { html, useState, useMemo } from "../lib.js";
import { api, listAll } from "../api.js";
import { useAsync, notify, notifyError, Loaded, Empty, ConfirmButton, fmtNumber } from "../components.js";
import { MessageList } from "./message_line.js";

// The manager types one can create here (`voice_sleeptime` needs a voice agent: left out),
// with what each needs.
const MANAGERS = [
  ["round_robin", "Round robin: each agent answers in turn"],
  ["supervisor", "Supervisor: a manager agent delegates to the others"],
  ["dynamic", "Dynamic: a manager agent picks who speaks next"],
  ["sleeptime", "Sleep-time: a primary agent, the others run in the background"],
];
const NEEDS_MANAGER = new Set(["supervisor", "dynamic", "sleeptime"]);

/** Every agent, and a map from id to name. */
function useAgents() {
  const state = useAsync(() => listAll("/v1/agents/"), []);
  const names = useMemo(() => new Map((state.data || []).map((a) => [a.id, a.name])), [state.data]);
  return { ...state, names };
}

export function Groups({ groupId }) {
  const agents = useAgents();
  if (groupId) return html`<${GroupDetail} groupId=${groupId} agents=${agents} key=${groupId} />`;
  return html`<${GroupList} agents=${agents} />`;
}

function AgentLinks({ ids, names }) {
  if (!ids?.length) return html`<span class="muted">–</span>`;
  return html`<span class="agent-links">
    ${ids.map((id) => html`<a key=${id} href=${`#/agents/${id}/chat`} title=${id}>${names.get(id) || id}</a>`)}
  </span>`;
}

function GroupList({ agents }) {
  const state = useAsync(() => listAll("/v1/groups/"), []);
  const [creating, setCreating] = useState(false);
  const remove = async (id) => {
    try {
      await api.del(`/v1/groups/${id}`);
      state.setData((list) => list.filter((g) => g.id !== id));
      notify("Group deleted.");
    } catch (err) {
      notifyError(err);
    }
  };
  return html`<div class="panel groups">
    <header class="page-head">
      <div><h1>Groups</h1><div class="muted small">Agents that answer a message together.</div></div>
      <button class="primary" onClick=${() => setCreating(!creating)}>${creating ? "Cancel" : "New group"}</button>
    </header>
    ${creating ? html`<${CreateGroup} agents=${agents} />` : null}
    <${Loaded} state=${state}>
      ${(list) =>
        list.length
          ? html`<table class="list groups-table" aria-label="Groups">
              <thead><tr><th>Description</th><th>Manager</th><th>Agents</th><th>Manager agent</th><th></th></tr></thead>
              <tbody>
                ${list.map(
                  (g) => html`<tr key=${g.id} data-group-id=${g.id}>
                    <td><a href=${`#/groups/${g.id}`}>${g.description || g.id}</a></td>
                    <td><span class="tag">${g.manager_type}</span></td>
                    <td><${AgentLinks} ids=${g.agent_ids} names=${agents.names} /></td>
                    <td><${AgentLinks} ids=${g.manager_agent_id ? [g.manager_agent_id] : []} names=${agents.names} /></td>
                    <td class="actions"><${ConfirmButton} label="Delete" onConfirm=${() => remove(g.id)} /></td>
                  </tr>`,
                )}
              </tbody>
            </table>`
          : html`<${Empty}>No groups yet.<//>`}
    <//>
  </div>`;
}

/** The body of `POST /v1/groups/` from the form. */
function groupBody(f) {
  const config = { manager_type: f.manager };
  const num = (v) => (v === "" ? undefined : Number(v));
  if (NEEDS_MANAGER.has(f.manager)) config.manager_agent_id = f.managerAgent;
  if (f.manager === "round_robin" || f.manager === "dynamic") config.max_turns = num(f.maxTurns);
  if (f.manager === "dynamic" && f.token) config.termination_token = f.token;
  if (f.manager === "sleeptime") config.sleeptime_agent_frequency = num(f.frequency);
  return { description: f.description, agent_ids: f.members, manager_config: config };
}

function CreateGroup({ agents }) {
  const [f, setF] = useState({ description: "", manager: "round_robin", members: [], managerAgent: "", maxTurns: "", token: "", frequency: "" });
  const [filter, setFilter] = useState("");
  const [busy, setBusy] = useState(false);
  const set = (k) => (e) => setF({ ...f, [k]: e.target.value });
  const toggle = (id) =>
    setF({ ...f, members: f.members.includes(id) ? f.members.filter((x) => x !== id) : [...f.members, id] });
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    try {
      const g = await api.post("/v1/groups/", groupBody(f));
      notify("Group created.");
      location.hash = `#/groups/${g.id}`;
    } catch (err) {
      notifyError(err);
    } finally {
      setBusy(false);
    }
  };
  const all = agents.data || [];
  const shown = all.filter((a) => !filter || a.name.toLowerCase().includes(filter.toLowerCase())).slice(0, 100);
  const needsManager = NEEDS_MANAGER.has(f.manager);
  const ready = f.members.length > 0 && (!needsManager || f.managerAgent);
  return html`<form class="form card create-group" onSubmit=${submit} aria-label="New group">
    <label>Description
      <input name="description" value=${f.description} onInput=${set("description")} />
    </label>
    <label>Manager type
      <select name="manager_type" aria-label="Manager type" value=${f.manager} onChange=${set("manager")}>
        ${MANAGERS.map(([k, label]) => html`<option key=${k} value=${k}>${label}</option>`)}
      </select>
    </label>
    <fieldset class="agent-picker">
      <legend>Agents <span class="hint">${f.members.length} chosen</span></legend>
      <input type="search" aria-label="Filter agents" placeholder="Filter by name" value=${filter}
        onInput=${(e) => setFilter(e.target.value)} />
      <div class="picker-list">
        ${shown.map(
          (a) => html`<label key=${a.id} class="check">
            <input type="checkbox" checked=${f.members.includes(a.id)} onChange=${() => toggle(a.id)} />
            ${a.name}
          </label>`,
        )}
        ${all.length && !shown.length ? html`<span class="muted small">No agent matches.</span>` : null}
        ${agents.loading && !all.length ? html`<span class="muted small">Loading agents…</span>` : null}
      </div>
    </fieldset>
    ${needsManager
      ? html`<label>Manager agent
          <select name="manager_agent" aria-label="Manager agent" value=${f.managerAgent} onChange=${set("managerAgent")}>
            <option value="">(choose)</option>
            ${all.map((a) => html`<option key=${a.id} value=${a.id}>${a.name}</option>`)}
          </select>
        </label>`
      : null}
    ${f.manager === "round_robin" || f.manager === "dynamic"
      ? html`<label>Max turns <span class="hint">empty: the server's default</span>
          <input name="max_turns" type="number" min="1" value=${f.maxTurns} onInput=${set("maxTurns")} />
        </label>`
      : null}
    ${f.manager === "dynamic"
      ? html`<label>Termination token <input name="termination_token" placeholder="DONE!" value=${f.token} onInput=${set("token")} /></label>`
      : null}
    ${f.manager === "sleeptime"
      ? html`<label>Sleep-time frequency <span class="hint">turns of the primary between runs</span>
          <input name="frequency" type="number" min="1" value=${f.frequency} onInput=${set("frequency")} />
        </label>`
      : null}
    <div><button class="primary" type="submit" disabled=${busy || !ready}>Create group</button></div>
  </form>`;
}

/**
 * The group's newest messages (the server answers them oldest first), and which agent ran
 * each run, so replies say who spoke.
 */
async function loadMessages(groupId) {
  const [messages, group] = await Promise.all([
    api.get(`/v1/groups/${groupId}/messages`, { limit: 50, order: "desc" }),
    api.get(`/v1/groups/${groupId}`),
  ]);
  const members = [...group.agent_ids, ...(group.manager_agent_id ? [group.manager_agent_id] : [])];
  const runs = members.length ? await api.get("/v1/runs/", { agent_ids: members, limit: 200 }) : [];
  return { messages, runAgents: new Map(runs.map((r) => [r.id, r.agent_id])) };
}

function GroupDetail({ groupId, agents }) {
  const group = useAsync(() => api.get(`/v1/groups/${groupId}`), [groupId]);
  const messages = useAsync(() => loadMessages(groupId), [groupId]);
  const runAgents = messages.data?.runAgents;
  return html`<div class="panel group-detail" data-group-id=${groupId}>
    <a href="#/groups" class="small">← Groups</a>
    <${Loaded} state=${group}>
      ${(g) => html`<header class="page-head">
        <div>
          <h1>${g.description || g.id}</h1>
          <div class="muted small"><code>${g.id}</code> · <span class="tag">${g.manager_type}</span>
            ${g.max_turns ? ` · at most ${g.max_turns} turns` : ""}</div>
          <div class="small">Agents: <${AgentLinks} ids=${g.agent_ids} names=${agents.names} />
            ${g.manager_agent_id ? html` · manager: <${AgentLinks} ids=${[g.manager_agent_id]} names=${agents.names} />` : null}</div>
        </div>
      </header>`}
    <//>
    <section class="card group-messages" aria-label="Group messages">
      <div class="row section-head">
        <h3 class="grow">Messages <span class="muted small">(the newest 50)</span></h3>
        <button onClick=${messages.reload} disabled=${messages.loading}>Refresh</button>
      </div>
      <${Loaded} state=${messages}>
        ${(d) => html`<${MessageList} messages=${d.messages} names=${agents.names} runAgents=${d.runAgents} />`}
      <//>
    </section>
    <${GroupSend} groupId=${groupId} names=${agents.names} runAgents=${runAgents} onSent=${messages.reload} />
  </div>`;
}

/** A message to the whole group, sent without streaming; the reply is shown as it came. */
function GroupSend({ groupId, names, runAgents, onSent }) {
  const [text, setText] = useState("");
  const [busy, setBusy] = useState(false);
  const [reply, setReply] = useState(null);
  const send = async (e) => {
    e.preventDefault();
    if (!text.trim()) return;
    setBusy(true);
    setReply(null);
    try {
      const r = await api.post(`/v1/groups/${groupId}/messages`, { messages: [{ role: "user", content: text }] });
      setReply(r);
      setText("");
      onSent();
    } catch (err) {
      notifyError(err);
    } finally {
      setBusy(false);
    }
  };
  return html`<section class="card group-send">
    <form class="form" onSubmit=${send} aria-label="Message the group">
      <label>Message to the group
        <textarea name="message" rows="2" value=${text} onInput=${(e) => setText(e.target.value)}
          onKeyDown=${(e) => e.key === "Enter" && (e.ctrlKey || e.metaKey) && send(e)}></textarea>
      </label>
      <div class="row">
        <button class="primary" type="submit" disabled=${busy || !text.trim()}>${busy ? "Waiting for the group…" : "Send"}</button>
        <span class="hint">Ctrl+Enter sends</span>
      </div>
    </form>
    ${reply
      ? html`<div class="group-reply" aria-label="Reply">
          <h3>Reply <span class="muted small">${`stop: ${reply.stop_reason?.stop_reason || "–"} · ${fmtNumber(reply.usage?.total_tokens)} tokens`}</span></h3>
          <${MessageList} messages=${(reply.messages || []).filter((m) => m.message_type !== "user_message")}
            names=${names} runAgents=${runAgents} />
        </div>`
      : null}
  </section>`;
}
