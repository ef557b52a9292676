// The context window: what the agent's next model call holds (GET /v1/agents/{id}/context),
// section by section in tokens against the model's window, and each section's text.
import { html, useState } from "../lib.js";
import { api } from "../api.js";
import { useAsync, Loaded, Expandable, JsonView, fmtNumber } from "../components.js";
import { StackedBar, PALETTE } from "../charts.js";

/** The bar's parts: the sections Letta counts; the optional ones only when they hold tokens. */
export function contextParts(c) {
  const parts = [
    ["System prompt", c.num_tokens_system, PALETTE[0]],
    ["Core memory", c.num_tokens_core_memory, PALETTE[1]],
    ["Tool rules", c.num_tokens_tool_usage_rules, PALETTE[5], true],
    ["Directories", c.num_tokens_directories, PALETTE[6], true],
    ["Memory filesystem", c.num_tokens_memory_filesystem, PALETTE[6], true],
    ["Tool definitions", c.num_tokens_functions_definitions, PALETTE[2]],
    ["External memory summary", c.num_tokens_external_memory_summary, PALETTE[3]],
    ["Summary memory", c.num_tokens_summary_memory, PALETTE[5]],
    ["Messages", c.num_tokens_messages, PALETTE[4]],
  ];
  return parts
    .filter(([, value, , optional]) => !optional || value > 0)
    .map(([label, value, color]) => ({ label, value: value || 0, color }));
}

export function ContextView({ agent }) {
  const state = useAsync(() => api.get(`/v1/agents/${agent.id}/context`), [agent.id]);
  return html`<div class="context-view">
    <div class="row">
      <h2 class="grow">Context window</h2>
      <button onClick=${state.reload} disabled=${state.loading}>Refresh</button>
    </div>
    <${Loaded} state=${state}>${(c) => html`<${Overview} c=${c} />`}<//>
  </div>`;
}

function Overview({ c }) {
  const used = c.context_window_size_current;
  const max = c.context_window_size_max;
  // A large window makes the used part a sliver: the bar can also span the used part alone.
  const [zoom, setZoom] = useState(false);
  return html`<div class="card context-card">
      <div class="row context-total">
        <span class="grow"><b>${fmtNumber(used)}</b> of <b>${fmtNumber(max)}</b> tokens${" "}
          <span class="muted">(${max ? ((100 * used) / max).toFixed(1) : "–"}%)</span></span>
        <span class="segmented small" role="group" aria-label="Bar spans">
          <button class=${zoom ? "" : "active"} aria-pressed=${!zoom} onClick=${() => setZoom(false)}>Whole window</button>
          <button class=${zoom ? "active" : ""} aria-pressed=${zoom} onClick=${() => setZoom(true)}>Used part</button>
        </span>
      </div>
      <${StackedBar} parts=${contextParts(c)} total=${zoom ? used : max} unit="tokens" label="Context window usage" />
    </div>
    <dl class="context-counts">
      <div><dt>Messages in context</dt><dd data-count="messages">${fmtNumber(c.num_messages)}</dd></div>
      <div><dt>Recall memory (all messages)</dt><dd data-count="recall">${fmtNumber(c.num_recall_memory)}</dd></div>
      <div><dt>Archival memory (passages)</dt><dd data-count="archival">${fmtNumber(c.num_archival_memory)}</dd></div>
    </dl>
    <div class="context-sections">
      <${Section} title="System prompt" tokens=${c.num_tokens_system} text=${c.system_prompt} />
      <${Section} title="Core memory" tokens=${c.num_tokens_core_memory} text=${c.core_memory} />
      ${c.tool_usage_rules && html`<${Section} title="Tool rules" tokens=${c.num_tokens_tool_usage_rules} text=${c.tool_usage_rules} />`}
      ${c.directories && html`<${Section} title="Directories" tokens=${c.num_tokens_directories} text=${c.directories} />`}
      ${c.memory_filesystem &&
      html`<${Section} title="Memory filesystem" tokens=${c.num_tokens_memory_filesystem} text=${c.memory_filesystem} />`}
      <${Functions} tokens=${c.num_tokens_functions_definitions} list=${c.functions_definitions || []} />
      <${Section} title="External memory summary" tokens=${c.num_tokens_external_memory_summary} text=${c.external_memory_summary} />
      ${c.summary_memory && html`<${Section} title="Summary memory" tokens=${c.num_tokens_summary_memory} text=${c.summary_memory} />`}
      <${Expandable} summary=${html`Messages <span class="muted">${fmtNumber(c.num_messages)} · ${fmtNumber(c.num_tokens_messages)} tokens</span>`}>
        <${JsonView} value=${c.messages || []} />
      <//>
    </div>`;
}

function Section({ title, tokens, text }) {
  return html`<${Expandable} summary=${html`${title} <span class="muted">${fmtNumber(tokens)} tokens</span>`}>
    <pre class="json context-text">${text || ""}</pre>
  <//>`;
}

function Functions({ tokens, list }) {
  const summary = html`Tool definitions <span class="muted">${fmtNumber(list.length)} tools · ${fmtNumber(tokens)} tokens</span>`;
  return html`<${Expandable} summary=${summary}>
    ${list.map((f) => {
      const fn = f.function || f;
      return html`<${Expandable} key=${fn.name} summary=${html`<code>${fn.name}</code> <span class="muted">${fn.description ? fn.description.split("\n")[0] : ""}</span>`}>
        <${JsonView} value=${fn} />
      <//>`;
    })}
  <//>`;
}
