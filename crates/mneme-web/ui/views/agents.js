// The agent list: search by name, filter by tags, page through, and import Agent Files (.af)
// with the button or by dropping a file anywhere on the page.
import { html, useState, useEffect, useRef } from "../lib.js";
import { api } from "../api.js";
import {
  useAsync, Loaded, Empty, Tags, Expandable, notify, notifyError, fmtDate, modelOf, truncate,
} from "../components.js";

const PAGE = 50;

/** One page of agents (newest first) for the current search, `after` an agent id. */
function fetchPage({ text, tags, matchAll }, after) {
  return api.get("/v1/agents/", {
    query_text: text,
    tags,
    match_all_tags: tags.length > 1 ? matchAll : undefined,
    order: "desc",
    limit: PAGE,
    after,
    // The list shows each agent's blocks; ask for them, as Letta loads none by default.
    include: ["agent.blocks"],
  });
}

/** The agents of the search, with "Load more" appending the next page. */
function useAgentPages(filter) {
  const state = useAsync(async () => {
    const list = await fetchPage(filter);
    return { list, more: list.length === PAGE };
  }, [filter.text, filter.tags.join("\n"), filter.matchAll]);
  const [busy, setBusy] = useState(false);
  const loadMore = async () => {
    const { list } = state.data;
    setBusy(true);
    try {
      const next = await fetchPage(filter, list[list.length - 1].id);
      state.setData({ list: [...list, ...next], more: next.length === PAGE });
    } catch (err) {
      notifyError(err);
    } finally {
      setBusy(false);
    }
  };
  return { state, loadMore, busy };
}

/** The search box's text, passed on once typing pauses. */
function useDebounced(value, ms) {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const id = setTimeout(() => setSettled(value), ms);
    return () => clearTimeout(id);
  }, [value, ms]);
  return settled;
}

function blocksOf(agent) {
  return agent.blocks || agent.memory?.blocks || [];
}

function AgentRow({ agent, onTag }) {
  const blocks = blocksOf(agent);
  return html`<tr data-agent-id=${agent.id}>
    <td>
      <a class="agent-link" href=${`#/agents/${agent.id}/chat`}>${agent.name}</a>
      ${agent.description && html`<div class="muted small">${truncate(agent.description, 140)}</div>`}
    </td>
    <td class="mono small">${modelOf(agent)}</td>
    <td><${Tags} tags=${agent.tags} onClick=${onTag} /></td>
    <td class="small" title=${blocks.map((b) => b.label).join(", ")}>
      ${blocks.length} ${blocks.length === 1 ? "block" : "blocks"}
      <div class="muted">${truncate(blocks.map((b) => b.label).join(", "), 60)}</div>
    </td>
    <td class="small muted">${fmtDate(agent.updated_at || agent.created_at)}</td>
  </tr>`;
}

function AgentTable({ agents, onTag }) {
  return html`<table class="list agent-table">
    <thead><tr><th>Name</th><th>Model</th><th>Tags</th><th>Memory</th><th>Updated</th></tr></thead>
    <tbody>${agents.map((a) => html`<${AgentRow} key=${a.id} agent=${a} onTag=${onTag} />`)}</tbody>
  </table>`;
}

/** The tags the list is filtered by, each removable, and whether all must match. */
function TagFilter({ tags, matchAll, onRemove, onMatchAll }) {
  if (!tags.length) return null;
  return html`<div class="row tag-filter" aria-label="Tag filter">
    <span class="muted small">Tagged</span>
    ${tags.map(
      (t) => html`<span class="tag filter-tag" key=${t}>${t}
        <button class="link" aria-label=${`Remove tag filter ${t}`} onClick=${() => onRemove(t)}>×</button></span>`,
    )}
    ${tags.length > 1 && html`<label class="small inline-check">
      <input type="checkbox" checked=${matchAll} onChange=${(e) => onMatchAll(e.target.checked)} /> all of them
    </label>`}
  </div>`;
}

/** Options sent with every import: a name or model for the imported agent, no history. */
function ImportOptions({ options, setOptions }) {
  const set = (key) => (e) =>
    setOptions({ ...options, [key]: e.target.type === "checkbox" ? e.target.checked : e.target.value });
  return html`<${Expandable} summary="Import options" className="import-options">
    <div class="row">
      <label class="grow small">Name <input value=${options.name} onInput=${set("name")}
        placeholder="(the file's; an agent file holding one agent)" /></label>
      <label class="grow small">Model <input value=${options.model} onInput=${set("model")}
        placeholder="(the file's) e.g. openai/gpt-4o-mini" /></label>
      <label class="small inline-check"><input type="checkbox" checked=${options.strip}
        onChange=${set("strip")} /> without messages</label>
    </div>
  <//>`;
}

/** POSTs the file to /v1/agents/import; resolves to the new agents' ids. */
async function importAgentFile(file, options) {
  const form = new FormData();
  form.append("file", file, file.name);
  if (options.name.trim()) form.append("name", options.name.trim());
  if (options.model.trim()) form.append("model", options.model.trim());
  if (options.strip) form.append("strip_messages", "true");
  const res = await api.upload("/v1/agents/import", form);
  return res?.agent_ids || [];
}

