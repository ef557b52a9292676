// An agent's runs and steps: charts of latency and tokens per step, the runs (status, stop
// reason, duration, steps, tokens), and one run's steps with their messages and traces.
import { html, useState, useRef } from "../lib.js";
import { api } from "../api.js";
import { SeriesChart, PALETTE } from "../charts.js";
import {
  useAsync,
  useInterval,
  notifyError,
  Loaded,
  Empty,
  JsonView,
  fmtDate,
  fmtMs,
  fmtNumber,
} from "../components.js";
import { MessageList } from "./message_line.js";

const RUNS = 50; // runs listed
const STEPS = 100; // steps charted (the newest)
const TERMINAL = new Set(["completed", "failed", "cancelled"]);

export function Runs({ agent }) {
  const metrics = useRef(new Map()); // step id → StepMetrics (or null): fetched once per step
  const state = useAsync(() => loadOverview(agent.id, metrics.current), [agent.id]);
  const [openRun, setOpenRun] = useState(null);
  const running = state.data?.runs.some((r) => !TERMINAL.has(r.status));
  useInterval(state.reload, running ? 5000 : 0);
  return html`<div class="panel runs">
    <div class="row section-head">
      <h2 class="grow">Runs and steps</h2>
      ${running ? html`<span class="muted small">a run is active: refreshing every 5 s</span>` : null}
      <button onClick=${state.reload} disabled=${state.loading}>Refresh</button>
    </div>
    <${Loaded} state=${state}>
      ${(data) => html`
        <${StepCharts} data=${data} metrics=${metrics.current} />
        <${RunTable} data=${data} openId=${openRun?.id} onOpen=${(r) => setOpenRun(openRun?.id === r.id ? null : r)} />
        ${openRun ? html`<${RunDetail} key=${openRun.id} run=${data.runs.find((r) => r.id === openRun.id) || openRun}
          metrics=${metrics.current} onClose=${() => setOpenRun(null)} />` : null}
      `}
    <//>
  </div>`;
}

/** The newest runs and steps of the agent (steps oldest first), with the steps' metrics. */
async function loadOverview(agentId, cache) {
  const [runs, steps] = await Promise.all([
    api.get("/v1/runs/", { agent_id: agentId, limit: RUNS, order: "desc" }),
    api.get("/v1/steps/", { agent_id: agentId, limit: STEPS, order: "desc" }),
  ]);
  steps.reverse();
  await fillMetrics(steps, cache);
  return { runs, steps };
}

/**
 * Fetches the metrics of the steps not yet asked about. A finished step's timings never
 * change, so each is fetched once; a server without the route gets one error shown.
 */
async function fillMetrics(steps, cache) {
  const missing = steps.filter((s) => !cache.has(s.id));
  let failed = null;
  await Promise.all(
    missing.map(async (s) => {
      try {
        const m = await api.get(`/v1/steps/${s.id}/metrics`);
        if (s.status !== "pending") cache.set(s.id, m);
      } catch (err) {
        cache.set(s.id, null);
        failed = failed || err;
      }
    }),
  );
  if (failed) notifyError(failed);
}

/** Steps and tokens per run, from the charted steps. */
function perRun(steps) {
  const by = new Map();
  for (const s of steps) {
    const e = by.get(s.run_id) || { steps: 0, tokens: 0 };
    e.steps += 1;
    e.tokens += s.total_tokens ?? (s.prompt_tokens || 0) + (s.completion_tokens || 0);
    by.set(s.run_id, e);
  }
  return by;
}

/**
 * A step's latency in ms and where it comes from: its own metrics (`step_ns`, else the model
 * call's `llm_request_ns` plus `tool_execution_ns`), else the whole run's duration when the
 * run had this one step, else unknown.
 */
function stepLatency(metric, run, stepsInRun) {
  if (metric?.step_ns) return { ms: metric.step_ns / 1e6, from: "step" };
  if (metric?.llm_request_ns) {
    return { ms: (metric.llm_request_ns + (metric.tool_execution_ns || 0)) / 1e6, from: "step" };
  }
  const ms = stepsInRun === 1 ? runDurationMs(run) : null;
  return ms === null ? { ms: null, from: "none" } : { ms, from: "run" };
}

