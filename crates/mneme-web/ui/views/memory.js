// The agent's core memory, beside the chat: every block with its size against its limit, each
// editable in place. The chat bumps `refreshKey` when the agent may have edited a block.
import { html, useState } from "../lib.js";
import { api } from "../api.js";
import { useAsync, Loaded, Empty, ErrorBox, notify, notifyError, fmtNumber } from "../components.js";

/** Characters as the server counts them (code points, not UTF-16 units). */
export function charCount(text) {
  return Array.from(text || "").length;
}

export function MemoryPanel({ agent, refreshKey }) {
  const state = useAsync(() => api.get(`/v1/agents/${agent.id}/core-memory/blocks`), [agent.id, refreshKey]);
  const onSaved = (block) => state.setData((list) => list.map((b) => (b.label === block.label ? block : b)));
  return html`<aside class="memory-panel" aria-label="Core memory">
    <header class="row">
      <h2 class="grow">Core memory</h2>
      <button class="link small" onClick=${state.reload} disabled=${state.loading}>Refresh</button>
    </header>
    <${Loaded} state=${state}>
      ${(blocks) =>
        blocks.length
          ? blocks.map((b) => html`<${Block} key=${b.label} agent=${agent} block=${b} onSaved=${onSaved} />`)
          : html`<${Empty}>This agent has no memory blocks.<//>`}
    <//>
  </aside>`;
}

function Counter({ chars, limit }) {
  const ratio = limit ? chars / limit : 0;
  const level = ratio > 1 ? "over" : ratio > 0.9 ? "near" : ""; // red from 90% on
  return html`<span class=${level ? `counter ${level}` : "counter"} aria-label="characters used">${fmtNumber(chars)} / ${fmtNumber(limit)}</span>`;
}

function Block({ agent, block, onSaved }) {
  const [draft, setDraft] = useState(null); // { value, limit } while editing
  const [error, setError] = useState(null);
  const [saving, setSaving] = useState(false);

  const save = async () => {
    const limit = Number(draft.limit);
    const chars = charCount(draft.value);
    if (!Number.isInteger(limit) || limit < 1) return setError(new Error("The limit must be a positive whole number."));
    if (chars > limit) return setError(new Error(`Too long: ${fmtNumber(chars)} characters, the limit is ${fmtNumber(limit)}.`));
    const body = { value: draft.value };
    if (limit !== block.limit) body.limit = limit;
    setSaving(true);
    try {
      const saved = await api.patch(`/v1/agents/${agent.id}/core-memory/blocks/${encodeURIComponent(block.label)}`, body);
      onSaved(saved);
      setDraft(null);
      setError(null);
      notify(`Saved ${block.label}.`);
    } catch (err) {
      setError(err);
      notifyError(err);
    } finally {
      setSaving(false);
    }
  };

  const editing = draft !== null;
  return html`<section class="block card" data-block-label=${block.label}>
    <header class="row">
      <b class="grow block-label">${block.label}</b>
      ${block.read_only && html`<span class="tag read-only">read-only</span>`}
      <${Counter} chars=${charCount(editing ? draft.value : block.value)} limit=${editing ? Number(draft.limit) : block.limit} />
    </header>
    ${block.description && html`<div class="muted small block-description">${block.description}</div>`}
    ${editing
      ? html`<div class="form block-edit">
          <textarea rows="6" aria-label=${`Value of ${block.label}`} value=${draft.value}
            onInput=${(e) => setDraft({ ...draft, value: e.currentTarget.value })}></textarea>
          <label class="row small">Limit
            <input type="number" min="1" class="limit" aria-label=${`Limit of ${block.label}`} value=${draft.limit}
              onInput=${(e) => setDraft({ ...draft, limit: e.currentTarget.value })} /></label>
          <${ErrorBox} error=${error} />
          <div class="row">
            <button class="primary" disabled=${saving} onClick=${save}>Save</button>
            <button onClick=${() => (setDraft(null), setError(null))}>Cancel</button>
          </div>
        </div>`
      : html`<div class="block-value">${block.value || html`<span class="muted">(empty)</span>`}</div>
          ${!block.read_only &&
          html`<button class="link small" onClick=${() => setDraft({ value: block.value || "", limit: block.limit })}>Edit</button>`}`}
  </section>`;
}
