// An agent's archival memory: its passages newest first (paged), a search over them with the
// server's scores, an insert form, and delete.
import { html, useState, useEffect, useCallback } from "../lib.js";
import { api } from "../api.js";
import { notify, notifyError, ConfirmButton, Tags, Spinner, fmtDate } from "../components.js";

const PAGE = 50;

/** "a, b ,c" → ["a", "b", "c"]. */
function parseTags(text) {
  return text
    .split(",")
    .map((t) => t.trim())
    .filter(Boolean);
}

export function Archival({ agent }) {
  const list = usePassages(agent.id);
  return html`<div class="panel archival">
    <div class="panel-grid">
      <${InsertPassage} agentId=${agent.id} onInserted=${list.prepend} />
      <${SearchPassages} agentId=${agent.id} />
    </div>
    <${PassageList} list=${list} agentId=${agent.id} />
  </div>`;
}

/** The passages loaded so far (newest first), and the next page on demand. */
function usePassages(agentId) {
  const [state, setState] = useState({ items: [], loading: true, more: false, error: null });
  const load = useCallback(
    async (after) => {
      setState((s) => ({ ...s, loading: true }));
      try {
        const page = await api.get(`/v1/agents/${agentId}/archival-memory`, { limit: PAGE, ascending: false, after });
        setState((s) => ({
          items: after ? [...s.items, ...page] : page,
          loading: false,
          more: page.length === PAGE,
          error: null,
        }));
      } catch (error) {
        setState((s) => ({ ...s, loading: false, error }));
        notifyError(error);
      }
    },
    [agentId],
  );
  useEffect(() => {
    load();
  }, [load]);
  const items = state.items;
  return {
    ...state,
    loadMore: () => load(items[items.length - 1]?.id),
    reload: () => load(),
    prepend: (passages) => setState((s) => ({ ...s, items: [...passages, ...s.items] })),
    remove: (id) => setState((s) => ({ ...s, items: s.items.filter((p) => p.id !== id) })),
  };
}

function InsertPassage({ agentId, onInserted }) {
  const [text, setText] = useState("");
  const [tags, setTags] = useState("");
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    if (!text.trim()) return;
    setBusy(true);
    try {
      const body = { text };
      const list = parseTags(tags);
      if (list.length) body.tags = list;
      const created = await api.post(`/v1/agents/${agentId}/archival-memory`, body);
      onInserted(Array.isArray(created) ? created : [created]);
      setText("");
      setTags("");
      notify("Passage inserted.");
    } catch (err) {
      notifyError(err);
    } finally {
      setBusy(false);
    }
  };
  return html`<form class="form card" onSubmit=${submit} aria-label="Insert passage">
    <h3>Insert a passage</h3>
    <label>Text
      <textarea name="text" rows="3" value=${text} onInput=${(e) => setText(e.target.value)}
        placeholder="Something the agent should be able to look up later"></textarea>
    </label>
    <label>Tags <span class="hint">comma separated</span>
      <input name="tags" value=${tags} onInput=${(e) => setTags(e.target.value)} />
    </label>
    <div><button class="primary" type="submit" disabled=${busy || !text.trim()}>Insert</button></div>
  </form>`;
}

function SearchPassages({ agentId }) {
  const [form, setForm] = useState({ query: "", tags: "", topK: "" });
  const [result, setResult] = useState(null);
  const [busy, setBusy] = useState(false);
  const set = (k) => (e) => setForm({ ...form, [k]: e.target.value });
  const submit = async (e) => {
    e.preventDefault();
    if (!form.query.trim()) return;
    setBusy(true);
    try {
      const query = { query: form.query, tags: parseTags(form.tags), top_k: form.topK || undefined };
      setResult(await api.get(`/v1/agents/${agentId}/archival-memory/search`, query));
    } catch (err) {
      notifyError(err);
    } finally {
      setBusy(false);
    }
  };
  return html`<div class="card search-card">
    <form class="form" onSubmit=${submit} role="search" aria-label="Search archival memory">
      <h3>Search</h3>
      <label>Query
        <input name="query" type="search" value=${form.query} onInput=${set("query")} />
      </label>
      <div class="row bottom">
        <label class="grow">Tags <span class="hint">any of, comma separated</span>
          <input name="search-tags" value=${form.tags} onInput=${set("tags")} />
        </label>
        <label>Top k
          <input name="top_k" type="number" min="1" class="num" value=${form.topK} onInput=${set("topK")} />
        </label>
      </div>
      <div class="row">
        <button type="submit" disabled=${busy || !form.query.trim()}>Search</button>
        ${result ? html`<button type="button" class="link" onClick=${() => setResult(null)}>Clear results</button>` : null}
      </div>
    </form>
    ${result ? html`<${SearchResults} result=${result} />` : null}
  </div>`;
}

/** How a result was found: the fused score and each leg's rank, as far as the server says. */
function Relevance({ r }) {
  if (!r) return null;
  const parts = [];
  if (r.rrf_score !== undefined && r.rrf_score !== null) parts.push(`score ${Number(r.rrf_score).toFixed(4)}`);
  if (r.vector_rank) parts.push(`vector #${r.vector_rank}`);
  if (r.fts_rank) parts.push(`text #${r.fts_rank}`);
  if (r.search_mode) parts.push(r.search_mode);
  return html`<span class="relevance muted small">${parts.join(" · ")}</span>`;
}

function SearchResults({ result }) {
  const items = result.results || [];
  return html`<div class="search-results" aria-label="Search results">
    <div class="muted small">${items.length} result${items.length === 1 ? "" : "s"}</div>
    <ol class="passages">
      ${items.map(
        (r, i) => html`<li key=${r.id || i} class="passage" data-passage-id=${r.id}>
          <div class="passage-head">
            <span class="rank">#${i + 1}</span>
            <${Relevance} r=${r.relevance} />
            <span class="muted small">${fmtDate(r.timestamp)}</span>
          </div>
          <div class="passage-text">${r.content}</div>
          <${Tags} tags=${r.tags} />
        </li>`,
      )}
    </ol>
  </div>`;
}

function PassageList({ list, agentId }) {
  const remove = async (id) => {
    try {
      await api.del(`/v1/agents/${agentId}/archival-memory/${id}`);
      list.remove(id);
      notify("Passage deleted.");
    } catch (err) {
      notifyError(err);
    }
  };
  return html`<section class="passage-list" aria-label="Passages">
    <div class="row section-head">
      <h3 class="grow">Passages <span class="muted small">(${list.items.length}${list.more ? "+" : ""}, newest first)</span></h3>
      <button onClick=${list.reload} disabled=${list.loading}>Refresh</button>
    </div>
    ${!list.items.length && !list.loading ? html`<div class="empty">No passages yet.</div>` : null}
    <ul class="passages">
      ${list.items.map(
        (p) => html`<li key=${p.id} class="passage card" data-passage-id=${p.id}>
          <div class="passage-head">
            <${Tags} tags=${p.tags} />
            <span class="muted small grow" title=${p.id}>${fmtDate(p.created_at)}</span>
            <${ConfirmButton} label="Delete" onConfirm=${() => remove(p.id)} />
          </div>
          <div class="passage-text">${p.text}</div>
        </li>`,
      )}
    </ul>
    ${list.loading ? html`<${Spinner} />` : null}
    ${list.more && !list.loading ? html`<div class="load-more"><button onClick=${list.loadMore}>Load more</button></div>` : null}
  </section>`;
}
