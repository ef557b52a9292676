// The agent chat: the transcript (history, then replies streamed token by token), the composer,
// and the live core memory panel beside it. All through the public API: the messages list,
// the streaming messages route (or a conversation's), cancel.
import { html, useState, useEffect, useRef, useCallback } from "../lib.js";
import { api, stream } from "../api.js";
import { notify, notifyError, Expandable, Spinner, ErrorBox, fmtNumber, fmtMs, fmtDate } from "../components.js";
import { MemoryPanel } from "./memory.js";
import {
  applyMessage,
  fromHistory,
  localItem,
  errorItem,
  editsMemory,
  returnedToolNames,
  pretty,
  argsLine,
} from "./transcript.js";

const PAGE = 50;

/**
 * Where the chat reads and writes: the agent's own thread, or one of its conversations. The
 * two lists page differently: an agent's page comes oldest first whatever `order` is, and
 * `before` walks back in time; a conversation's comes newest first for `desc` (each stored
 * message's parts in their own order), and `after` follows the listing back.
 */
function routes(agent, conversationId) {
  if (conversationId) {
    const base = `/v1/conversations/${conversationId}`;
    return {
      list: `${base}/messages`,
      olderThan: (id) => ({ after: id }),
      oldestFirst: reverseRows,
      send: `${base}/messages`,
      cancel: () => api.post(`${base}/cancel`),
    };
  }
  const base = `/v1/agents/${agent.id}`;
  return {
    list: `${base}/messages`,
    olderThan: (id) => ({ before: id }),
    oldestFirst: (list) => list,
    send: `${base}/messages/stream`,
    cancel: (runId) => api.post(`${base}/messages/cancel`, runId ? { run_ids: [runId] } : {}),
  };
}

/** A newest-first list oldest first, keeping the parts of one stored message (same id) in order. */
function reverseRows(list) {
  const rows = [];
  for (const m of list) {
    const last = rows[rows.length - 1];
    if (last && last[0].id === m.id) last.push(m);
    else rows.push([m]);
  }
  return rows.reverse().flat();
}

export function Chat({ agent, conversationId }) {
  const r = routes(agent, conversationId);
  const [items, itemsRef, setItems] = useItems();
  const [memoryKey, setMemoryKey] = useState(0);
  const [showSystem, setShowSystem] = useState(false);
  const scroller = useRef(null);
  const stick = useRef(true); // follow the conversation's end unless the reader scrolled up
  const history = useHistory(r, setItems, stick);
  const onMemoryChange = useCallback(() => setMemoryKey((k) => k + 1), []);
  const turn = useTurn(r, itemsRef, setItems, onMemoryChange, stick);

  useEffect(() => {
    const el = scroller.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  }, [items]);
  const onScroll = () => {
    const el = scroller.current;
    stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
  };

  const decide = (item, approve) =>
    turn.send([{ type: "approval", approvals: [{ type: "approval", tool_call_id: item.callId, approve }] }], null);
  // Only the latest approval request can still be answered.
  const lastApproval = items.findLastIndex((it) => it.kind === "approval" && !it.ret);
  const empty = history.loaded && !history.error && !items.some((it) => it.kind !== "system");

  return html`<div class="chat">
    <section class="chat-main" aria-label="Conversation">
      <div class="chat-tools row small muted">
        ${history.more &&
        html`<button class="link" disabled=${history.loading} onClick=${history.loadOlder}>Load older</button>`}
        <span class="grow"></span>
        <label class="inline"><input type="checkbox" checked=${showSystem}
          onChange=${(e) => setShowSystem(e.currentTarget.checked)} /> show system</label>
      </div>
      <div class="transcript" ref=${scroller} onScroll=${onScroll} aria-live="polite">
        ${!history.loaded && html`<${Spinner} label="Loading messages" />`}
        <${ErrorBox} error=${history.error} />
        ${empty && html`<div class="empty">No messages yet. Say hello to ${agent.name}.</div>`}
        ${items.map(
          (it, i) => html`<${Item} key=${it.key} item=${it} showSystem=${showSystem}
            pending=${!turn.busy && i === lastApproval} onDecide=${decide} />`,
        )}
        ${turn.busy && html`<div class="typing muted small" aria-label="Agent is working">${agent.name} is working…</div>`}
      </div>
      <${Composer} busy=${turn.busy || !history.loaded} onSend=${(text) => turn.send([{ role: "user", content: text }], text)}
        onStop=${turn.busy ? turn.stop : null} />
    </section>
    <${MemoryPanel} agent=${agent} refreshKey=${memoryKey} />
  </div>`;
}

