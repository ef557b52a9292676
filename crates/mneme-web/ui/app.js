// The shell: a sidebar, the notice area, and a hash router (`#/agents/<id>/chat`) that picks
// the view. Hash routes need nothing from the server: every page is index.html.
import { html, render, useState, useEffect } from "./lib.js";
import { Notices } from "./components.js";
import { AgentList } from "./views/agents.js";
import { CreateAgent } from "./views/create_agent.js";
import { AgentPage } from "./views/agent.js";
import { Tools } from "./views/tools.js";
import { McpServers } from "./views/mcp.js";
import { Folders } from "./views/folders.js";
import { Groups } from "./views/groups.js";
import { Settings } from "./views/settings.js";

/** The current route: the hash's path split into segments (`#/agents/x` → ["agents", "x"]). */
function useRoute() {
  const read = () => location.hash.replace(/^#\/?/, "").split("?")[0].split("/").filter(Boolean).map(decodeURIComponent);
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const onChange = () => setRoute(read());
    addEventListener("hashchange", onChange);
    return () => removeEventListener("hashchange", onChange);
  }, []);
  return route;
}

/** Goes to `path` (`/agents/<id>`), as a link would. */
export function navigate(path) {
  location.hash = "#" + path;
}

function page(route) {
  const [section, id, tab] = route;
  switch (section) {
    case undefined:
    case "agents":
      if (id === "new") return html`<${CreateAgent} />`;
      if (id) return html`<${AgentPage} agentId=${id} tab=${tab || "chat"} key=${id} />`;
      return html`<${AgentList} />`;
    case "tools":
      return html`<${Tools} toolId=${id} />`;
    case "mcp":
      return html`<${McpServers} serverId=${id} />`;
    case "folders":
      return html`<${Folders} folderId=${id} />`;
    case "groups":
      return html`<${Groups} groupId=${id} />`;
    case "settings":
      return html`<${Settings} />`;
    default:
      return html`<div class="empty">No page at #/${route.join("/")}. <a href="#/">Agents</a></div>`;
  }
}

const NAV = [
  ["agents", "Agents"],
  ["tools", "Tools"],
  ["mcp", "MCP servers"],
  ["folders", "Folders"],
  ["groups", "Groups"],
  ["settings", "Settings"],
];

function App() {
  const route = useRoute();
  const section = route[0] || "agents";
  return html`<div class="shell">
    <aside class="sidebar">
      <a class="brand" href="#/">mneme</a>
      <nav>
        ${NAV.map(
          ([key, label]) => html`<a key=${key} href=${"#/" + key} class=${section === key ? "active" : ""}>${label}</a>`,
        )}
      </nav>
      <div class="sidebar-foot"><a href="/docs" target="_blank" rel="noopener">API docs</a></div>
    </aside>
    <main class="main">${page(route)}</main>
    <${Notices} />
  </div>`;
}

render(html`<${App} />`, document.getElementById("app"));
