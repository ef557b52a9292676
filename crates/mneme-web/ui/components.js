// Small building blocks shared by the views: data loading, errors, dialogs, formatting.
import { html, useState, useEffect, useCallback, useRef } from "./lib.js";

// -- notices (errors and confirmations) -------------------------------------------------------

let notices = [];
const listeners = new Set();
let nextNotice = 1;

function publish() {
  listeners.forEach((f) => f(notices));
}

/** Shows `text` in the notice area; `kind` is "error" or "ok". Errors stay until dismissed. */
export function notify(text, kind = "ok") {
  const id = nextNotice++;
  notices = [...notices, { id, text: String(text), kind }];
  publish();
  if (kind !== "error") setTimeout(() => dismiss(id), 4000);
}

/** Shows an error (an ApiError's detail, or any exception's message). */
export function notifyError(err) {
  if (err?.name === "AbortError") return;
  notify(err?.message || String(err), "error");
}

function dismiss(id) {
  notices = notices.filter((n) => n.id !== id);
  publish();
}

export function Notices() {
  const [list, setList] = useState(notices);
  useEffect(() => {
    listeners.add(setList);
    return () => listeners.delete(setList);
  }, []);
  return html`<div class="notices" role="status">
    ${list.map(
      (n) => html`<div class="notice ${n.kind}" key=${n.id} data-kind=${n.kind}>
        <span>${n.text}</span>
        <button class="link" aria-label="Dismiss" onClick=${() => dismiss(n.id)}>×</button>
      </div>`,
    )}
  </div>`;
}

// -- data loading ---------------------------------------------------------------------------

/**
 * Runs `load()` when `deps` change; returns { data, error, loading, reload, setData }.
 * An error is both returned (for inline display) and notified.
 */
export function useAsync(load, deps = []) {
  const [state, setState] = useState({ data: undefined, error: null, loading: true });
  const generation = useRef(0);
  const run = useCallback(async () => {
    const mine = ++generation.current;
    setState((s) => ({ ...s, loading: true }));
    try {
      const data = await load();
      if (mine === generation.current) setState({ data, error: null, loading: false });
    } catch (error) {
      if (mine === generation.current) setState((s) => ({ ...s, error, loading: false }));
      notifyError(error);
    }
  }, deps);
  useEffect(() => {
    run();
    return () => {
      generation.current++;
    };
  }, [run]);
  const setData = (data) => setState((s) => ({ ...s, data: typeof data === "function" ? data(s.data) : data }));
  return { ...state, reload: run, setData };
}

/** Calls `fn` every `ms` while mounted (never faster than 2 s). */
export function useInterval(fn, ms) {
  const saved = useRef(fn);
  saved.current = fn;
  useEffect(() => {
    if (!ms) return undefined;
    const id = setInterval(() => saved.current(), Math.max(ms, 2000));
    return () => clearInterval(id);
  }, [ms]);
}

// -- layout pieces --------------------------------------------------------------------------

export function Spinner({ label = "Loading" }) {
  return html`<div class="spinner" aria-busy="true">${label}…</div>`;
}

export function Empty({ children }) {
  return html`<div class="empty">${children}</div>`;
}

export function ErrorBox({ error }) {
  if (!error) return null;
  return html`<div class="error-box" role="alert">${error.message || String(error)}</div>`;
}

/** Shows the body once loaded: spinner first, the error if it failed. */
export function Loaded({ state, children }) {
  if (state.error && state.data === undefined) return html`<${ErrorBox} error=${state.error} />`;
  if (state.data === undefined) return html`<${Spinner} />`;
  return children(state.data);
}

export function Modal({ title, onClose, children, wide }) {
  useEffect(() => {
    const onKey = (e) => e.key === "Escape" && onClose();
    addEventListener("keydown", onKey);
    return () => removeEventListener("keydown", onKey);
  }, [onClose]);
  return html`<div class="modal-backdrop" onClick=${(e) => e.target === e.currentTarget && onClose()}>
    <div class="modal ${wide ? "wide" : ""}" role="dialog" aria-label=${title}>
      <header><h2>${title}</h2><button class="link" aria-label="Close" onClick=${onClose}>×</button></header>
      ${children}
    </div>
  </div>`;
}

/** A collapsible section; `open` sets its first state. */
export function Expandable({ summary, open = false, children, className = "" }) {
  return html`<details class="expandable ${className}" open=${open}>
    <summary>${summary}</summary>
    <div class="expandable-body">${children}</div>
  </details>`;
}

export function JsonView({ value }) {
  return html`<pre class="json">${typeof value === "string" ? value : JSON.stringify(value, null, 2)}</pre>`;
}

export function Tags({ tags, onClick }) {
  if (!tags?.length) return null;
  return html`<span class="tags">${tags.map(
    (t) => html`<span class="tag" key=${t} onClick=${onClick ? () => onClick(t) : undefined}>${t}</span>`,
  )}</span>`;
}

/** A button that asks for a second click before `onConfirm`. */
export function ConfirmButton({ label, confirm = "Click again to confirm", onConfirm, className = "danger" }) {
  const [armed, setArmed] = useState(false);
  useEffect(() => {
    if (!armed) return undefined;
    const id = setTimeout(() => setArmed(false), 4000);
    return () => clearTimeout(id);
  }, [armed]);
  return html`<button class=${className} onClick=${() => (armed ? (setArmed(false), onConfirm()) : setArmed(true))}>
    ${armed ? confirm : label}
  </button>`;
}

/** Tab links: `tabs` is [[key, label]], `href(key)` gives each link. */
export function Tabs({ tabs, current, href }) {
  return html`<nav class="tabs">
    ${tabs.map(
      ([key, label]) => html`<a key=${key} href=${href(key)} class=${key === current ? "active" : ""}
        aria-current=${key === current ? "page" : undefined}>${label}</a>`,
    )}
  </nav>`;
}

// -- formatting -----------------------------------------------------------------------------

const numberFormat = new Intl.NumberFormat("en-US");

export function fmtNumber(n) {
  return n === null || n === undefined ? "–" : numberFormat.format(n);
}

export function fmtDate(iso) {
  if (!iso) return "–";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

export function fmtMs(ms) {
  if (ms === null || ms === undefined) return "–";
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

/** A model handle's short form for lists (`openai/gpt-4o-mini`). */
export function modelOf(agent) {
  const c = agent?.llm_config;
  return agent?.model || (c ? `${c.model_endpoint_type || c.provider_name || ""}/${c.model}` : "–");
}

export function truncate(text, n = 120) {
  const s = String(text ?? "");
  return s.length > n ? s.slice(0, n - 1) + "…" : s;
}