/** The transcript's items, in state and in a ref too, so stream callbacks fold into the latest. */
function useItems() {
  const [items, setState] = useState([]);
  const ref = useRef([]);
  const setItems = useCallback((next) => {
    ref.current = typeof next === "function" ? next(ref.current) : next;
    setState(ref.current);
  }, []);
  return [items, ref, setItems];
}

/**
 * The history: the newest page on mount, older ones on demand. The agent's system message is
 * its history's first: once it is shown there is nothing older (else an empty page says so).
 */
function useHistory(r, setItems, stick) {
  const [h, setH] = useState({ loaded: false, loading: true, error: null, cursor: null, more: false });
  const load = useCallback(
    async (cursor) => {
      setH((s) => ({ ...s, loading: true }));
      try {
        const page = await api.get(r.list, { limit: PAGE, order: "desc", ...(cursor ? r.olderThan(cursor) : {}) });
        const list = r.oldestFirst(Array.isArray(page) ? page : page?.data || []);
        const older = fromHistory(list);
        if (cursor) stick.current = false;
        setItems((cur) => (cursor ? [...older, ...cur] : older));
        const oldest = list[0];
        setH({ loaded: true, loading: false, error: null, cursor: oldest?.id, more: !!oldest && oldest.message_type !== "system_message" });
      } catch (error) {
        setH((s) => ({ ...s, loaded: true, loading: false, error }));
        notifyError(error);
      }
    },
    [r.list],
  );
  useEffect(() => {
    load();
  }, [load]);
  return { ...h, loadOlder: () => load(h.cursor) };
}

/**
 * One turn at a time: `send(messages, echo)` shows `echo` as the user's bubble, streams the
 * reply into the transcript and ends with the run's summary; `stop()` cancels the run.
 */
function useTurn(r, itemsRef, setItems, onMemoryChange, stick) {
  const [busy, setBusy] = useState(false);
  const abortRef = useRef(null);
  const runRef = useRef(null);
  useEffect(() => () => abortRef.current?.abort(), []);

  const send = async (messages, echo) => {
    const ctrl = new AbortController();
    abortRef.current = ctrl;
    runRef.current = null;
    stick.current = true;
    setBusy(true);
    if (echo) setItems((cur) => [...cur, localItem("user", { text: echo, date: new Date().toISOString() })]);
    const started = performance.now();
    const run = { stop: null, usage: null };
    const onEvent = (m) => {
      if (m.run_id && !runRef.current) runRef.current = m.run_id; // the first ping carries it
      if (m.message_type === "stop_reason") run.stop = m.stop_reason;
      if (m.message_type === "usage_statistics") run.usage = m;
      const before = itemsRef.current;
      setItems(applyMessage(before, m, "append"));
      if (returnedToolNames(before, m).some(editsMemory)) onMemoryChange();
    };
    try {
      await stream(r.send, { messages, stream_tokens: true, include_pings: true }, onEvent, ctrl.signal);
    } catch (err) {
      if (err?.name === "AbortError") run.stop = run.stop || "cancelled";
      else {
        setItems((cur) => [...cur, errorItem(err?.detail || err?.message || String(err))]);
        notifyError(err);
      }
    } finally {
      abortRef.current = null;
      const ms = performance.now() - started;
      setItems((cur) => [...cur, localItem("run", { stop: run.stop, usage: run.usage, ms })]);
      onMemoryChange();
      setBusy(false);
    }
  };

  const stop = async () => {
    try {
      await r.cancel(runRef.current);
    } catch (err) {
      // The run may have ended between the click and the request: nothing left to cancel.
      if (err?.status === 409) notify("The run had already ended.");
      else notifyError(err);
    }
    abortRef.current?.abort();
  };

  return { busy, send, stop };
}

function Composer({ busy, onSend, onStop }) {
  const [text, setText] = useState("");
  const input = useRef(null);
  useEffect(() => {
    if (!busy) input.current?.focus();
  }, [busy]);
  const submit = () => {
    const t = text.trim();
    if (!t || busy) return;
    setText("");
    onSend(t);
  };
  const onKey = (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      submit();
    }
  };
  return html`<div class="composer">
    <textarea ref=${input} rows="2" aria-label="Message" placeholder="Message (Enter sends, Shift+Enter: new line)"
      value=${text} disabled=${busy} onInput=${(e) => setText(e.currentTarget.value)} onKeyDown=${onKey}></textarea>
    ${onStop
      ? html`<button class="danger" onClick=${onStop}>Stop</button>`
      : html`<button class="primary" disabled=${!text.trim()} onClick=${submit}>Send</button>`}
  </div>`;
}

