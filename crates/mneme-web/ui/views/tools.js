// The server's tools: a searchable list, one tool's schema and source, and for custom tools an
// editor (the server derives the schema from the Python source), a new-tool form and delete.
import { html, useState, useMemo } from "../lib.js";
import { api, listAll } from "../api.js";
import {
  useAsync, Loaded, Empty, ErrorBox, ConfirmButton, JsonView, Tags, notify, notifyError, fmtNumber, truncate,
} from "../components.js";
import { splitTags } from "./create_agent.js";

const TEMPLATE = `def roll_dice(sides: int) -> str:
    """Rolls a die and says what came up.

    Args:
        sides (int): How many sides the die has.

    Returns:
        str: The number rolled.
    """
    import random
    return str(random.randint(1, sides))
`;

/** Only custom tools may be changed: the built-ins belong to the server. */
function editable(tool) {
  return tool.tool_type === "custom";
}

function matches(tool, text) {
  if (!text) return true;
  const hay = [tool.name, tool.description, tool.tool_type, ...(tool.tags || [])].join(" ").toLowerCase();
  return text.toLowerCase().split(/\s+/).every((w) => hay.includes(w));
}

function ToolList({ tools, selected }) {
  const [text, setText] = useState("");
  const shown = useMemo(
    () => tools.filter((t) => matches(t, text.trim())).sort((a, b) => a.name.localeCompare(b.name)),
    [tools, text],
  );
  return html`<div class="tool-list">
    <input type="search" placeholder="Filter tools" aria-label="Filter tools" value=${text}
      onInput=${(e) => setText(e.target.value)} />
    <div class="muted small">${shown.length} of ${tools.length}</div>
    <ul class="pick-list">
      ${shown.map(
        (t) => html`<li key=${t.id} class=${t.id === selected ? "active" : ""}>
          <a href=${`#/tools/${t.id}`} data-tool-name=${t.name}>
            <span class="name">${t.name}</span> <span class="tool-type">${t.tool_type}</span>
            <div class="muted small">${truncate(t.description, 90)}</div>
          </a>
        </li>`,
      )}
    </ul>
  </div>`;
}

/** The parameters of a tool's JSON schema as rows: name, type, required, description. */
export function ParamTable({ schema }) {
  const params = schema?.parameters?.properties || {};
  const required = new Set(schema?.parameters?.required || []);
  const names = Object.keys(params);
  if (!names.length) return html`<div class="muted small">No parameters.</div>`;
  return html`<table class="list params">
    <thead><tr><th>Parameter</th><th>Type</th><th>Description</th></tr></thead>
    <tbody>${names.map((n) => html`<tr key=${n} data-param=${n}>
      <td><code>${n}</code>${required.has(n) ? html` <span class="muted small">required</span>` : ""}</td>
      <td class="small">${typeOf(params[n])}</td>
      <td class="small">${params[n].description || ""}</td>
    </tr>`)}</tbody>
  </table>`;
}

function typeOf(p) {
  if (p.type === "array") return `array of ${p.items?.type || "any"}`;
  if (p.enum) return `${p.type || "enum"}: ${p.enum.join(" | ")}`;
  if (p.anyOf) return p.anyOf.map((x) => x.type).filter(Boolean).join(" | ");
  return p.type || "any";
}

/** A custom tool's source, editable; saving lets the server derive the schema again. */
function SourceEditor({ tool, onSaved }) {
  const [source, setSource] = useState(tool.source_code || "");
  const [tags, setTags] = useState((tool.tags || []).join(", "));
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const save = async () => {
    setBusy(true);
    setError(null);
    try {
      const body = { source_code: source, tags: splitTags(tags) };
      const updated = await api.patch(`/v1/tools/${tool.id}`, body);
      notify(`Saved ${updated.name}`);
      onSaved(updated);
    } catch (err) {
      setError(err);
      notifyError(err);
    } finally {
      setBusy(false);
    }
  };
  return html`<div class="form">
    <label>Source code
      <textarea class="code" rows=${Math.min(30, Math.max(8, source.split("\n").length + 1))} spellcheck="false"
        value=${source} onInput=${(e) => setSource(e.target.value)} /></label>
    <label>Tags <input value=${tags} onInput=${(e) => setTags(e.target.value)} /></label>
    <${ErrorBox} error=${error} />
    <div><button class="primary" onClick=${save} disabled=${busy}>${busy ? "Saving…" : "Save"}</button></div>
  </div>`;
}