/**
 * Drag-and-drop of files anywhere on the window while the list is shown: `dragging` while a
 * file is over it, `onFiles` with the dropped files. Listening on the window also keeps a file
 * dropped beside the list from replacing the page. A counter, because dragenter and dragleave
 * fire for every element crossed.
 */
function useFileDrop(onFiles) {
  const [dragging, setDragging] = useState(false);
  const latest = useRef(onFiles);
  latest.current = onFiles;
  useEffect(() => {
    let depth = 0;
    const hasFiles = (e) => Array.from(e.dataTransfer?.types || []).includes("Files");
    const handlers = {
      dragenter: (e) => {
        if (!hasFiles(e)) return;
        e.preventDefault();
        depth++;
        setDragging(true);
      },
      dragover: (e) => {
        if (!hasFiles(e)) return;
        e.preventDefault();
        e.dataTransfer.dropEffect = "copy";
      },
      dragleave: () => {
        depth = Math.max(0, depth - 1);
        if (depth === 0) setDragging(false);
      },
      drop: (e) => {
        if (!hasFiles(e)) return;
        e.preventDefault();
        depth = 0;
        setDragging(false);
        latest.current(Array.from(e.dataTransfer.files));
      },
    };
    for (const [type, fn] of Object.entries(handlers)) addEventListener(type, fn);
    return () => {
      for (const [type, fn] of Object.entries(handlers)) removeEventListener(type, fn);
    };
  }, []);
  return dragging;
}

function useImporter() {
  const [options, setOptions] = useState({ name: "", model: "", strip: false });
  const [busy, setBusy] = useState(false);
  const run = async (files) => {
    const file = files[0];
    if (!file) return;
    setBusy(true);
    try {
      const ids = await importAgentFile(file, options);
      notify(`Imported ${file.name}: ${ids.length} ${ids.length === 1 ? "agent" : "agents"}`);
      if (ids.length) location.hash = `#/agents/${ids[0]}/chat`;
    } catch (err) {
      notifyError(err);
    } finally {
      setBusy(false);
    }
  };
  return { options, setOptions, busy, run };
}

function Head({ importer, picker }) {
  return html`<header class="page-head">
    <div>
      <h1>Agents</h1>
      <div class="muted small">Drop an Agent File (.af) anywhere on this page to import it.</div>
    </div>
    <div class="row">
      <input type="file" ref=${picker} accept=".af,.json,application/json" hidden
        aria-label="Agent file to import"
        onChange=${(e) => {
          importer.run(Array.from(e.target.files));
          e.target.value = "";
        }} />
      <button onClick=${() => picker.current.click()} disabled=${importer.busy}>
        ${importer.busy ? "Importing…" : "Import .af"}
      </button>
      <button class="primary" onClick=${() => (location.hash = "#/agents/new")}>New agent</button>
    </div>
  </header>`;
}

function Results({ pages, filtered, onTag }) {
  return html`<${Loaded} state=${pages.state}>
    ${({ list, more }) =>
      list.length === 0
        ? html`<${Empty}>${filtered
            ? "No agent matches."
            : html`No agents yet. <a href="#/agents/new">Create one</a> or drop an .af file here.`}<//>`
        : html`<div>
            <${AgentTable} agents=${list} onTag=${onTag} />
            <div class="row list-foot">
              <span class="muted small">${list.length} ${list.length === 1 ? "agent" : "agents"}</span>
              ${more && html`<button onClick=${pages.loadMore} disabled=${pages.busy}>Load more</button>`}
            </div>
          </div>`}
  <//>`;
}

export function AgentList() {
  const [text, setText] = useState("");
  const [tags, setTags] = useState([]);
  const [matchAll, setMatchAll] = useState(true);
  const query = useDebounced(text.trim(), 250);
  const pages = useAgentPages({ text: query, tags, matchAll });
  const importer = useImporter();
  const dragging = useFileDrop(importer.run);
  const picker = useRef(null);
  const addTag = (t) => setTags((ts) => (ts.includes(t) ? ts : [...ts, t]));
  return html`<div class="agent-list">
    <${Head} importer=${importer} picker=${picker} />
    <div class="row list-tools">
      <input class="grow" type="search" placeholder="Search agents by name" aria-label="Search agents"
        value=${text} onInput=${(e) => setText(e.target.value)} />
    </div>
    <${ImportOptions} options=${importer.options} setOptions=${importer.setOptions} />
    <${TagFilter} tags=${tags} matchAll=${matchAll} onMatchAll=${setMatchAll}
      onRemove=${(t) => setTags((ts) => ts.filter((x) => x !== t))} />
    <${Results} pages=${pages} filtered=${!!query || tags.length > 0} onTag=${addTag} />
    ${dragging && html`<div class="drop-zone" aria-hidden="true"><div>Drop the .af file to import it</div></div>`}
  </div>`;
}