function runDurationMs(run) {
  if (!run) return null;
  if (run.total_duration_ns) return run.total_duration_ns / 1e6;
  if (run.created_at && run.completed_at) return new Date(run.completed_at) - new Date(run.created_at);
  return null;
}

function StepCharts({ data, metrics }) {
  const { steps, runs } = data;
  if (!steps.length) return html`<${Empty}>No steps yet: send the agent a message.<//>`;
  const runsById = new Map(runs.map((r) => [r.id, r]));
  const counts = perRun(steps);
  const sources = { step: 0, run: 0, none: 0 };
  const latency = steps.map((s, i) => {
    const metric = metrics.get(s.id);
    const l = stepLatency(metric, runsById.get(s.run_id), counts.get(s.run_id)?.steps);
    sources[l.from] += 1;
    const parts = timingParts(metric);
    const how = l.from === "run" ? " (the run's duration)" : l.from === "none" ? " (no timing)" : parts ? ` (${parts})` : "";
    return { t: i, y: l.ms || 0, title: `step ${i + 1}, ${s.model || ""}${how}:` };
  });
  const tokens = steps.map((s, i) => ({
    t: i,
    y: (s.prompt_tokens || 0) + (s.completion_tokens || 0) || s.total_tokens || 0,
    title: `step ${i + 1}: ${fmtNumber(s.prompt_tokens)} prompt + ${fmtNumber(s.completion_tokens)} completion =`,
  }));
  return html`<div class="chart-pair">
    <div data-chart="latency">
      <${SeriesChart} points=${latency} label="Latency per step" unit="ms" color=${PALETTE[1]} />
      <div class="muted small">${timingNote(sources)}</div>
    </div>
    <div data-chart="tokens">
      <${SeriesChart} points=${tokens} label="Tokens per step (prompt + completion)" unit="tokens" />
      <div class="muted small">The newest ${steps.length} step${steps.length === 1 ? "" : "s"}, oldest first.</div>
    </div>
  </div>`;
}

/** Where a step's time went, from its metrics ("model 151 ms, tools 253 ms"), or null. */
function timingParts(metric) {
  const parts = [];
  if (metric?.llm_request_ns != null) parts.push(`model ${fmtMs(metric.llm_request_ns / 1e6)}`);
  if (metric?.tool_execution_ns != null) parts.push(`tools ${fmtMs(metric.tool_execution_ns / 1e6)}`);
  return parts.length ? parts.join(", ") : null;
}

function timingNote({ step, run, none }) {
  const parts = [];
  if (step) parts.push(`${step} from the step's metrics`);
  if (run) parts.push(`${run} from the duration of a one-step run`);
  if (none) parts.push(`${none} without timing`);
  return "Timings: " + parts.join(", ") + ".";
}

function StatusBadge({ status }) {
  return html`<span class="status status-${status}">${status || "–"}</span>`;
}

function RunTable({ data, openId, onOpen }) {
  const { runs, steps } = data;
  if (!runs.length) return html`<${Empty}>No runs yet.<//>`;
  const counts = perRun(steps);
  return html`<table class="list runs-table" aria-label="Runs">
    <thead><tr><th>Run</th><th>Status</th><th>Stop reason</th><th>Created</th><th>Duration</th><th>Steps</th><th>Tokens</th></tr></thead>
    <tbody>
      ${runs.map((r) => {
        const c = counts.get(r.id);
        return html`<tr key=${r.id} data-run-id=${r.id} class=${"clickable" + (openId === r.id ? " selected" : "")}
          onClick=${() => onOpen(r)}>
          <td><button class="link mono" aria-expanded=${openId === r.id} title="Show this run's steps">${r.id}</button></td>
          <td><${StatusBadge} status=${r.status} /></td>
          <td>${r.stop_reason || "–"}</td>
          <td>${fmtDate(r.created_at)}</td>
          <td>${fmtMs(runDurationMs(r))}</td>
          <td class="num">${c ? c.steps : "–"}</td>
          <td class="num">${c ? fmtNumber(c.tokens) : "–"}</td>
        </tr>`;
      })}
    </tbody>
  </table>`;
}