function ToolDetail({ toolId, onChanged }) {
  const state = useAsync(() => api.get(`/v1/tools/${toolId}`), [toolId]);
  const remove = async (tool) => {
    try {
      await api.del(`/v1/tools/${tool.id}`);
      notify(`Deleted ${tool.name}`);
      onChanged();
      location.hash = "#/tools";
    } catch (err) {
      notifyError(err);
    }
  };
  const saved = (tool) => {
    state.setData(tool);
    onChanged();
  };
  return html`<${Loaded} state=${state}>
    ${(tool) => html`<article class="tool-detail" data-tool-id=${tool.id}>
      <header class="page-head">
        <div>
          <h2 class="tool-name">${tool.name}</h2>
          <div class="muted small">
            <code>${tool.id}</code> · ${tool.tool_type} · returns at most ${fmtNumber(tool.return_char_limit)} characters
            ${" "}<${Tags} tags=${tool.tags} />
          </div>
        </div>
        ${editable(tool) && html`<${ConfirmButton} label="Delete tool" onConfirm=${() => remove(tool)} />`}
      </header>
      <p class="tool-description">${tool.description || html`<span class="muted">No description.</span>`}</p>
      <h3>Parameters</h3>
      <${ParamTable} schema=${tool.json_schema} />
      <h3>JSON schema</h3>
      <${JsonView} value=${tool.json_schema} />
      <h3>Source</h3>
      ${editable(tool)
        ? html`<${SourceEditor} tool=${tool} onSaved=${saved} key=${tool.id} />`
        : tool.source_code
          ? html`<pre class="json source">${tool.source_code}</pre>`
          : html`<div class="muted small">Built into the server.</div>`}
    </article>`}
  <//>`;
}

function NewTool({ onChanged }) {
  const [source, setSource] = useState(TEMPLATE);
  const [tags, setTags] = useState("");
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const create = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const tool = await api.post("/v1/tools/", { source_code: source, source_type: "python", tags: splitTags(tags) });
      notify(`Created ${tool.name}`);
      onChanged();
      location.hash = `#/tools/${tool.id}`;
    } catch (err) {
      setError(err);
      notifyError(err);
    } finally {
      setBusy(false);
    }
  };
  return html`<form class="form new-tool" onSubmit=${create}>
    <h2>New tool</h2>
    <p class="muted small">A Python function with type hints and a docstring: the server derives the
      tool's name, description and parameters from it.</p>
    <label>Source code
      <textarea class="code" rows="16" spellcheck="false" value=${source} onInput=${(e) => setSource(e.target.value)} />
    </label>
    <label>Tags <input value=${tags} onInput=${(e) => setTags(e.target.value)} placeholder="dice, games" /></label>
    <${ErrorBox} error=${error} />
    <div class="row"><button class="primary" type="submit" disabled=${busy}>${busy ? "Creating…" : "Create tool"}</button>
      <a href="#/tools">Cancel</a></div>
  </form>`;
}

export function Tools({ toolId }) {
  const tools = useAsync(() => listAll("/v1/tools/"), []);
  let detail;
  if (toolId === "new") detail = html`<${NewTool} onChanged=${tools.reload} />`;
  else if (toolId) detail = html`<${ToolDetail} toolId=${toolId} onChanged=${tools.reload} key=${toolId} />`;
  else detail = html`<${Empty}>Pick a tool to see its schema, or create one.<//>`;
  return html`<div class="tools-page">
    <header class="page-head">
      <h1>Tools</h1>
      <button class="primary" onClick=${() => (location.hash = "#/tools/new")}>New tool</button>
    </header>
    <div class="split">
      <${Loaded} state=${tools}>${(list) => html`<${ToolList} tools=${list} selected=${toolId} />`}<//>
      <section class="split-detail">${detail}</section>
    </div>
  </div>`;
}
