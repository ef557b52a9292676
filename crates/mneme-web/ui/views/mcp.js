// MCP servers: the list, a form to add one (streamable HTTP, SSE or stdio), and a server's tools
// with their schemas, refreshed from the server on demand.
import { html, useState } from "../lib.js";
import { api } from "../api.js";
import {
  useAsync, Loaded, Empty, ErrorBox, ConfirmButton, Expandable, JsonView, notify, notifyError, truncate,
} from "../components.js";
import { ParamTable } from "./tools.js";

const TYPES = [
  ["streamable_http", "Streamable HTTP"],
  ["sse", "SSE"],
  ["stdio", "stdio (a local process)"],
];

/** "Name: value" (or "NAME=value") lines → an object; blank lines are skipped. */
function pairs(text, sep) {
  const out = {};
  for (const line of text.split("\n")) {
    const at = line.indexOf(sep);
    if (!line.trim()) continue;
    if (at < 1) throw new Error(`Each line needs a "${sep}": ${line.trim()}`);
    out[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return Object.keys(out).length ? out : undefined;
}

function where(server) {
  if (server.mcp_server_type === "stdio") return [server.command, ...(server.args || [])].join(" ");
  return server.server_url || "";
}

/** The CreateMCPServerRequest of the form. */
function createBody(f) {
  if (f.type === "stdio") {
    const args = f.args.split("\n").map((a) => a.trim()).filter(Boolean);
    const config = { mcp_server_type: "stdio", command: f.command.trim(), args, env: pairs(f.env, "=") };
    return { server_name: f.name.trim(), config };
  }
  return {
    server_name: f.name.trim(),
    config: {
      mcp_server_type: f.type,
      server_url: f.url.trim(),
      auth_header: f.authToken ? f.authHeader.trim() || "Authorization" : undefined,
      auth_token: f.authToken || undefined,
      custom_headers: pairs(f.headers, ":"),
    },
  };
}

const EMPTY = {
  name: "", type: "streamable_http", url: "", authHeader: "Authorization", authToken: "", headers: "",
  command: "", args: "", env: "",
};

function HttpFields({ form, set }) {
  return html`
    <label>URL <input name="url" value=${form.url} onInput=${set("url")} placeholder="https://example.com/mcp"
      required /></label>
    <div class="row">
      <label class="grow">Auth header <input value=${form.authHeader} onInput=${set("authHeader")} /></label>
      <label class="grow">Auth token <input type="password" value=${form.authToken} onInput=${set("authToken")}
        placeholder="(none)" autocomplete="off" /></label>
    </div>
    <label>Other headers
      <textarea rows="2" value=${form.headers} onInput=${set("headers")} placeholder="X-Team: research" />
      <span class="hint">One "Name: value" per line.</span></label>`;
}

function StdioFields({ form, set }) {
  return html`
    <label>Command
      <input name="command" value=${form.command} onInput=${set("command")} placeholder="npx" required /></label>
    <label>Arguments
      <textarea rows="3" value=${form.args} onInput=${set("args")}
        placeholder="-y\n@modelcontextprotocol/server-everything" />
      <span class="hint">One per line.</span></label>
    <label>Environment <textarea rows="2" value=${form.env} onInput=${set("env")} placeholder="API_KEY=..." />
      <span class="hint">One NAME=value per line.</span></label>`;
}

function AddServer({ onAdded, onCancel }) {
  const [form, setForm] = useState(EMPTY);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const set = (key) => (e) => setForm((f) => ({ ...f, [key]: e.target.value }));
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const server = await api.post("/v1/mcp-servers/", createBody(form));
      notify(`Added ${server.server_name}`);
      onAdded(server);
    } catch (err) {
      setError(err);
      notifyError(err);
    } finally {
      setBusy(false);
    }
  };
  return html`<form class="form card add-mcp" onSubmit=${submit} aria-label="Add MCP server">
    <h2>Add an MCP server</h2>
    <div class="row">
      <label class="grow">Name <input name="server_name" value=${form.name} onInput=${set("name")} required /></label>
      <label class="grow">Transport
        <select aria-label="Transport" value=${form.type} onChange=${set("type")}>
          ${TYPES.map(([v, l]) => html`<option key=${v} value=${v}>${l}</option>`)}
        </select></label>
    </div>
    ${form.type === "stdio"
      ? html`<${StdioFields} form=${form} set=${set} />`
      : html`<${HttpFields} form=${form} set=${set} />`}
    <${ErrorBox} error=${error} />
    <div class="row">
      <button class="primary" type="submit" disabled=${busy}>${busy ? "Connecting…" : "Add server"}</button>
      <button type="button" class="link" onClick=${onCancel}>Cancel</button>
    </div>
  </form>`;
}

