// One agent: its header and a tab per aspect (chat with live memory, context window, archival
// memory, runs and steps, conversations, settings).
import { html } from "../lib.js";
import { api } from "../api.js";
import { useAsync, Loaded, Tabs, Tags, modelOf } from "../components.js";
import { Chat } from "./chat.js";
import { ContextView } from "./context.js";
import { Archival } from "./archival.js";
import { Runs } from "./runs.js";
import { Conversations } from "./conversations.js";
import { AgentSettings } from "./agent_settings.js";

const TABS = [
  ["chat", "Chat"],
  ["context", "Context window"],
  ["archival", "Archival memory"],
  ["runs", "Runs"],
  ["conversations", "Conversations"],
  ["settings", "Settings"],
];

function tabBody(tab, agent, reload) {
  switch (tab) {
    case "context":
      return html`<${ContextView} agent=${agent} />`;
    case "archival":
      return html`<${Archival} agent=${agent} />`;
    case "runs":
      return html`<${Runs} agent=${agent} />`;
    case "conversations":
      return html`<${Conversations} agent=${agent} />`;
    case "settings":
      return html`<${AgentSettings} agent=${agent} onChange=${reload} />`;
    default:
      return html`<${Chat} agent=${agent} key=${agent.id} />`;
  }
}

export function AgentPage({ agentId, tab }) {
  const state = useAsync(() => api.get(`/v1/agents/${agentId}`), [agentId]);
  return html`<${Loaded} state=${state}>
    ${(agent) => html`<div class="agent-page" data-agent-id=${agent.id}>
      <header class="page-head">
        <div>
          <h1 class="agent-name">${agent.name}</h1>
          <div class="muted small">
            <code>${agent.id}</code> · ${modelOf(agent)} · ${agent.agent_type || ""}
            ${" "}<${Tags} tags=${agent.tags} />
          </div>
        </div>
      </header>
      <${Tabs} tabs=${TABS} current=${tab} href=${(key) => `#/agents/${agent.id}/${key}`} />
      <section class="tab-body">${tabBody(tab, agent, state.reload)}</section>
    </div>`}
  <//>`;
}