async function loadRun(runId) {
  const [steps, messages] = await Promise.all([
    api.get(`/v1/runs/${runId}/steps`, { order: "asc", limit: 1000 }),
    api.get(`/v1/runs/${runId}/messages`, { order: "asc", limit: 1000 }),
  ]);
  return { steps, messages };
}

function RunDetail({ run, metrics, onClose }) {
  // Reloaded when the overview's refresh shows the run changed.
  const state = useAsync(() => loadRun(run.id), [run.id, run.status, run.completed_at]);
  return html`<section class="card run-detail" aria-label=${"Run " + run.id}>
    <div class="row section-head">
      <h3 class="grow">Run <code>${run.id}</code> <${StatusBadge} status=${run.status} /></h3>
      <button class="link" aria-label="Close run" onClick=${onClose}>×</button>
    </div>
    <div class="muted small">
      stop reason ${run.stop_reason || "–"} · started ${fmtDate(run.created_at)} · duration ${fmtMs(runDurationMs(run))}
      ${run.ttft_ns ? ` · first token after ${fmtMs(run.ttft_ns / 1e6)}` : ""}
    </div>
    <${Loaded} state=${state}>
      ${({ steps, messages }) => html`
        <${Unstepped} messages=${messages.filter((m) => !m.step_id)} />
        <h4>Steps (${steps.length})</h4>
        ${steps.length ? null : html`<div class="muted small">No steps.</div>`}
        <ol class="steps">
          ${steps.map(
            (s, i) => html`<${StepItem} key=${s.id} step=${s} index=${i} run=${run} stepsInRun=${steps.length}
              metrics=${metrics} messages=${messages.filter((m) => m.step_id === s.id)} />`,
          )}
        </ol>
      `}
    <//>
  </section>`;
}

/** The run's messages no step claims (a server may not stamp its input with a step). */
function Unstepped({ messages }) {
  if (!messages.length) return null;
  return html`<h4>Messages outside any step</h4><${MessageList} messages=${messages} />`;
}

function StepItem({ step: s, index, run, stepsInRun, metrics, messages }) {
  const metric = metrics.get(s.id);
  const lat = stepLatency(metric, run, stepsInRun);
  const parts = lat.from === "step" ? timingParts(metric) : null;
  return html`<li class="step" data-step-id=${s.id}>
    <div class="step-head">
      <b>Step ${index + 1}</b>
      <span>${s.model_handle || s.model || "–"}</span>
      <span class="status status-${s.status}">${s.status}</span>
      <span>stop: ${s.stop_reason || "–"}</span>
      <span title="prompt + completion">${fmtNumber(s.prompt_tokens)} + ${fmtNumber(s.completion_tokens)} = ${fmtNumber(s.total_tokens)} tokens</span>
      <span class="step-latency" title=${lat.from === "run" ? "the run's duration (one step)" : ""}>${fmtMs(lat.ms)}${parts ? ` (${parts})` : ""}</span>
    </div>
    <details class="expandable step-messages">
      <summary>Messages (${messages.length})</summary>
      <div class="expandable-body"><${MessageList} messages=${messages} /></div>
    </details>
    <${StepTrace} stepId=${s.id} />
  </li>`;
}

/** The step's provider request and response, loaded when first opened. */
function StepTrace({ stepId }) {
  const [trace, setTrace] = useState(undefined); // undefined: not loaded; null: none
  const onToggle = async (e) => {
    if (!e.currentTarget.open || trace !== undefined) return;
    try {
      setTrace(await api.get(`/v1/steps/${stepId}/trace`));
    } catch (err) {
      if (err.status === 404) setTrace(null);
      else notifyError(err);
    }
  };
  return html`<details class="expandable step-trace" onToggle=${onToggle}>
    <summary>Trace</summary>
    <div class="expandable-body">
      ${trace === undefined
        ? html`<span class="muted small">Loading…</span>`
        : trace === null
          ? html`<span class="muted small">No trace for this step.</span>`
          : html`<div class="trace">
              <h4>Request</h4><${JsonView} value=${trace.request_json} />
              <h4>Response</h4><${JsonView} value=${trace.response_json} />
            </div>`}
    </div>
  </details>`;
}