function Item({ item, showSystem, pending, onDecide }) {
  switch (item.kind) {
    case "user":
      return html`<div class="bubble user" data-kind="user" title=${fmtDate(item.date)}><${RichText} text=${item.text} /></div>`;
    case "assistant":
      return html`<div class="bubble assistant" data-kind="assistant" title=${fmtDate(item.date)}><${RichText} text=${item.text} /></div>`;
    case "reasoning":
      return html`<${Expandable} className="reasoning" summary="Reasoning"><div class="reasoning-text">${item.text}</div><//>`;
    case "hidden":
      return html`<div class="reasoning muted small">Reasoning hidden by the provider</div>`;
    case "tool":
      return html`<${ToolLine} item=${item} />`;
    case "approval":
      return html`<${Approval} item=${item} pending=${pending} onDecide=${onDecide} />`;
    case "system":
      return showSystem ? html`<${Expandable} className="system-msg" summary="System message"><pre class="json">${item.text}</pre><//>` : null;
    case "summary":
      return html`<div class="divider muted small" title=${item.text}>${item.text ? "Conversation compacted: " + item.text : "Conversation compacted"}</div>`;
    case "error":
      return html`<div class="bubble error" role="alert" data-kind="error">${item.text}</div>`;
    case "run":
      return html`<${RunSummary} item=${item} />`;
    default:
      return null;
  }
}

function ToolLine({ item }) {
  const status = item.ret ? (item.ret.status === "error" ? "error" : "ok") : "running";
  const summary = html`<span class="tool-summary"><span class="gear">⚙</span> <b>${item.name || "tool"}</b>(<span class="args">${argsLine(item.args)}</span>)
    <span class="status ${status}">${status}</span></span>`;
  return html`<${Expandable} className="tool-line" summary=${summary}>
    <div class="small muted">Arguments</div>
    <pre class="json">${pretty(item.args) || "{}"}</pre>
    ${item.ret &&
    html`<div class="small muted">Returned (${item.ret.status || "ok"})</div>
      <pre class="json tool-return ${status}">${pretty(item.ret.value)}</pre>
      ${item.ret.stdout?.length ? html`<div class="small muted">stdout</div><pre class="json">${[].concat(item.ret.stdout).join("")}</pre>` : null}
      ${item.ret.stderr?.length ? html`<div class="small muted">stderr</div><pre class="json">${[].concat(item.ret.stderr).join("")}</pre>` : null}`}
  <//>`;
}

function Approval({ item, pending, onDecide }) {
  return html`<div class="approval card" data-kind="approval">
    <div><b>Approval requested:</b> <code>${item.name}(${argsLine(item.args)})</code></div>
    ${item.decision
      ? html`<div class="small muted">${item.decision}</div>`
      : pending &&
        html`<div class="row">
          <button class="primary" onClick=${() => onDecide(item, true)}>Approve</button>
          <button onClick=${() => onDecide(item, false)}>Deny</button>
        </div>`}
  </div>`;
}

function RunSummary({ item }) {
  const u = item.usage;
  const parts = [];
  if (item.stop && item.stop !== "end_turn") parts.push(html`<span class="stop-reason">stopped: ${item.stop}</span>`);
  if (u) {
    parts.push(`${fmtNumber(u.step_count)} step${u.step_count === 1 ? "" : "s"}`);
    parts.push(`${fmtNumber(u.total_tokens)} tokens (${fmtNumber(u.prompt_tokens)} in, ${fmtNumber(u.completion_tokens)} out)`);
  }
  parts.push(fmtMs(item.ms));
  return html`<div class="run-summary muted small" data-stop=${item.stop || ""}>
    ${parts.map((p, i) => html`${i ? " · " : ""}${p}`)}
  </div>`;
}

/** Text with newlines kept, ``` fences as code blocks, `code` and **bold**: built as nodes,
 * never as HTML, so a message cannot inject markup. */
function RichText({ text }) {
  const blocks = String(text ?? "").split(/```/);
  return html`<div class="rich">${blocks.map((b, i) =>
    i % 2 ? html`<pre class="code">${b.replace(/^[\w-]*\n/, "")}</pre>` : inline(b),
  )}</div>`;
}

function inline(text) {
  return text.split(/(`[^`\n]+`|\*\*[^*\n]+\*\*)/).map((s) => {
    if (s.startsWith("`") && s.endsWith("`") && s.length > 2) return html`<code>${s.slice(1, -1)}</code>`;
    if (s.startsWith("**") && s.endsWith("**") && s.length > 4) return html`<b>${s.slice(2, -2)}</b>`;
    return s;
  });
}
