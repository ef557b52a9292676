// An agent's settings tab: its fields, its tools, export as an Agent File, delete, raw JSON.
import { html, useState } from "../lib.js";
import { api, listAll } from "../api.js";
import {
  useAsync, Loaded, Empty, ConfirmButton, Expandable, JsonView, notify, notifyError, truncate,
} from "../components.js";
import { HandlePicker, useHandles, splitTags } from "./create_agent.js";

function formOf(agent) {
  return {
    name: agent.name || "",
    description: agent.description || "",
    tags: (agent.tags || []).join(", "),
    system: agent.system || "",
    model: agent.model || agent.llm_config?.handle || "",
  };
}

/** The fields the form changed, as an UpdateAgent body. */
function changes(agent, form) {
  const before = formOf(agent);
  const body = {};
  for (const key of ["name", "description", "system", "model"]) {
    if (form[key] !== before[key]) body[key] = form[key];
  }
  const tags = splitTags(form.tags);
  if (tags.join("\n") !== (agent.tags || []).join("\n")) body.tags = tags;
  return body;
}

function GeneralForm({ agent, onChange }) {
  const [form, setForm] = useState(() => formOf(agent));
  const [busy, setBusy] = useState(false);
  const models = useHandles("/v1/models/");
  const set = (key) => (v) => setForm((f) => ({ ...f, [key]: v?.target ? v.target.value : v }));
  const save = async (e) => {
    e.preventDefault();
    const body = changes(agent, form);
    if (!Object.keys(body).length) return notify("Nothing changed");
    setBusy(true);
    try {
      await api.patch(`/v1/agents/${agent.id}`, body);
      notify("Saved");
      onChange?.();
    } catch (err) {
      notifyError(err);
    } finally {
      setBusy(false);
    }
  };
  return html`<form class="form card" onSubmit=${save} aria-label="Agent settings">
    <h2>General</h2>
    <label>Name <input name="name" value=${form.name} onInput=${set("name")} /></label>
    <label>Description <input name="description" value=${form.description} onInput=${set("description")} /></label>
    <label>Tags <input name="tags" value=${form.tags} onInput=${set("tags")} />
      <span class="hint">Comma separated.</span></label>
    <div class="field"><span>Model</span>
      <${HandlePicker} label="Model" value=${form.model} onChange=${set("model")} handles=${models.data} />
    </div>
    <label>System prompt <textarea name="system" rows="8" value=${form.system} onInput=${set("system")} /></label>
    <div><button class="primary" type="submit" disabled=${busy}>${busy ? "Saving…" : "Save"}</button></div>
  </form>`;
}

/** The agent's tools, each detachable, and a select to attach one of the server's others. */
function AgentTools({ agent, onChange }) {
  const attached = useAsync(() => api.get(`/v1/agents/${agent.id}/tools`, { limit: 1000 }), [agent.id]);
  const all = useAsync(() => listAll("/v1/tools/"), []);
  const [pick, setPick] = useState("");
  const act = async (verb, tool) => {
    try {
      await api.patch(`/v1/agents/${agent.id}/tools/${verb}/${tool.id}`);
      notify(`${verb === "attach" ? "Attached" : "Detached"} ${tool.name}`);
      setPick("");
      attached.reload();
      onChange?.();
    } catch (err) {
      notifyError(err);
    }
  };
  return html`<section class="card agent-tools">
    <h2>Tools</h2>
    <${Loaded} state=${attached}>
      ${(tools) => html`<div>
        ${tools.length === 0 ? html`<${Empty}>No tools attached.<//>` : html`<table class="list">
          <thead><tr><th>Tool</th><th>Description</th><th></th></tr></thead>
          <tbody>${tools.map((t) => html`<tr key=${t.id} data-tool-name=${t.name}>
            <td><a href=${`#/tools/${t.id}`}>${t.name}</a><div><span class="tool-type">${t.tool_type}</span></div></td>
            <td class="small muted">${truncate(t.description, 90)}</td>
            <td><button class="link" aria-label=${`Detach ${t.name}`} onClick=${() => act("detach", t)}>Detach</button></td>
          </tr>`)}</tbody>
        </table>`}
        <${AttachRow} tools=${all.data} attached=${tools} pick=${pick} setPick=${setPick}
          onAttach=${(t) => act("attach", t)} />
      </div>`}
    <//>
  </section>`;
}

function AttachRow({ tools, attached, pick, setPick, onAttach }) {
  const have = new Set(attached.map((t) => t.id));
  const free = (tools || []).filter((t) => !have.has(t.id)).sort((a, b) => a.name.localeCompare(b.name));
  const chosen = free.find((t) => t.id === pick);
  return html`<div class="row attach-row">
    <select aria-label="Tool to attach" value=${pick} onChange=${(e) => setPick(e.target.value)}>
      <option value="">Choose a tool to attach…</option>
      ${free.map((t) => html`<option key=${t.id} value=${t.id}>${t.name} (${t.tool_type})</option>`)}
    </select>
    <button disabled=${!chosen} onClick=${() => onAttach(chosen)}>Attach</button>
  </div>`;
}

/** Saves `text` as a file named `name` through a temporary object URL. */
function download(text, name) {
  const href = URL.createObjectURL(new Blob([text], { type: "application/json" }));
  const a = document.createElement("a");
  a.href = href;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(href), 1000);
}

function fileName(agent) {
  return `${(agent.name || agent.id).replace(/[\\/:*?"<>|]+/g, "_")}.af`;
}

function ExportCard({ agent }) {
  const [scrub, setScrub] = useState(false);
  const [busy, setBusy] = useState(false);
  const run = async () => {
    setBusy(true);
    try {
      const resp = await api.raw("GET", `/v1/agents/${agent.id}/export`, {
        query: { scrub_messages: scrub || undefined },
      });
      download(await resp.text(), fileName(agent));
    } catch (err) {
      notifyError(err);
    } finally {
      setBusy(false);
    }
  };
  return html`<section class="card">
    <h2>Export</h2>
    <p class="muted small">An Agent File (.af) holds the agent, its memory, tools and messages;
      import it into any Letta-compatible server.</p>
    <div class="row">
      <button onClick=${run} disabled=${busy}>Export .af</button>
      <label class="inline-check small"><input type="checkbox" checked=${scrub}
        onChange=${(e) => setScrub(e.target.checked)} /> without messages</label>
    </div>
  </section>`;
}

function DeleteCard({ agent }) {
  const remove = async () => {
    try {
      await api.del(`/v1/agents/${agent.id}`);
      notify(`Deleted ${agent.name}`);
      location.hash = "#/agents";
    } catch (err) {
      notifyError(err);
    }
  };
  return html`<section class="card danger-zone">
    <h2>Delete</h2>
    <p class="muted small">Deletes the agent and its messages; shared blocks and tools stay.</p>
    <${ConfirmButton} label="Delete agent" onConfirm=${remove} />
  </section>`;
}

export function AgentSettings({ agent, onChange }) {
  return html`<div class="agent-settings">
    <div class="settings-grid">
      <${GeneralForm} agent=${agent} onChange=${onChange} key=${agent.id} />
      <div class="settings-side">
        <${AgentTools} agent=${agent} onChange=${onChange} />
        <${ExportCard} agent=${agent} />
        <${DeleteCard} agent=${agent} />
      </div>
    </div>
    <${Expandable} summary="Raw agent JSON" className="raw-json">
      <${JsonView} value=${agent} />
    <//>
  </div>`;
}