function ServerTable({ servers, selected, onDelete }) {
  return html`<table class="list mcp-table">
    <thead><tr><th>Name</th><th>Type</th><th>Where</th><th></th></tr></thead>
    <tbody>${servers.map((s) => html`<tr key=${s.id} data-server-name=${s.server_name}
      class=${s.id === selected ? "selected" : ""}>
      <td><a href=${`#/mcp/${s.id}`}>${s.server_name}</a></td>
      <td class="small">${s.mcp_server_type}</td>
      <td class="mono small" title=${where(s)}>${truncate(where(s), 80)}</td>
      <td class="row">
        <a class="button" href=${`#/mcp/${s.id}`}>Tools</a>
        <${ConfirmButton} label="Delete" onConfirm=${() => onDelete(s)} />
      </td>
    </tr>`)}</tbody>
  </table>`;
}

function McpTool({ tool }) {
  return html`<li class="card mcp-tool" data-tool-name=${tool.name}>
    <div><strong>${tool.name}</strong></div>
    <div class="muted small">${tool.description || ""}</div>
    <${ParamTable} schema=${tool.json_schema} />
    <${Expandable} summary="JSON schema"><${JsonView} value=${tool.json_schema} /><//>
  </li>`;
}

/** One server's tools, listed live from it (a connection error shows the server's detail). */
function ServerTools({ server }) {
  const tools = useAsync(() => api.get(`/v1/mcp-servers/${server.id}/tools`), [server.id]);
  const [busy, setBusy] = useState(false);
  const refresh = async () => {
    setBusy(true);
    try {
      const r = await api.patch(`/v1/mcp-servers/${server.id}/refresh`);
      const n = (k) => (r?.[k] || []).length;
      notify(`Refreshed ${server.server_name}: ${n("added")} added, ${n("updated")} updated, ${n("deleted")} removed`);
      tools.reload();
    } catch (err) {
      notifyError(err);
    } finally {
      setBusy(false);
    }
  };
  return html`<section class="mcp-tools" aria-label=${`Tools of ${server.server_name}`}>
    <header class="page-head">
      <div>
        <h2>${server.server_name}</h2>
        <div class="muted small mono">${server.mcp_server_type} · ${where(server)}</div>
      </div>
      <button onClick=${refresh} disabled=${busy}>${busy ? "Refreshing…" : "Refresh tools"}</button>
    </header>
    ${tools.error && html`<${ErrorBox} error=${tools.error} />`}
    ${tools.data === undefined && !tools.error && html`<div class="spinner">Connecting…</div>`}
    ${tools.data && (tools.data.length === 0
      ? html`<${Empty}>This server offers no tools.<//>`
      : html`<ul class="mcp-tool-list">
          ${tools.data.map((t) => html`<${McpTool} key=${t.id || t.name} tool=${t} />`)}
        </ul>`)}
  </section>`;
}

export function McpServers({ serverId }) {
  const servers = useAsync(() => api.get("/v1/mcp-servers/"), []);
  const [adding, setAdding] = useState(false);
  const remove = async (s) => {
    try {
      await api.del(`/v1/mcp-servers/${s.id}`);
      notify(`Deleted ${s.server_name}`);
      if (s.id === serverId) location.hash = "#/mcp";
      servers.reload();
    } catch (err) {
      notifyError(err);
    }
  };
  const added = (s) => {
    setAdding(false);
    servers.reload();
    location.hash = `#/mcp/${s.id}`;
  };
  return html`<div class="mcp-page">
    <header class="page-head">
      <div><h1>MCP servers</h1>
        <div class="muted small">Servers whose tools agents can use (Model Context Protocol).</div></div>
      ${!adding && html`<button class="primary" onClick=${() => setAdding(true)}>Add server</button>`}
    </header>
    ${adding && html`<${AddServer} onAdded=${added} onCancel=${() => setAdding(false)} />`}
    <${Loaded} state=${servers}>
      ${(list) => {
        const current = list.find((s) => s.id === serverId);
        return html`<div>
          ${list.length === 0 ? html`<${Empty}>No MCP servers yet.<//>`
            : html`<${ServerTable} servers=${list} selected=${serverId} onDelete=${remove} />`}
          ${serverId && !current && html`<${Empty}>No MCP server ${serverId}.<//>`}
          ${current && html`<${ServerTools} server=${current} key=${current.id} />`}
        </div>`;
      }}
    <//>
  </div>`;
}
