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
  const [items, setItemsState] = useState([]);
  const itemsRef = useRef([]);
  const [history, setHistory] = useState({ loading: true, error: null, cursor: null, more: false });
  const [busy, setBusy] = useState(false);
  const [memoryKey, setMemoryKey] = useState(0);
  const [showSystem, setShowSystem] = useState(false);
  const abortRef = useRef(null);
  const runRef = useRef(null);
  const scroller = useRef(null);
  const stick = useRef(true);

  // The transcript lives in a ref too, so stream callbacks fold into the latest one.
  const setItems = useCallback((next) => {
    itemsRef.current = typeof next === "function" ? next(itemsRef.current) : next;
    setItemsState(itemsRef.current);
  }, []);

  // `cursor`: the oldest message shown. The agent's system message is its history's first:
  // once it is shown there is nothing older (otherwise an empty page says so).
  const loadPage = useCallback(
    async (cursor) => {
      setHistory((h) => ({ ...h, loading: true }));
      try {
        const page = await api.get(r.list, { limit: PAGE, order: "desc", ...(cursor ? r.olderThan(cursor) : {}) });
        const list = r.oldestFirst(Array.isArray(page) ? page : page?.data || []);
        const older = fromHistory(list);
        if (cursor) stick.current = false;
        setItems((cur) => (cursor ? [...older, ...cur] : older));
        const oldest = list[0];
        setHistory({ loading: false, error: null, cursor: oldest?.id, more: !!oldest && oldest.message_type !== "system_message" });
      } catch (error) {
        setHistory((h) => ({ ...h, loading: false, error }));
        notifyError(error);
      }
    },
    [r.list],
  );

  useEffect(() => {
    loadPage();
    return () => abortRef.current?.abort();
  }, [loadPage]);

  // Follow the conversation's end unless the reader scrolled up.
  useEffect(() => {
    const el = scroller.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  }, [items]);
  const onScroll = () => {
    const el = scroller.current;
    stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
  };

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
      if (m.message_type === "ping") runRef.current = m.run_id || runRef.current;
      else if (m.message_type === "stop_reason") run.stop = m.stop_reason;
      else if (m.message_type === "usage_statistics") run.usage = m;
      runRef.current = runRef.current || m.run_id || null;
      const before = itemsRef.current;
      setItems(applyMessage(before, m, "append"));
      if (returnedToolNames(before, m).some(editsMemory)) setMemoryKey((k) => k + 1);
    };
    const body = { messages, stream_tokens: true, include_pings: true };
    try {
      await stream(r.send, body, onEvent, ctrl.signal);
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
      setMemoryKey((k) => k + 1);
      setBusy(false);
    }
  };

  const stop = async () => {
    const runId = runRef.current;
    try {
      await r.cancel(runId);
    } catch (err) {
      // The run may have ended between the click and the request: nothing left to cancel.
      if (err?.status === 409) notify("The run had already ended.");
      else notifyError(err);
    }
    abortRef.current?.abort();
  };

  const decide = (item, approve) =>
    send([{ type: "approval", approvals: [{ type: "approval", tool_call_id: item.callId, approve }] }], null);

  // Only the latest approval request can still be answered.
  const lastApproval = items.findLastIndex((it) => it.kind === "approval" && !it.ret);

  return html`<div class="chat">
    <section class="chat-main" aria-label="Conversation">
      <div class="chat-tools row small muted">
        ${history.more &&
        html`<button class="link" disabled=${history.loading} onClick=${() => loadPage(history.cursor)}>Load older</button>`}
        <span class="grow"></span>
        <label class="inline"><input type="checkbox" checked=${showSystem}
          onChange=${(e) => setShowSystem(e.currentTarget.checked)} /> show system</label>
      </div>
      <div class="transcript" ref=${scroller} onScroll=${onScroll} aria-live="polite">
        ${history.loading && !items.length && html`<${Spinner} label="Loading messages" />`}
        <${ErrorBox} error=${history.error} />
        ${!history.loading && !items.some((it) => it.kind !== "system") && !history.error &&
        html`<div class="empty">No messages yet. Say hello to ${agent.name}.</div>`}
        ${items.map(
          (it, i) => html`<${Item} key=${it.key} item=${it} showSystem=${showSystem}
            pending=${!busy && i === lastApproval} onDecide=${decide} />`,
        )}
        ${busy && html`<div class="typing muted small" aria-label="Agent is working">${agent.name} is working…</div>`}
      </div>
      <${Composer} busy=${busy} onSend=${(text) => send([{ role: "user", content: text }], text)} onStop=${stop} />
    </section>
    <${MemoryPanel} agent=${agent} refreshKey=${memoryKey} />
  </div>`;
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
    ${busy
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
