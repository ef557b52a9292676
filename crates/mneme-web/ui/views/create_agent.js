// The new-agent form: model and embedding from the server's lists, memory blocks, tools, tags.
import { html, useState } from "../lib.js";
import { api, listAll } from "../api.js";
import { useAsync, ErrorBox, notify, notifyError } from "../components.js";

const OTHER = "__other__";

/** The handles of a model list (`/v1/models/` or `/v1/models/embedding`); none if it fails. */
export function useHandles(path) {
  return useAsync(async () => {
    const list = await api.get(path);
    return [...new Set((list || []).map((m) => m.handle).filter(Boolean))].sort();
  }, [path]);
}

/**
 * A select of model handles with "Other…" for a handle the list lacks (a free-text input).
 * `emptyLabel` adds a first option for "none" (the server's default).
 */
export function HandlePicker({ label, value, onChange, handles, emptyLabel }) {
  const listed = handles || [];
  const [other, setOther] = useState(false);
  const custom = other || !listed.length || (value !== "" && !listed.includes(value));
  const pick = (e) => {
    const v = e.target.value;
    setOther(v === OTHER);
    onChange(v === OTHER ? "" : v);
  };
  return html`<div class="handle-picker">
    ${listed.length > 0 && html`<select aria-label=${label} value=${custom ? OTHER : value} onChange=${pick}>
      ${emptyLabel !== undefined && html`<option value="">${emptyLabel}</option>`}
      ${listed.map((h) => html`<option key=${h} value=${h}>${h}</option>`)}
      <option value=${OTHER}>Other…</option>
    </select>`}
    ${custom && html`<input aria-label=${`${label} handle`} placeholder="provider/model" value=${value}
      onInput=${(e) => onChange(e.target.value.trim())} />`}
  </div>`;
}

/** "a, b ,c" → ["a", "b", "c"]. */
export function splitTags(text) {
  return [...new Set(text.split(",").map((t) => t.trim()).filter(Boolean))];
}

const STARTING_BLOCKS = [
  { label: "human", value: "", limit: "" },
  { label: "persona", value: "I am a helpful assistant.", limit: "" },
];

function BlockRows({ blocks, setBlocks }) {
  const edit = (i, key) => (e) => setBlocks(blocks.map((b, j) => (j === i ? { ...b, [key]: e.target.value } : b)));
  return html`<fieldset class="block-rows">
    <legend>Memory blocks</legend>
    ${blocks.map(
      (b, i) => html`<div class="block-row" key=${i}>
        <input aria-label=${`Block ${i + 1} label`} placeholder="label" value=${b.label} onInput=${edit(i, "label")} />
        <textarea aria-label=${`Block ${i + 1} value`} rows="2" placeholder="value" value=${b.value}
          onInput=${edit(i, "value")} />
        <input aria-label=${`Block ${i + 1} limit`} type="number" min="1" placeholder="limit" value=${b.limit}
          onInput=${edit(i, "limit")} />
        <button type="button" class="link" aria-label=${`Remove block ${i + 1}`}
          onClick=${() => setBlocks(blocks.filter((_, j) => j !== i))}>×</button>
      </div>`,
    )}
    <div><button type="button" onClick=${() => setBlocks([...blocks, { label: "", value: "", limit: "" }])}>
      Add block</button></div>
  </fieldset>`;
}

/** Checkboxes of the server's tools (the base tools come with "include base tools"). */
function ToolChoice({ tools, chosen, setChosen, includeBase, setIncludeBase }) {
  const toggle = (id) => setChosen(chosen.includes(id) ? chosen.filter((x) => x !== id) : [...chosen, id]);
  const sorted = [...(tools || [])].sort((a, b) => a.name.localeCompare(b.name));
  return html`<fieldset class="tool-choice">
    <legend>Tools</legend>
    <label class="inline-check"><input type="checkbox" checked=${includeBase}
      onChange=${(e) => setIncludeBase(e.target.checked)} /> Include the base tools (memory, messaging, search)</label>
    <div class="tool-checks">
      ${sorted.map(
        (t) => html`<label class="inline-check" key=${t.id} title=${t.description || ""}>
          <input type="checkbox" checked=${chosen.includes(t.id)} onChange=${() => toggle(t.id)} />
          ${t.name} <span class="muted small">${t.tool_type}</span>
        </label>`,
      )}
    </div>
  </fieldset>`;
}

/** The CreateAgent body of the form's fields; empty optional fields are left out. */
function createBody(f) {
  const body = {
    name: f.name.trim() || undefined,
    model: f.model || undefined,
    embedding: f.embedding || undefined,
    system: f.system.trim() || undefined,
    description: f.description.trim() || undefined,
    tags: splitTags(f.tags),
    include_base_tools: f.includeBase,
    tool_ids: f.toolIds,
    memory_blocks: f.blocks
      .filter((b) => b.label.trim())
      .map((b) => ({ label: b.label.trim(), value: b.value, ...(b.limit ? { limit: Number(b.limit) } : {}) })),
  };
  return body;
}

const EMPTY_FORM = {
  name: "", model: "", embedding: "", system: "", description: "", tags: "", includeBase: true, toolIds: [],
};

export function CreateAgent() {
  const models = useHandles("/v1/models/");
  const embeddings = useHandles("/v1/models/embedding");
  const tools = useAsync(() => listAll("/v1/tools/"), []);
  const [form, setForm] = useState(EMPTY_FORM);
  const [blocks, setBlocks] = useState(STARTING_BLOCKS);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const set = (key) => (v) => setForm((f) => ({ ...f, [key]: v?.target ? v.target.value : v }));

  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const agent = await api.post("/v1/agents/", createBody({ ...form, blocks }));
      notify(`Created ${agent.name}`);
      location.hash = `#/agents/${agent.id}/chat`;
    } catch (err) {
      setError(err);
      notifyError(err);
    } finally {
      setBusy(false);
    }
  };

  return html`<div class="narrow create-agent">
    <h1>New agent</h1>
    <form class="form" onSubmit=${submit}>
      <label>Name <input name="name" value=${form.name} onInput=${set("name")} placeholder="(generated when empty)" /></label>
      <div class="field"><span>Model</span>
        <${HandlePicker} label="Model" value=${form.model} onChange=${set("model")} handles=${models.data}
          emptyLabel="(the server's default)" />
      </div>
      <div class="field"><span>Embedding</span>
        <${HandlePicker} label="Embedding" value=${form.embedding} onChange=${set("embedding")}
          handles=${embeddings.data} emptyLabel="(the server's default)" />
        <span class="hint">For archival memory and file search.</span>
      </div>
      <label>Description <input name="description" value=${form.description} onInput=${set("description")} /></label>
      <label>Tags <input name="tags" value=${form.tags} onInput=${set("tags")} placeholder="support, beta" />
        <span class="hint">Comma separated.</span></label>
      <label>System prompt
        <textarea name="system" rows="4" value=${form.system} onInput=${set("system")}
          placeholder="(the server's default for the agent type)" /></label>
      <${BlockRows} blocks=${blocks} setBlocks=${setBlocks} />
      <${ToolChoice} tools=${tools.data} chosen=${form.toolIds} setChosen=${set("toolIds")}
        includeBase=${form.includeBase} setIncludeBase=${set("includeBase")} />
      <${ErrorBox} error=${error} />
      <div class="row">
        <button class="primary" type="submit" disabled=${busy}>${busy ? "Creating…" : "Create agent"}</button>
        <a href="#/agents">Cancel</a>
      </div>
    </form>
  </div>`;
}
